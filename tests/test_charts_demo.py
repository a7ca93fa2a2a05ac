"""Each chart renders from the demo county's real figures, to PNG, with no missing glyphs."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from sqlmodel import Session

from crm import charts
from crm.db import make_engine


def _figures(session: Session, as_of: date) -> dict[str, tuple[pd.DataFrame, Callable[..., Any], dict[str, Any]]]:
    from crm import deals, metrics, trips

    return {
        "target_progress": (metrics.target_progress(session, as_of=as_of), charts.plot_target_progress, {}),
        "rates_by_industry": (metrics.kpis(session, by="industry", as_of=as_of), charts.plot_rates, {"by": "industry"}),
        "rates_by_year": (
            metrics.kpis(session, by="signing_year", as_of=as_of),
            charts.plot_rates,
            {"by": "signing_year"},
        ),
        "capital_by_month": (metrics.arrivals_by_month(session, year=as_of.year), charts.plot_capital_by_month, {}),
        "unstarted": (deals.unstarted(session, as_of=as_of), charts.plot_unstarted, {}),
        "funnel": (trips.funnel(session, by="squad"), charts.plot_funnel, {}),
        "ranking": (metrics.ranking(session, as_of=as_of, by="unit"), charts.plot_ranking, {}),
    }


CHARTS = ["target_progress", "rates_by_industry", "rates_by_year", "capital_by_month", "unstarted", "funnel", "ranking"]


@pytest.mark.parametrize("name", CHARTS)
def test_chart_renders_from_demo_data(name: str, demo_url: str, demo_as_of: date, tmp_path: Path) -> None:
    engine = make_engine(demo_url)
    with Session(engine) as session:
        df, plot, kwargs = _figures(session, demo_as_of)[name]
    engine.dispose()
    assert not df.empty, f"the demo gives no rows for {name}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots(figsize=(8, 5))
        returned = plot(df, ax=ax, **kwargs)
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
    assert returned is ax
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    glyphs = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert glyphs == []
