"""Targets (目标任务) and time progress (序时进度).

The counting rules (统计口径) live in ``crm.rules``; their names are re-exported here for
callers that import them from ``crm.targets``.

Periods are written ``2026`` (year), ``2026Q2`` (quarter) or ``2026-05`` (month) and are
stored as their kind and first day. Money targets are whole yuan; count targets are counts.
Time progress counts days, as_of included: on 2026-01-01 a year is 1/365 elapsed.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from sqlmodel import Session, select

from crm.audit import record_changes, record_creation
from crm.db import unit_of_work
from crm.errors import InvalidValue, NotFound
from crm.models import (
    PeriodKind,
    Person,
    ScopeKind,
    Target,
    TargetMetric,
    Unit,
)
from crm.money import parse_yuan
from crm.rules import cohort_start, get_rules, rules_label, save_rules

__all__ = [
    "COUNT_METRICS",
    "MONEY_METRICS",
    "Period",
    "cohort_start",
    "get_rules",
    "parse_period",
    "rules_label",
    "same_day_last_year",
    "save_rules",
    "set_target",
    "target_to_date",
    "time_progress",
]

MONEY_METRICS = frozenset(
    {
        TargetMetric.arrived_yuan,
        TargetMetric.contracted_yuan,
        TargetMetric.reserve_yuan,
        TargetMetric.completed_investment_yuan,
    }
)
COUNT_METRICS = frozenset({TargetMetric.deals_signed, TargetMetric.deals_started})

# ---------------------------------------------------------------- periods


@dataclass(frozen=True, order=True)
class Period:
    """A year, quarter or month: its kind and first day."""

    start: date
    kind: str

    @property
    def end(self) -> date:
        """The last day of the period (inclusive)."""
        months = {PeriodKind.year: 12, PeriodKind.quarter: 3, PeriodKind.month: 1}[PeriodKind(self.kind)]
        last_month = self.start.month + months - 1
        return date(self.start.year, last_month, calendar.monthrange(self.start.year, last_month)[1])

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.kind == PeriodKind.year:
            return f"{self.start.year}"
        if self.kind == PeriodKind.quarter:
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"

    def elapsed_days(self, as_of: date) -> int:
        """Days of the period on or before `as_of` (0 before it starts, all after it ends)."""
        return max(0, min((as_of - self.start).days + 1, self.days))

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


_PERIOD = re.compile(r"^(?P<y>\d{4})(?:年)?(?:[-\s]?(?:Q(?P<q>[1-4])|(?P<m>\d{1,2})(?:月)?))?$", re.IGNORECASE)


def parse_period(value: str | int | Period) -> Period:
    """``2026`` -> the year, ``2026Q2`` -> the second quarter, ``2026-05`` -> May 2026."""
    if isinstance(value, Period):
        return value
    text = str(value).strip()
    match = _PERIOD.match(text)
    if not match:
        raise InvalidValue("period", value, "write a year 2026, a quarter 2026Q2 or a month 2026-05")
    year = int(match["y"])
    if match["q"]:
        return Period(date(year, 3 * int(match["q"]) - 2, 1), PeriodKind.quarter.value)
    if match["m"]:
        month = int(match["m"])
        if not 1 <= month <= 12:
            raise InvalidValue("period", value, "the month must be 01 to 12")
        return Period(date(year, month, 1), PeriodKind.month.value)
    return Period(date(year, 1, 1), PeriodKind.year.value)


def time_progress(period: str | int | Period, as_of: date) -> float:
    """序时进度: the share of `period`'s days elapsed on `as_of` (inclusive), within [0, 1]."""
    p = parse_period(period)
    return p.elapsed_days(as_of) / p.days


def same_day_last_year(day: date) -> date:
    """The same calendar day a year earlier (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def target_to_date(targets: Iterable[tuple[str | Period, int | None]], as_of: date) -> int | None:
    """The target due by `as_of` from (period, amount) pairs of one metric and scope.

    Each day is credited at the daily rate of the finest target covering it: ended
    finest targets count whole, the current one by its elapsed share; with only a year
    target this is year × time progress. Rounded half up to a whole yuan (or count).
    None when no target has an amount.
    """
    periods: dict[str, dict[date, tuple[Period, int]]] = {k.value: {} for k in PeriodKind}
    for period, amount in targets:
        if amount is None:
            continue
        p = parse_period(period)
        periods[p.kind][p.start] = (p, amount)
    if not any(periods.values()):
        return None
    years = {p.start.year for level in periods.values() for p, _ in level.values()}
    total = Fraction(0)
    for year in years:
        for month in range(1, 13):
            month_period = Period(date(year, month, 1), PeriodKind.month.value)
            elapsed = month_period.elapsed_days(as_of)
            if elapsed == 0:
                continue
            quarter_start = date(year, 3 * ((month - 1) // 3) + 1, 1)
            for kind, start in (
                (PeriodKind.month, month_period.start),
                (PeriodKind.quarter, quarter_start),
                (PeriodKind.year, date(year, 1, 1)),
            ):
                found = periods[kind.value].get(start)
                if found is not None:
                    p, amount = found
                    total += Fraction(amount * elapsed, p.days)
                    break
    return int((total + Fraction(1, 2)) // 1)


# ---------------------------------------------------------------- targets


def _scope(session: Session, scope: str, scope_kind: str | None) -> tuple[str, int | None, int | None, str]:
    """(scope_kind, unit_id, leader_id, scope_key) for a scope given as 'county' or a unit or leader name."""
    name = (scope or "county").strip()
    kind = scope_kind or ("county" if name in ("county", "全县", "县") else None)
    if kind == ScopeKind.county:
        return ScopeKind.county.value, None, None, "county"
    unit = session.exec(select(Unit).where(Unit.name == name)).first() if kind in (None, "unit") else None
    person = session.exec(select(Person).where(Person.name == name)).first() if kind in (None, "leader") else None
    if kind is None and unit is not None and person is not None:
        raise InvalidValue("scope", name, "is both a unit and a leader; say which with scope_kind")
    if unit is not None:
        return ScopeKind.unit.value, unit.id, None, f"unit:{unit.id}"
    if person is not None:
        return ScopeKind.leader.value, None, person.id, f"leader:{person.id}"
    if kind not in (None, "unit", "leader"):
        raise InvalidValue("scope_kind", scope_kind, "use county, unit or leader")
    raise NotFound(kind or "unit or leader", name)


def _growth(value: float | str | Decimal | None) -> float | None:
    if value is None:
        return None
    text = str(value).strip()
    try:
        number = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise InvalidValue("growth", value, "a fraction such as 0.1 or a percentage such as 10%") from None
    if not number.is_finite() or number <= -1:
        raise InvalidValue("growth", value, "must be a finite fraction above -1 (0.1 means +10%)")
    return float(number)


def set_target(
    session: Session,
    *,
    metric: str,
    period: str | int | Period,
    actor: str,
    amount_yuan: int | str | Decimal | None = None,
    count: int | None = None,
    growth: float | str | Decimal | None = None,
    scope: str = "county",
    scope_kind: str | None = None,
    weight: float | None = None,
    commit: bool = True,
) -> Target:
    """Set the target of `metric` for `period` and `scope` (one per scope: a second call updates it).

    `amount_yuan` for money metrics (arrived_yuan, contracted_yuan, reserve_yuan; ``263亿`` is
    read exactly), `count` for deals_signed / deals_started; `growth` is the target growth
    over the same period last year as a fraction (0.1) or ``10%``. `scope` is ``county`` or
    the name of a unit or leader (`scope_kind` says which when a name is both). On update,
    arguments left None keep their stored value. Every changed field is audited.
    """
    try:
        metric_value = TargetMetric(metric).value
    except ValueError:
        raise InvalidValue("metric", metric, f"use one of {', '.join(m.value for m in TargetMetric)}") from None
    p = parse_period(period)
    if metric_value in MONEY_METRICS:
        if count is not None:
            raise InvalidValue("count", count, f"{metric_value} is an amount of money; give amount_yuan")
        amount = None if amount_yuan is None else parse_yuan(amount_yuan, "元", field="amount_yuan")
    else:
        if amount_yuan is not None:
            raise InvalidValue("amount_yuan", amount_yuan, f"{metric_value} is a number of deals; give count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise InvalidValue("count", count, "a whole number of deals, 0 or more")
        amount = count
    growth_value = _growth(growth)
    if weight is not None and (weight != weight or weight < 0):
        raise InvalidValue("weight", weight, "a scorecard weight must be 0 or more")
    kind, unit_id, leader_id, key = _scope(session, scope, scope_kind)
    existing = session.exec(
        select(Target).where(
            Target.metric == metric_value,
            Target.period_kind == p.kind,
            Target.period_start == p.start,
            Target.scope_key == key,
        )
    ).first()
    if existing is None and amount is None and growth_value is None:
        raise InvalidValue("amount_yuan", None, "a target needs an amount (or count), a growth rate, or both")
    with unit_of_work(session, commit=commit):
        if existing is None:
            target = Target(
                metric=metric_value,
                period_kind=p.kind,
                period_start=p.start,
                scope_kind=kind,
                unit_id=unit_id,
                leader_id=leader_id,
                scope_key=key,
                amount=amount,
                growth=growth_value,
                weight=weight,
            )
            session.add(target)
            session.flush()
            record_creation(session, target, actor=actor)
        else:
            target = existing
            changes = {"amount": amount, "growth": growth_value, "weight": weight}
            record_changes(
                session, target, {k: v for k, v in changes.items() if v is not None}, actor=actor, action="update"
            )
            session.flush()
    return target
