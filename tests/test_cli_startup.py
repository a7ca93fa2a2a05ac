"""Start-up: ``import crm`` and the ``crm`` command load a capability only when a command needs it.

The non-flaky form of "``crm --help`` starts in well under a second" (issue 19): a fresh
interpreter that builds the command line, prints help or the version must not have imported the
database layer, pandas or the file writers. No wall time is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "numpy", "sqlalchemy", "sqlmodel", "alembic", "matplotlib", "openpyxl", "docx", "rich", "jinja2")


def _loaded_after(code: str) -> dict[str, list[str]]:
    """Run `code` in a fresh interpreter; the heavy packages and the crm modules it imported."""
    probe = (
        "import contextlib, io, json, sys\n"
        f"{code}\n"
        "names = sorted(sys.modules)\n"
        f"heavy = sorted({{n.split('.')[0] for n in names}} & set({HEAVY!r}))\n"
        "crm_names = [n for n in names if n == 'crm' or n.startswith('crm.')]\n"
        "print(json.dumps({'heavy': heavy, 'crm': crm_names, 'rich': [n for n in names if n.startswith('rich.')]}))\n"
    )
    # no $COLUMNS: the output is a pipe, as `crm report ... > file` is, and its tables are not wrapped
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120, env=env
    )
    loaded: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def _cli(*argv: str) -> str:
    """Code that runs ``crm ARGV`` in-process, its output swallowed."""
    return (
        "from crm.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({list(argv)!r})\n"
    )


@pytest.mark.parametrize(
    "code",
    [
        "import crm",
        "import crm.cli",
        _cli("--help"),
        _cli("version"),
        _cli("deal", "--help"),
        _cli("deal", "sign", "--help"),
        _cli("report", "--help"),
        _cli("report", "kpis", "--help"),
        _cli("report", "weekly", "--help"),
        _cli("account", "add", "--help"),
        _cli("export", "--help"),
        _cli("import", "--help"),
        _cli("major", "--help"),
        _cli("trips", "--help"),
    ],
    ids=lambda code: code.splitlines()[-1].strip(),
)
def test_starting_up_loads_no_capability(code: str) -> None:
    loaded = _loaded_after(code)
    assert loaded["heavy"] == []
    # the library's capabilities stay unloaded: only the package, its cheap leaves and the CLI
    cheap = {"crm", "crm.errors", "crm.font", "crm.money", "crm.roles", "crm.revisions"}
    assert [m for m in loaded["crm"] if m not in cheap and not m.startswith("crm.cli")] == []


def test_help_keeps_each_example_on_its_line() -> None:
    """Click's plain help rewraps paragraphs; the examples' paragraphs are kept line by line."""
    from typer.testing import CliRunner

    from crm.cli import app

    shown = CliRunner().invoke(app, ["report", "kpis", "--help"], terminal_width=80).output
    assert "  Example: crm report kpis --by industry,signing_year --as-of 2026-06-30 --format csv\n" in shown
    assert "  Example: crm report kpis --min-amount 1亿 --as-of 2026-06-30 --format csv\n" in shown
    shown = CliRunner().invoke(app, ["deal", "--help"], terminal_width=80).output
    assert "--signed-on 2026-03-01 --amount 50000\n" in shown  # a group's example: one line, not cut at -on


def test_a_command_loads_what_it_needs() -> None:
    """The other side: a command that runs still gets its capability (here: the database layer)."""
    loaded = _loaded_after(_cli("--db", "sqlite://", "status"))
    assert {"sqlalchemy", "sqlmodel"} <= set(loaded["heavy"])
    assert "alembic" not in loaded["heavy"]  # only migrating (crm init) loads alembic


@pytest.mark.parametrize("report", ["kpis", "weekly", "unstarted"])
def test_a_report_on_the_terminal_loads_no_writer_nor_matplotlib(tmp_path: Path, report: str) -> None:
    """A report printed for people loads neither the file writers, matplotlib nor alembic."""
    from crm.db import init_db, make_engine

    db = tmp_path / "crm.db"
    engine = make_engine(str(db))
    init_db(engine)
    engine.dispose()
    loaded = _loaded_after(_cli("--db", str(db), "report", report, "--as-of", "2026-06-30"))
    assert {"pandas", "sqlalchemy"} <= set(loaded["heavy"])
    assert set(loaded["heavy"]) & {"alembic", "matplotlib", "openpyxl", "docx", "jinja2"} == set()
    # a table that fits is drawn by crm.display, which measures text with rich's cell widths only
    assert "rich.console" not in loaded["rich"] and "rich.table" not in loaded["rich"]
    assert "crm.charts" not in loaded["crm"]
    if report != "weekly":  # the 通报 module holds its writers (crm.files), without their packages
        assert "crm.files" not in loaded["crm"]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_an_export_loads_no_pandas(tmp_path: Path, suffix: str) -> None:
    """A ledger export streams rows from the database to the file: it needs neither pandas nor the readers."""
    from crm.db import init_db, make_engine

    db = tmp_path / "crm.db"
    engine = make_engine(str(db))
    init_db(engine)
    engine.dispose()
    out = tmp_path / f"deals{suffix}"
    loaded = _loaded_after(_cli("--db", str(db), "export", "deals", str(out)))
    assert out.exists()
    assert "sqlalchemy" in loaded["heavy"]
    assert set(loaded["heavy"]) & {"pandas", "numpy", "openpyxl", "matplotlib", "alembic"} == set()
    assert "crm.ledgers.export" in loaded["crm"] and "crm.ledgers.read" not in loaded["crm"]


@pytest.mark.parametrize(
    ("package", "same"),
    [
        ("crm", [("kpis", "crm.metrics"), ("NotFound", "crm.errors")]),
        ("crm.ledgers", [("export_ledger", "crm.ledgers.export"), ("read_table", "crm.ledgers.read")]),
    ],
)
def test_every_public_name_of_a_package_resolves_lazily(package: str, same: list[tuple[str, str]]) -> None:
    """Each name of ``__all__`` is there on first use, and it is the defining module's own object."""
    import importlib

    module = importlib.import_module(package)
    assert set(module.__all__) <= set(dir(module))
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    for name, home in same:
        assert getattr(module, name) is getattr(importlib.import_module(home), name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # noqa: B018


def test_a_capability_module_is_an_attribute_of_crm_after_import_crm() -> None:
    """``import crm`` then ``crm.display.styled(df)`` (as the package's docstring shows)."""
    loaded = _loaded_after("import crm\nassert callable(crm.display.styled) and callable(crm.deals.sign)")
    assert {"crm.display", "crm.deals"} <= set(loaded["crm"])


def test_the_names_the_cli_writes_out_equal_the_library() -> None:
    """Help texts and defaults that the CLI keeps as literals (so that --help stays cheap)."""
    from crm import deals, metrics, reference
    from crm.cli import deals as cli_deals
    from crm.cli import figures as cli_figures
    from crm.cli import reference as cli_reference

    assert cli_reference.KINDS == reference.REFERENCE_KINDS
    assert cli_deals.DEFAULT_THRESHOLDS == deals.DEFAULT_THRESHOLDS
    assert cli_figures.DIMENSIONS == metrics.DIMENSIONS
    assert cli_figures.PERIOD_DIMENSIONS == metrics.PERIOD_DIMENSIONS


def test_head_revision_read_without_alembic_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from crm.db import alembic_config, head_revision, make_engine

    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert script.get_heads() == [head_revision()]


def test_roles_are_the_access_roles() -> None:
    from crm import access, roles

    assert access.Role is roles.Role
