"""Meta-test: the demo county's ledgers export and import into an empty database with no errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from crm.db import make_engine
from crm.ledgers import export_ledger, import_ledger
from crm.models import CapitalArrival, Deal, Lead, Target, Trip, Visit

# Import order follows the references: arrivals name deals, visits name trips.
KINDS = ["deals", "arrivals", "targets", "trips", "visits", "leads"]


def _totals(session: Session) -> dict[str, tuple[int, int]]:
    def count_and_sum(model: type, money: object | None) -> tuple[int, int]:
        count = session.exec(select(func.count()).select_from(model)).one()
        total = session.exec(select(func.coalesce(func.sum(money), 0))).one() if money is not None else 0
        return int(count), int(total)

    return {
        "deals": count_and_sum(Deal, Deal.contracted_yuan),
        "arrivals": count_and_sum(CapitalArrival, CapitalArrival.arrived_yuan),
        "targets": count_and_sum(Target, Target.amount),
        "trips": count_and_sum(Trip, Trip.budget_yuan),
        "visits": count_and_sum(Visit, None),
        "leads": count_and_sum(Lead, Lead.planned_yuan),
    }


Exported = tuple[Path, dict[str, tuple[int, int]]]


@pytest.fixture(scope="module")
def demo_ledgers(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Exported]:
    """The demo county's ledgers in one format and its totals, exported once per format and worker:
    the export reads the same SQLite demo whichever backend the import goes to (files are only read)."""
    made: dict[str, Exported] = {}

    def get(suffix: str) -> Exported:
        if suffix not in made:
            folder = tmp_path_factory.mktemp(f"demo-ledgers{suffix}")
            demo = make_engine(demo_url)
            with Session(demo) as session:
                for kind in KINDS:
                    export_ledger(session, kind, folder / f"{kind}{suffix}")
                made[suffix] = (folder, _totals(session))
            demo.dispose()
        return made[suffix]

    return get


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_demo_ledgers_round_trip(demo_ledgers: Callable[[str], Exported], engine: Engine, suffix: str) -> None:
    folder, expected = demo_ledgers(suffix)
    with Session(engine) as session:
        for kind in KINDS:
            result = import_ledger(session, kind, folder / f"{kind}{suffix}", actor="round-trip")
            assert result.errors == [], f"{kind}: {result.errors[:3]}"
        assert _totals(session) == expected
