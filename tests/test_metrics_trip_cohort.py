"""kpis for the cohort of one trip: the deals signed from leads met on that trip."""

from __future__ import annotations

from datetime import date

from factories import make_deal
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm import metrics, trips
from crm.cli import app
from crm.models import CapitalArrival, Deal, Lead, Squad, Trip, Visit
from crm.rules import save_rules

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


def _reassign_increase_and_noise(session: Session) -> None:
    """On June's trip: a capital increase of 甲 (+1亿, 2000万 arrived), 乙 handed to a new
    investor (戊, from no lead), an arrival after as_of
    and one from another county (县际), which a province-only rule set does not count."""
    a = session.exec(select(Deal).where(Deal.project_name == "甲")).one()
    b = session.exec(select(Deal).where(Deal.project_name == "乙")).one()
    increase = make_deal(
        session, project_name="甲(增资)", signed_on=date(2026, 9, 1), contracted_yuan=100_000_000, increases_id=a.id
    )
    make_deal(session, project_name="戊", signed_on=date(2026, 9, 15), contracted_yuan=100_000_000, replaces_id=b.id)
    for deal_id, day, amount, source in (
        (increase.id, date(2026, 10, 1), 20_000_000, "other_province"),
        (a.id, date(2026, 11, 15), 70_000_000, "other_province"),  # after as_of
        (a.id, date(2026, 10, 2), 5_000_000, "other_county"),
    ):
        session.add(CapitalArrival(deal_id=deal_id, arrived_on=day, arrived_yuan=amount, source=source))
    session.commit()


def test_funnel_by_trip_counts_as_kpis_of_the_trip(session: Session) -> None:
    june, july = _trip_with_leads(session)
    _reassign_increase_and_noise(session)
    save_rules(session, "省外口径", actor="test", sources=["境外", "省外"])
    for rules in (None, "省外口径"):
        df = trips.funnel(session, by="trip", as_of=AS_OF, rules=rules).set_index("trip_id")
        for trip in (june, july):
            k = metrics.kpis(session, as_of=AS_OF, trip=trip, rules=rules).iloc[0]
            got = df.loc[trip, ["signed", "contracted_yuan", "arrived_yuan"]].tolist()
            assert got == [k["signed"], k["contracted_yuan"], k["arrived_yuan"]]
        assert df.attrs["rules"] == ("default v1" if rules is None else "省外口径 v1")
    # by hand, June: 甲 with its increase (3亿 + 1亿); 乙 replaced by 戊 (from no
    # lead); arrived 6000万 + 2000万 (increase) + 500万 (县际, default rules only), not the later 7000万
    by_default = trips.funnel(session, by="trip", as_of=AS_OF).set_index("trip_id").loc[june]
    assert (by_default["signed"], by_default["contracted_yuan"], by_default["arrived_yuan"]) == (
        1,
        400_000_000,
        85_000_000,
    )
    province = trips.funnel(session, by="trip", as_of=AS_OF, rules="省外口径").set_index("trip_id").loc[june]
    assert province["arrived_yuan"] == 80_000_000
    # the same money by squad: both trips are the squad's
    squad = trips.funnel(session, by="squad", as_of=AS_OF).iloc[0]
    assert (squad["signed"], squad["contracted_yuan"]) == (2, 450_000_000)
