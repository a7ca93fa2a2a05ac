"""Targets: periods, time progress, target to date, set_target, counting rules."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from factories import get_or_make_person, get_or_make_unit
from sqlalchemy import func
from sqlmodel import Session, select

from crm.errors import BadAmount, InvalidValue, NotFound
from crm.models import AuditLog, CountingRules, Target
from crm.targets import (
    Period,
    cohort_start,
    get_rules,
    parse_period,
    rules_label,
    save_rules,
    set_target,
    target_to_date,
    time_progress,
)


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "label"),
    [
        ("2026", "year", date(2026, 1, 1), date(2026, 12, 31), "2026"),
        ("2026Q2", "quarter", date(2026, 4, 1), date(2026, 6, 30), "2026Q2"),
        ("2026q4", "quarter", date(2026, 10, 1), date(2026, 12, 31), "2026Q4"),
        ("2026-05", "month", date(2026, 5, 1), date(2026, 5, 31), "2026-05"),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29), "2024-02"),
        (2026, "year", date(2026, 1, 1), date(2026, 12, 31), "2026"),
    ],
)
def test_parse_period(text: Any, kind: str, start: date, end: date, label: str) -> None:
    p = parse_period(text)
    assert (p.kind, p.start, p.end, p.label) == (kind, start, end, label)


@pytest.mark.parametrize("text", ["26", "2026Q5", "2026-13", "May 2026", ""])
def test_parse_period_refuses(text: str) -> None:
    with pytest.raises(
        InvalidValue,
        match=r"period: .*write a year 2026, a quarter 2026Q2 or a month 2026-05|"
        r"period: the month must be 01 to 12",
    ):
        parse_period(text)


@pytest.mark.parametrize(
    ("period", "as_of", "expected"),
    [
        ("2026", date(2026, 1, 1), 1 / 365),  # as_of counts: one day of 365
        ("2026", date(2026, 6, 30), 181 / 365),  # 31+28+31+30+31+30 = 181
        ("2026", date(2026, 12, 31), 1.0),
        ("2026", date(2025, 12, 31), 0.0),  # before the period: clipped to 0
        ("2026", date(2027, 3, 1), 1.0),  # after: clipped to 1
        ("2026Q1", date(2026, 2, 14), 45 / 90),  # 31 + 14 of 31+28+31
        ("2024-02", date(2024, 2, 10), 10 / 29),  # leap February
    ],
)
def test_time_progress(period: str, as_of: date, expected: float) -> None:
    assert time_progress(period, as_of) == pytest.approx(expected)


def test_target_to_date_year_only_is_year_times_progress() -> None:
    # 263亿 × 181/365: 26,300,000,000 × 181 = 4,760,300,000,000; ÷ 365 = 13,041,917,808.2 -> 13,041,917,808
    assert target_to_date([("2026", 26_300_000_000)], date(2026, 6, 30)) == 13_041_917_808


def test_target_to_date_uses_the_finest_targets() -> None:
    targets = [("2026", 100_000_000), ("2026Q1", 10_000_000), ("2026Q2", 30_000_000)]
    # Q1 has ended: 10,000,000; Q2 elapsed Apr 1..May 15 = 30 + 15 = 45 of 91 days:
    # 30,000,000 × 45 / 91 = 14,835,164.8 -> total 24,835,164.8 -> 24,835,165
    assert target_to_date(targets, date(2026, 5, 15)) == 24_835_165
    # after Q2 the year target covers Q3 and Q4 at its own daily rate:
    # 10,000,000 + 30,000,000 + 100,000,000 × 31 (July) / 365 = 40,000,000 + 8,493,150.7 -> 48,493,151
    assert target_to_date(targets, date(2026, 7, 31)) == 48_493_151


def test_target_to_date_months() -> None:
    targets = [("2026-01", 1_000), ("2026-02", 2_800)]
    # January whole (1,000) + February 14 of 28 days (2,800 × 14 / 28 = 1,400) = 2,400
    assert target_to_date(targets, date(2026, 2, 14)) == 2_400
    assert target_to_date(targets, date(2025, 12, 31)) == 0  # before the first target
    assert target_to_date([("2026", None)], date(2026, 6, 30)) is None  # growth-only target


def test_cohort_start() -> None:
    rules = CountingRules(name="x", cohort_years=3)
    assert cohort_start(rules, date(2026, 6, 30)) == date(2023, 7, 1)
    assert cohort_start(rules, date(2028, 2, 29)) == date(2025, 3, 1)  # 29 Feb -> 28 Feb + 1 day
    assert cohort_start(CountingRules(name="x"), date(2026, 6, 30)) is None


# ---------------------------------------------------------------- set_target


def test_set_target_creates_then_updates_with_audit(session: Session) -> None:
    target = set_target(session, metric="arrived_yuan", period="2026", amount_yuan="263亿", growth=0.1, actor="局长")
    assert (target.amount, target.growth, target.scope_key, target.period_kind, target.period_start) == (
        26_300_000_000,
        0.1,
        "county",
        "year",
        date(2026, 1, 1),
    )
    again = set_target(session, metric="arrived_yuan", period="2026", amount_yuan="270亿", actor="局长")
    assert again.id == target.id
    assert (again.amount, again.growth) == (27_000_000_000, 0.1)  # growth not given: kept
    assert session.exec(select(func.count()).select_from(Target)).one() == 1
    updates = session.exec(select(AuditLog).where(AuditLog.entity == "target", AuditLog.action == "update")).all()
    assert [(a.field, a.old, a.new) for a in updates] == [("amount", "26300000000", "27000000000")]


def test_set_target_scopes(session: Session) -> None:
    unit = get_or_make_unit(session, "工业园区")
    leader = get_or_make_person(session, "李副县长")
    session.commit()
    by_unit = set_target(session, metric="deals_signed", period="2026Q2", count=5, scope="工业园区", actor="t")
    by_leader = set_target(
        session, metric="deals_signed", period="2026Q2", count=3, scope="李副县长", actor="t", weight=0.4
    )
    assert (by_unit.scope_kind, by_unit.unit_id, by_unit.scope_key) == ("unit", unit.id, f"unit:{unit.id}")
    assert (by_leader.scope_kind, by_leader.leader_id, by_leader.weight) == ("leader", leader.id, 0.4)
    growth = set_target(session, metric="contracted_yuan", period="2026-05", growth="15%", actor="t")
    assert growth.amount is None and growth.growth == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metric": "arrived"}, InvalidValue, "metric: use one of arrived_yuan"),
        ({"period": "2026Q9"}, InvalidValue, "period"),
        ({"amount_yuan": "很多"}, BadAmount, "cannot read '很多'"),
        ({"amount_yuan": None, "count": 3}, InvalidValue, "arrived_yuan is an amount of money"),
        ({"metric": "deals_signed", "amount_yuan": 5}, InvalidValue, "deals_signed is a number of deals"),
        ({"metric": "deals_signed", "amount_yuan": None, "count": -1}, InvalidValue, "a whole number of deals"),
        ({"amount_yuan": None}, InvalidValue, "needs an amount"),
        ({"growth": "ten"}, InvalidValue, "growth: a fraction such as 0.1"),
        ({"growth": -1}, InvalidValue, "above -1"),
        ({"weight": -0.5}, InvalidValue, "weight"),
        ({"scope": "不存在的单位"}, NotFound, "no unit or leader '不存在的单位'"),
        ({"scope": "不存在的单位", "scope_kind": "unit"}, NotFound, "no unit '不存在的单位'"),
        ({"scope": "x", "scope_kind": "city"}, InvalidValue, "scope_kind: use county, unit or leader"),
    ],
)
def test_set_target_refuses(session: Session, kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    args: dict[str, Any] = {"metric": "arrived_yuan", "period": "2026", "amount_yuan": 1000, "actor": "t"}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        set_target(session, **args)
    session.rollback()
    assert session.exec(select(func.count()).select_from(Target)).one() == 0


def test_scope_name_that_is_both_unit_and_leader(session: Session) -> None:
    get_or_make_unit(session, "张三")
    get_or_make_person(session, "张三")
    session.commit()
    with pytest.raises(InvalidValue, match="both a unit and a leader"):
        set_target(session, metric="arrived_yuan", period="2026", amount_yuan=1, scope="张三", actor="t")
    target = set_target(
        session, metric="arrived_yuan", period="2026", amount_yuan=1, scope="张三", scope_kind="leader", actor="t"
    )
    assert target.scope_kind == "leader"


# ---------------------------------------------------------------- counting rules


def test_default_rules_follow_design(session: Session) -> None:
    rules = get_rules(session)
    assert rules_label(rules) == "default v1"
    assert (rules.fulfillment_basis, rules.completion_basis, rules.verified_only, rules.cohort_years) == (
        "started_or_later",
        "started",
        False,
        None,
    )
    assert rules.sources == ["overseas", "other_province", "other_city", "other_county"]


def test_save_rules_makes_a_new_version_each_time(session: Session) -> None:
    first = save_rules(session, "市口径", fulfillment_basis="not_terminated", sources=["境外", "省外"], actor="t")
    second = save_rules(session, "市口径", verified_only=True, cohort_years=3, actor="t")
    assert (rules_label(first), rules_label(second)) == ("市口径 v1", "市口径 v2")
    # v2 keeps what v1 said unless told otherwise; v1 is untouched
    assert (second.fulfillment_basis, second.sources, second.verified_only, second.cohort_years) == (
        "not_terminated",
        ["overseas", "other_province"],
        True,
        3,
    )
    session.refresh(first)
    assert (first.verified_only, first.cohort_years) == (False, None)
    assert get_rules(session, "市口径").version == 2
    assert get_rules(session, "市口径 v1").id == first.id
    assert get_rules(session, "市口径@1").id == first.id
    third = save_rules(session, "市口径", cohort_years=0, actor="t")
    assert third.cohort_years is None  # 0 removes the window
    assert session.exec(select(func.count()).select_from(AuditLog).where(AuditLog.entity == "counting_rules")).one() > 0


def test_default_rules_can_be_switched_by_saving(session: Session) -> None:
    save_rules(session, "city", default=True, actor="t")
    assert rules_label(get_rules(session)) == "city v1"
    save_rules(session, "default", completion_basis="signed", actor="t")  # default v2 inherits is_default
    assert rules_label(get_rules(session)) == "default v2"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fulfillment_basis": "started"}, InvalidValue, "fulfillment_basis: use one of started_or_later"),
        ({"completion_basis": "built"}, InvalidValue, "completion_basis: use one of signed, started"),
        ({"sources": ["外省"]}, InvalidValue, "source: use one of"),
        ({"sources": []}, InvalidValue, "name at least one source"),
        ({"cohort_years": -1}, InvalidValue, "cohort_years"),
    ],
)
def test_save_rules_refuses(session: Session, kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        save_rules(session, "x", actor="t", **kwargs)
    assert session.exec(select(func.count()).select_from(CountingRules).where(CountingRules.name == "x")).one() == 0


def test_unknown_rules(session: Session) -> None:
    with pytest.raises(NotFound, match="no counting rules 'nope'"):
        get_rules(session, "nope")
    with pytest.raises(NotFound, match="no counting rules 'default v9'"):
        get_rules(session, "default v9")


def test_period_ordering_is_by_start() -> None:
    assert Period(date(2026, 4, 1), "quarter") < Period(date(2026, 5, 1), "month")
