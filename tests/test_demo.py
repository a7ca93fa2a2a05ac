"""The demo county: deterministic, realistic enough to tell a story, and every figure computes on it."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, select

from crm.dashboard import dashboard, format_dashboard
from crm.demo import build_demo
from crm.errors import Refused
from crm.models import CapitalArrival, Deal

AS_OF = date(2026, 11, 29)


def _fingerprint(engine: Engine) -> dict[str, tuple[int, int]]:
    """Row count and a checksum of every table's money/ids, enough to tell two databases apart."""
    prints: dict[str, tuple[int, int]] = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name == "audit_log":
                continue
            count = connection.execute(select(func.count()).select_from(table)).scalar_one()
            money = [c for c in table.columns if c.name.endswith("_yuan")]
            total = sum(int(connection.execute(select(func.coalesce(func.sum(c), 0))).scalar_one()) for c in money)
            prints[table.name] = (count, total)
    return prints


# The demo county is built once per run and backend (conftest: `demo_sqlite`, `demo_postgres`);
# `demo_engine` is each test's own copy of it. The tests taking it share one worker, so that
# worker's server builds the demo once for the run.


def test_demo_is_a_plausible_county(demo_engine: Engine) -> None:
    with Session(demo_engine) as session:
        states = dict(session.exec(select(Deal.state, func.count()).group_by(Deal.state)).all())  # type: ignore[arg-type]
        assert 300 <= sum(states.values()) <= 500
        assert states["signed"] > 20 and states["started"] > 20 and states["in_production"] > 20
        assert states["terminated"] >= 2
        assert session.exec(select(func.count()).where(Deal.replaces_id.is_not(None))).one() >= 1  # type: ignore[union-attr]
        assert session.exec(select(func.count()).where(Deal.increases_id.is_not(None))).one() >= 1  # type: ignore[union-attr]
        assert session.exec(select(func.count()).select_from(CapitalArrival)).one() > 1000
        figures = dashboard(session, as_of=AS_OF)
    text = format_dashboard(figures, as_of=AS_OF)
    assert "履约率" in text and "签约未开工" in text
    rates = figures["rates"].iloc[0]
    assert 0.4 < rates["fulfillment_rate"] < 0.95
    levels = dict(zip(figures["unstarted"]["level"], figures["unstarted"]["deals"], strict=True))
    assert levels["red"] > 0 and levels["yellow"] + levels["green"] > 0


def test_demo_fills_only_an_empty_database(demo_engine: Engine) -> None:
    before = _fingerprint(demo_engine)
    with Session(demo_engine) as session, pytest.raises(Refused, match="already holds deals"):
        build_demo(session, seed=1, as_of=AS_OF)
    assert _fingerprint(demo_engine) == before


def test_same_seed_gives_identical_databases(
    demo_engine: Engine, demo_url: str, sqlite_template: Path, tmp_path: Path
) -> None:
    """Two builds with one seed, compared: on PostgreSQL the run's PostgreSQL build against its SQLite
    build (two builds on two backends); on SQLite a build made here against the run's SQLite build."""
    from crm.db import make_engine

    built = demo_engine
    if demo_engine.dialect.name == "sqlite":
        shutil.copyfile(sqlite_template, tmp_path / "again.db")
        built = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
        with Session(built) as session:
            build_demo(session, seed=1, as_of=AS_OF)
    other = make_engine(demo_url)
    assert _fingerprint(built) == _fingerprint(other)
    other.dispose()
    if built is not demo_engine:
        built.dispose()
