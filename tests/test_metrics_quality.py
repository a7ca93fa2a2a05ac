"""The data-quality audit: each kind of defect planted in a clean ledger is found, and nothing else.

The clean ledger (as of 2026-06-30): deal 甲 signed 2026-01-10, started 2026-03-01 with 立项,
用地 and 施工许可 done, registered 2026-04-01, 1000万 of 1亿 arrived; deal 乙 signed 2026-05-01,
unstarted, followed by 王县长 with a follow-up on 2026-06-20. Both are 县商务局's (responsible and
credited) and 王县长's, in 光伏发电. Targets: 2026 arrived 10亿, Q1 and Q2 3亿 each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from factories import get_or_make_investor, get_or_make_person, get_or_make_unit, make_deal
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm import metrics
from crm.cli import app
from crm.models import CapitalArrival, Deal, FollowUp, Procedure, Target
from crm.rules import save_rules
from crm.targets import set_target

AS_OF = date(2026, 6, 30)
YI = 100_000_000
WAN = 10_000


def _clean(session: Session) -> tuple[Deal, Deal]:
    a = make_deal(
        session,
        project_name="甲",
        signed_on=date(2026, 1, 10),
        contracted_yuan=YI,
        state="started",
        started_on=date(2026, 3, 1),
        registered_on=date(2026, 4, 1),
        credited_unit="县商务局",
    )
    b = make_deal(
        session,
        project_name="乙",
        signed_on=date(2026, 5, 1),
        credited_unit="县商务局",
        follow_up_owner_id=get_or_make_person(session, "王县长").id,
    )
    for kind in ("approval", "land", "construction_permit"):
        session.add(Procedure(deal_id=a.id, kind=kind, state="done", done_on=date(2026, 2, 1)))
    session.add(FollowUp(deal_id=b.id, on=date(2026, 6, 20), action="走访企业"))
    session.add(CapitalArrival(deal_id=a.id, arrived_on=date(2026, 4, 1), arrived_yuan=1000 * WAN, source="overseas"))
    session.commit()
    set_target(session, metric="arrived_yuan", period="2026", amount_yuan="10亿", actor="t")
    set_target(session, metric="arrived_yuan", period="2026Q1", amount_yuan="3亿", actor="t")
    set_target(session, metric="arrived_yuan", period="2026Q2", amount_yuan="3亿", actor="t")
    return a, b


def _deal(session: Session, name: str) -> Deal:
    return session.exec(select(Deal).where(Deal.project_name == name)).one()


def _arrival(session: Session, name: str, day: date, yuan: int) -> int:
    arrival = CapitalArrival(deal_id=_deal(session, name).id, arrived_on=day, arrived_yuan=yuan, source="overseas")
    session.add(arrival)
    session.commit()
    assert arrival.id is not None
    return arrival.id


def _over_contracted(session: Session) -> int:
    _arrival(session, "甲", date(2026, 5, 1), int(1.5 * YI))  # 1.6亿 on a 1亿 deal
    return _deal(session, "甲").id or 0


def _in_future(session: Session) -> int:
    return _arrival(session, "甲", date(2027, 1, 5), 100 * WAN)


def _after_termination(session: Session) -> int:
    deal = _deal(session, "甲")
    deal.terminated_on, deal.state = date(2026, 5, 1), "terminated"
    session.add(deal)
    session.commit()
    return _arrival(session, "甲", date(2026, 6, 1), 100 * WAN)


def _duplicate_arrival(session: Session) -> int:
    return _arrival(session, "甲", date(2026, 4, 1), 1000 * WAN)  # same deal, date and amount as the first


def _without_procedures(session: Session) -> int:
    land = session.exec(select(Procedure).where(Procedure.kind == "land")).one()
    land.state, land.done_on = "in_progress", None
    session.add(land)
    session.commit()
    return _deal(session, "甲").id or 0


def _not_registered(session: Session) -> int:
    deal = _deal(session, "甲")
    deal.registered_on = None
    session.add(deal)
    session.commit()
    return deal.id or 0


def _without_owner(session: Session) -> int:
    deal = _deal(session, "乙")
    deal.follow_up_owner_id = None
    session.add(deal)
    session.commit()
    return deal.id or 0


def _without_follow_up(session: Session) -> int:
    follow_up = session.exec(select(FollowUp)).one()
    follow_up.on = date(2026, 5, 20)  # 41 days before as_of
    session.add(follow_up)
    session.commit()
    return _deal(session, "乙").id or 0


def _incomplete(session: Session) -> int:
    deal = make_deal(
        session,
        project_name="丙",
        signed_on=date(2026, 2, 1),
        state="started",
        started_on=date(2026, 6, 1),
        industry_id=None,
        credited_unit="县商务局",
    )
    for kind in ("approval", "land", "construction_permit"):
        session.add(Procedure(deal_id=deal.id, kind=kind, state="done", done_on=date(2026, 5, 1)))
    session.commit()
    return deal.id or 0


def _near_duplicate_investor(session: Session) -> int:
    # 甘肃示例能源 (the deals' investor) spelled with a longer name; two brands two characters
    # apart are not flagged
    investor = get_or_make_investor(session, "甘肃示例能源科技有限公司")
    get_or_make_investor(session, "天水远景新能源科技有限公司")
    get_or_make_investor(session, "天水恒远新能源科技有限公司")
    session.commit()
    return investor.id or 0


def _typo_investor(session: Session) -> int:
    investor = get_or_make_investor(session, "甘肃示列能源有限公司")  # one character off 甘肃示例能源
    session.commit()
    return investor.id or 0


def _lonely_unit(session: Session) -> int:
    deal = _deal(session, "乙")
    typo = get_or_make_unit(session, "县商务句")  # a typo of 县商务局, used by this deal only
    deal.unit_id = typo.id
    session.add(deal)
    session.commit()
    return typo.id or 0


def _quarters_above_year(session: Session) -> int:
    set_target(session, metric="arrived_yuan", period="2026Q3", amount_yuan="3亿", actor="t")
    set_target(session, metric="arrived_yuan", period="2026Q4", amount_yuan="2亿", actor="t")  # 11亿 > 10亿
    year = session.exec(select(Target).where(Target.period_kind == "year")).one()
    return year.id or 0


PLANTS: dict[str, Callable[[Session], int]] = {
    "arrival_over_contracted": _over_contracted,
    "arrival_in_future": _in_future,
    "arrival_after_termination": _after_termination,
    "duplicate_arrival": _duplicate_arrival,
    "started_without_procedures": _without_procedures,
    "started_not_registered": _not_registered,
    "unstarted_without_owner": _without_owner,
    "unstarted_without_follow_up": _without_follow_up,
    "deal_incomplete": _incomplete,
    "duplicate_investor": _near_duplicate_investor,
    "lonely_reference": _lonely_unit,
    "targets_above_year": _quarters_above_year,
}


def test_every_kind_has_a_planted_defect() -> None:
    assert set(PLANTS) == set(metrics.QUALITY_KINDS)


def test_a_typo_in_an_investor_name_is_a_near_duplicate(session: Session) -> None:
    _clean(session)
    record_id = _typo_investor(session)
    df = metrics.quality(session, as_of=AS_OF)
    assert list(zip(df["kind"], df["record_id"], strict=True)) == [("duplicate_investor", record_id)]


def test_a_clean_ledger_has_no_findings(session: Session) -> None:
    _clean(session)
    df = metrics.quality(session, as_of=AS_OF)
    assert df.empty, df.to_string()
    assert list(df.columns) == metrics.QUALITY_COLUMNS
    counts = metrics.quality_counts(df)
    assert list(counts["kind"]) == list(metrics.QUALITY_KINDS) and counts["findings"].sum() == 0


@pytest.mark.parametrize("kind", list(PLANTS))
def test_a_planted_defect_is_found(session: Session, kind: str) -> None:
    _clean(session)
    record_id = PLANTS[kind](session)
    df = metrics.quality(session, as_of=AS_OF)
    found = df[df["kind"] == kind]
    assert list(found["record_id"]) == [record_id], df.to_string()
    assert found.iloc[0]["severity"] == metrics.QUALITY_KINDS[kind][0]
    assert found.iloc[0]["reason"]
    # the planted defect is the only one (after termination, the arrival is also over nothing else)
    assert set(df["kind"]) == {kind}, df.to_string()
    # the 通报's counts (counted by the database where a statement lists the findings) say the same
    assert metrics.count_quality(session, as_of=AS_OF).equals(metrics.quality_counts(df))


def test_a_threefold_arrival_is_two_findings_counted_as_listed(session: Session) -> None:
    """Every standing arrival of a (deal, date, amount) but the first is a finding; a voided one is none, and
    the count (one grouped pass) says what the listing says."""
    from crm.arrivals import void

    _clean(session)
    ids = [_duplicate_arrival(session) for _ in range(3)]  # with the first: four of the same
    void(session, ids[0], reason="录重了", actor="t")
    _arrival(session, "甲", date(2026, 4, 1), 999 * WAN)  # another amount: not a duplicate
    df = metrics.quality(session, as_of=AS_OF)
    assert list(df[df["kind"] == "duplicate_arrival"]["record_id"]) == ids[1:]
    assert metrics.count_quality(session, as_of=AS_OF).equals(metrics.quality_counts(df))


def test_counts_equal_the_listed_findings_on_the_demo_county(demo_engine: object, demo_as_of: date) -> None:
    with Session(demo_engine) as session:  # type: ignore[call-overload]
        listed = metrics.quality_counts(metrics.quality(session, as_of=demo_as_of))
        counted = metrics.count_quality(session, as_of=demo_as_of)
    assert counted.equals(listed), counted.compare(listed)
    assert listed["findings"].sum() > 0


def test_counts_read_only_what_happened_by_as_of(session: Session) -> None:
    """What the database counts weighs dates as the listing does: a procedure done or a follow-up
    made after as_of does not count yet, and a deal terminated by then is no longer followed."""
    _clean(session)
    permit = session.exec(select(Procedure).where(Procedure.kind == "construction_permit")).one()
    permit.done_on = date(2026, 7, 15)  # done, but after as_of: 甲 started without it as of 2026-06-30
    follow_up = session.exec(select(FollowUp)).one()
    follow_up.on = date(2026, 7, 2)  # after as_of: 乙 had none in the 30 days to as_of
    session.add_all([permit, follow_up])
    make_deal(
        session, project_name="丁", signed_on=date(2026, 1, 5), terminated_on=date(2026, 3, 1), state="terminated"
    )
    session.commit()
    listed = metrics.quality_counts(metrics.quality(session, as_of=AS_OF))
    counted = metrics.count_quality(session, as_of=AS_OF)
    assert counted.equals(listed), counted.compare(listed)
    found = dict(zip(listed["kind"], listed["findings"], strict=True))
    assert found["started_without_procedures"] == 1
    assert found["unstarted_without_follow_up"] == 1
    # 丁 has no owner and no follow-up, but was terminated before as_of
    assert found["unstarted_without_owner"] == 0
    # on 07-20, after the permit (07-15), 甲 is no longer flagged; nor is 乙, followed up on 07-02
    later = date(2026, 7, 20)
    assert metrics.count_quality(session, as_of=later).equals(
        metrics.quality_counts(metrics.quality(session, as_of=later))
    )


def test_arrivals_on_a_capital_increase_are_checked_against_its_root_deal(session: Session) -> None:
    """An increase's arrivals count toward its root: after the root's termination, and above the
    contracted amount of the root and its increases together."""
    _clean(session)
    a = _deal(session, "甲")
    increase = make_deal(
        session, project_name="甲（增资）", signed_on=date(2026, 2, 1), contracted_yuan=YI // 2, increases_id=a.id
    )
    a.terminated_on, a.state = date(2026, 5, 1), "terminated"
    session.add(a)
    session.add(
        CapitalArrival(deal_id=increase.id, arrived_on=date(2026, 6, 1), arrived_yuan=2 * YI, source="overseas")
    )
    session.commit()
    df = metrics.quality(session, as_of=AS_OF)
    assert list(df.loc[df["kind"] == "arrival_after_termination", "record"].str.contains("甲（增资）")) == [True]
    # 1000万 + 2亿 arrived against 1亿 + 5000万 contracted
    assert list(df.loc[df["kind"] == "arrival_over_contracted", "record_id"]) == [a.id]
    assert metrics.count_quality(session, as_of=AS_OF).equals(metrics.quality_counts(df))


def test_the_tolerance_is_in_the_counting_rules(session: Session) -> None:
    _clean(session)
    _arrival(session, "甲", date(2026, 5, 1), 9500 * WAN)  # 1.05亿 on 1亿: within 10%, beyond 2%
    assert metrics.quality(session, as_of=AS_OF).empty
    save_rules(session, "strict", actor="t", arrival_tolerance=0.02)
    df = metrics.quality(session, as_of=AS_OF, rules="strict")
    assert list(df["kind"]) == ["arrival_over_contracted"]
    assert "arrived 10,500万元 by 2026-06-30 against 10,000万元" in df.iloc[0]["reason"]


def test_crm_check_writes_findings_and_counts(session: Session, db_url: str, tmp_path: object) -> None:
    _clean(session)
    _in_future(session)
    _duplicate_arrival(session)
    runner = CliRunner()
    result = runner.invoke(app, ["--db", db_url, "check", "--as-of", AS_OF.isoformat(), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["kind"] for r in rows] == ["arrival_in_future", "duplicate_arrival"]
    assert rows[0]["reason"] == "dated 2027-01-05, after 2026-06-30"
    assert "2 findings: arrival_in_future 1, duplicate_arrival 1" in result.stderr
    clean_as_of = runner.invoke(app, ["--db", db_url, "check", "--as-of", "2026-13-01"])
    assert clean_as_of.exit_code == 1 and "--as-of" in clean_as_of.stderr


def _pairwise_first_near(keys: list[str]) -> list[int | None]:
    """The near-duplicate check as first written: every pair in order (quadratic)."""
    from importlib import import_module

    near = import_module("crm.metrics.quality")._near
    first: list[int | None] = [None] * len(keys)
    flagged: set[int] = set()
    for i, key in enumerate(keys):
        if i in flagged:
            continue
        for j in range(i + 1, len(keys)):
            if j not in flagged and near(key, keys[j]):
                flagged.add(j)
                first[j] = i
    return first


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.text(alphabet="甘肃示例能源科", min_size=1, max_size=9).map(lambda s: "甘肃" + s if len(s) > 5 else s),
        unique=True,
        max_size=30,
    )
)
def test_near_duplicate_investors_are_found_as_by_comparing_every_pair(keys: list[str]) -> None:
    from importlib import import_module

    assert import_module("crm.metrics.quality")._first_near(keys) == _pairwise_first_near(keys)
