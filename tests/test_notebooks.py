"""Every notebook runs top to bottom on the demo database (as the README's first command does)."""

from __future__ import annotations

import json
import re
import warnings
from datetime import date
from pathlib import Path

import pytest

from crm.showcase import execute_notebooks

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_five_notebooks() -> None:
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_demo_database(notebook: Path, demo_url: str, demo_as_of: date, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        [html] = execute_notebooks(
            [notebook], tmp_path, env={"CRM_DATABASE_URL": demo_url, "CRM_AS_OF": demo_as_of.isoformat()}
        )
    # nbclient raises on any failing cell; what is left to check is what the reader sees
    text = html.read_text(encoding="utf-8")
    assert "<table" in text  # the figures came out as tables
    assert "missing from font" not in text  # no glyph warnings from a chart
    charts = notebook.read_text(encoding="utf-8").count("charts.plot_")
    pictures = re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]{2000,}", text)  # not the page's tiny logo
    assert len(pictures) >= charts  # every chart is embedded as a picture


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(notebook: Path) -> None:
    """Notebooks are sources: no outputs, no execution counts, ASCII file names (Chinese titles inside)."""
    book = json.loads(notebook.read_text(encoding="utf-8"))
    code = [cell for cell in book["cells"] if cell["cell_type"] == "code"]
    assert code, "a notebook without code computes nothing"
    assert all(cell.get("outputs", []) == [] and cell.get("execution_count") is None for cell in code)
    assert notebook.name.isascii()
