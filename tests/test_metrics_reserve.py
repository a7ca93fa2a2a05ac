"""The reserve (项目储备) has one definition: target_progress and trips.reserve agree as of any day."""

from __future__ import annotations

from datetime import date

from factories import get_or_make_unit
from sqlmodel import Session

from crm import metrics, trips
from crm.models import Lead
from crm.targets import set_target


def test_reserve_as_of_a_day_is_the_same_in_targets_and_trips(session: Session) -> None:
    unit = get_or_make_unit(session, "县商务局")
    for name, received, stage, planned in (
        ("早线索", date(2026, 5, 1), "contact", 50_000_000),
        ("晚线索", date(2026, 10, 15), "intent", 70_000_000),  # received after 2026-09-30
        ("已签约", date(2026, 3, 1), "signed", 90_000_000),  # out of the reserve
        ("已放弃", date(2026, 3, 1), "dropped", 30_000_000),
    ):
        session.add(Lead(project_name=name, received_on=received, stage=stage, planned_yuan=planned, unit_id=unit.id))
    session.commit()
    set_target(session, metric="reserve_yuan", period="2026", amount_yuan="10亿", actor="test")
    set_target(session, metric="reserve_yuan", period="2026", amount_yuan="5亿", scope="县商务局", actor="test")
    for as_of, expected in ((date(2026, 9, 30), 50_000_000), (date(2026, 12, 31), 120_000_000)):
        progress = metrics.target_progress(session, as_of=as_of).set_index("scope")
        assert progress.loc["county", "actual"] == expected
        assert progress.loc["县商务局", "actual"] == expected
        assert trips.reserve(session, as_of=as_of).attrs["total_yuan"] == expected
