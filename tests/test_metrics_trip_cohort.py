"""kpis for the cohort of one trip: the deals signed from leads met on that trip."""

from __future__ import annotations

from datetime import date

from factories import make_deal
from sqlmodel import Session
from typer.testing import CliRunner

from crm import metrics
from crm.cli import app
from crm.models import CapitalArrival, Lead, Squad, Trip, Visit

AS_OF = date(2026, 10, 31)


def _trip_with_leads(session: Session) -> tuple[int, int]:
    squad = Squad(name="第一招商小分队")
    session.add(squad)
    session.flush()
    assert squad.id is not None
    trips = []
    for month in (6, 7):
        trip = Trip(squad_id=squad.id, month=date(2026, month, 1))
        session.add(trip)
        session.flush()
        visit = Visit(trip_id=trip.id, status="done", visited_on=date(2026, month, 10), counterpart=f"企业{month}")
        session.add(visit)
        session.flush()
        trips.append((trip, visit))
    june, july = trips
    # June's trip produced two signed deals (one started); July's one; one deal came from no trip
    a = make_deal(
        session,
        project_name="甲",
        signed_on=date(2026, 7, 1),
        contracted_yuan=300_000_000,
        state="started",
        started_on=date(2026, 8, 1),
    )
    b = make_deal(session, project_name="乙", signed_on=date(2026, 7, 5), contracted_yuan=100_000_000)
    c = make_deal(session, project_name="丙", signed_on=date(2026, 8, 5), contracted_yuan=50_000_000)
    make_deal(session, project_name="丁", signed_on=date(2026, 7, 9), contracted_yuan=900_000_000)
    for deal, (_trip, visit) in ((a, june), (b, june), (c, july)):
        session.add(
            Lead(
                project_name=deal.project_name,
                visit_id=visit.id,
                received_on=visit.visited_on,
                stage="signed",
                deal_id=deal.id,
            )
        )
    session.add(Lead(project_name="未签约线索", visit_id=june[1].id, received_on=date(2026, 6, 10)))
    session.add(
        CapitalArrival(deal_id=a.id, arrived_on=date(2026, 9, 1), arrived_yuan=60_000_000, source="other_province")
    )
    session.commit()
    assert june[0].id is not None and july[0].id is not None
    return june[0].id, july[0].id


def test_kpis_of_one_trip_by_hand(session: Session, db_url: str) -> None:
    june, july = _trip_with_leads(session)
    row = metrics.kpis(session, as_of=AS_OF, trip=june).iloc[0]
    # deals 甲 and 乙: 2 signed, 1 started; 4亿 contracted, 0.6亿 arrived
    assert (row["signed"], row["started"], row["contracted_yuan"], row["arrived_yuan"]) == (
        2,
        1,
        400_000_000,
        60_000_000,
    )
    assert row["fulfillment_rate"] == 0.5 and row["capital_arrival_rate"] == 0.15
    assert metrics.kpis(session, as_of=AS_OF, trip=july).iloc[0]["signed"] == 1
    assert metrics.kpis(session, as_of=AS_OF).iloc[0]["signed"] == 4  # without the filter: every deal
    result = CliRunner().invoke(
        app, ["--db", db_url, "report", "kpis", "--trip", str(june), "--format", "csv", "--as-of", AS_OF.isoformat()]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].startswith("2,1,0,0,400000000,60000000,0.5,0.15")
