"""Period figures: what happened inside a reporting period, against the same dates a year earlier.

``kpis`` is the stock view over a signing cohort; ``period_figures`` counts the events dated
inside [start, end]: deals signed, started (开工), put into production (竣工投产) and
terminated in it, money contracted and arrived in it, and the investment major projects
completed in it (完成投资: the weekly reports whose Friday is in the window, summed per deal by
crm.metrics.major.completed_per_deal, the one definition). A deal started in the period counts
whenever it was signed. Each figure also comes as ``<name>_last_year`` (the same dates a year
earlier, 29 February -> 28 February), ``<name>_diff`` (this − last year, "同比减少9个") and
``<name>_yoy`` ((this − last year) ÷ last year, a fraction, NaN where last year is 0).

The counting rules apply exactly as in ``kpis``, each window judged as of its own end:
- a capital increase is never a deal: its contracted increment counts on its own signing
  date and its arrivals count, both under the deal it increases;
- a deal replaced by a reassignment signed by the window's end is left out, the pair
  counting once as the new deal (a change of investor counts as a signing by the new one);
- arrivals count only from the rules' sources, verified ones only if the rules say so;
- with a cohort window in the rules, only deals signed within it (as of the window's end).

A deal's size (规模) is its contracted amount with the increases signed by the window's end;
``min_amount <= size < max_amount`` filters by it and ``by="size_class"`` groups by the
rules' size classes (crm.rules.size_classes). ``by="zone"`` groups by the deal's park or zone
(园区, deal_zone; a deal without one is the empty group). Completed investment is grouped and
filtered like every other figure, by the deal's dimensions (its unit is the deal's unit, not the
major-project list's responsible unit, which crm.metrics.major.completed_investment uses).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Integer, and_, case, cast, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from crm.errors import InvalidValue
from crm.metrics.common import (
    DEAL,
    DIMENSIONS,
    SIZE_CLASS,
    finish_groups,
    group_deals,
    ratio,
    resolve_filters,
    resolve_rules,
)
from crm.metrics.major import DEAL_ZONE, ZONE, completed_per_deal
from crm.models import CountingRules
from crm.rules import (
    arrivals_per_deal,
    big_sum,
    check_size_bounds,
    cohort_start,
    deal_sizes,
    not_replaced,
    root_deal_id,
    rules_label,
    size_conditions,
)
from crm.targets import parse_period, same_day_last_year

PERIOD_FIGURES = [
    "signed",
    "started",
    "in_production",
    "terminated",
    "contracted_yuan",
    "arrived_yuan",
    "completed_investment_yuan",
]
PERIOD_COLUMNS = [
    column for name in PERIOD_FIGURES for column in (name, f"{name}_last_year", f"{name}_diff", f"{name}_yoy")
]
ZONE_DIMENSION = "zone"  # the deal's park or zone (园区, deal_zone: at most one per deal)
PERIOD_DIMENSIONS = (*DIMENSIONS, ZONE_DIMENSION)

_HALF = re.compile(r"^(?P<y>\d{4})\s*(?:年)?\s*(?:H(?P<h>[12])|(?P<cn>上|下)半年)$", re.IGNORECASE)


def period_range(text: str | int) -> tuple[date, date]:
    """(first day, last day) of ``2026`` (the year), ``2026H1`` / ``2026H2`` (上半年 / 下半年),
    ``2026Q2`` (a quarter) or ``2026-06`` (a month)."""
    value = str(text).strip()
    match = _HALF.match(value)
    if match:
        year = int(match["y"])
        first = (match["h"] or ("1" if match["cn"] == "上" else "2")) == "1"
        return (date(year, 1, 1), date(year, 6, 30)) if first else (date(year, 7, 1), date(year, 12, 31))
    try:
        p = parse_period(value)
    except InvalidValue:
        raise InvalidValue(
            "period", text, "write a year 2026, a half-year 2026H1, a quarter 2026Q2 or a month 2026-06"
        ) from None
    return p.start, p.end


def _parse_dims(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    items = [s.strip() for s in by.split(",")] if isinstance(by, str) else [str(s).strip() for s in by]
    items = [s for s in items if s]
    for item in items:
        if item not in PERIOD_DIMENSIONS:
            raise InvalidValue("by", item, f"group by one of {', '.join(PERIOD_DIMENSIONS)}")
    return list(dict.fromkeys(items))


def _events(
    session: Session,
    rs: CountingRules,
    start: date,
    end: date,
    dims: Sequence[str],
    filters: dict[str, str],
    *,
    trip: int | None,
    min_amount: int | None,
    max_amount: int | None,
) -> pd.DataFrame:
    """The figures of one window [start, end], one row per group (helper group columns kept)."""

    def inside(column: Any) -> ColumnElement[bool]:
        return and_(column >= start, column <= end)

    zero = literal(0, BigInteger)
    is_root = DEAL.c.increases_id.is_(None)

    def event(column: Any) -> ColumnElement[Any]:
        return case((and_(is_root, inside(column)), 1), else_=0)

    # one row per deal row with an event in the window, tagged with its root deal (the deal
    # itself, or the parent of an increase), and one per deal with counted arrivals in it
    m = DEAL.alias("m")
    c = DEAL.alias("c")
    arrived = arrivals_per_deal(rs, start=start, end=end)
    completed = completed_per_deal(start, end).subquery("completed")
    facts = union_all(
        select(
            root_deal_id(DEAL).label("root_id"),
            event(DEAL.c.signed_on).label("signed"),
            event(DEAL.c.started_on).label("started"),
            event(DEAL.c.completed_on).label("in_production"),
            event(DEAL.c.terminated_on).label("terminated"),
            case((inside(DEAL.c.signed_on), cast(DEAL.c.contracted_yuan, BigInteger)), else_=zero).label("contracted"),
            zero.label("arrived"),
            zero.label("completed"),
        ).where(
            or_(
                inside(DEAL.c.signed_on),
                and_(
                    is_root, or_(inside(DEAL.c.started_on), inside(DEAL.c.completed_on), inside(DEAL.c.terminated_on))
                ),
            )
        ),
        select(
            root_deal_id(m),
            literal(0, Integer),
            literal(0, Integer),
            literal(0, Integer),
            literal(0, Integer),
            zero,
            arrived.c.arrived,
            zero,
        ).select_from(arrived.join(m, arrived.c.deal_id == m.c.id)),
        select(
            root_deal_id(c),
            literal(0, Integer),
            literal(0, Integer),
            literal(0, Integer),
            literal(0, Integer),
            zero,
            zero,
            cast(completed.c.completed, BigInteger),
        ).select_from(completed.join(c, completed.c.deal_id == c.c.id)),
    ).subquery("facts")
    d = DEAL.alias("d")
    source: Any = facts.join(d, d.c.id == facts.c.root_id)
    conditions: list[ColumnElement[bool]] = [d.c.increases_id.is_(None), not_replaced(d, end)]
    cohort_from = cohort_start(rs, end)
    if cohort_from is not None:
        conditions.append(d.c.signed_on >= cohort_from)
    size = None
    if SIZE_CLASS in dims or min_amount is not None or max_amount is not None:
        sizes = deal_sizes(end)
        source = source.join(sizes, sizes.c.root_id == d.c.id)
        size = sizes.c.size_yuan
        conditions += size_conditions(size, min_amount, max_amount)
    named = [dim for dim in dims if dim != ZONE_DIMENSION]
    grouping = group_deals(source, d, named, filters, size=size, rules=rs, trip=trip)
    group_columns = list(grouping.columns)
    if ZONE_DIMENSION in dims:
        grouping.source = grouping.source.outerjoin(DEAL_ZONE, DEAL_ZONE.c.deal_id == d.c.id).outerjoin(
            ZONE, ZONE.c.id == DEAL_ZONE.c.zone_id
        )
        # in `dims` order, so that groups sort by it: every dimension before it is one column, signing_month two
        before = dims[: dims.index(ZONE_DIMENSION)]
        group_columns.insert(len(before) + before.count("signing_month"), ZONE.c.name.label(ZONE_DIMENSION))
    statement = (
        select(
            *group_columns,
            big_sum(facts.c.signed).label("signed"),
            big_sum(facts.c.started).label("started"),
            big_sum(facts.c.in_production).label("in_production"),
            big_sum(facts.c.terminated).label("terminated"),
            big_sum(facts.c.contracted).label("contracted_yuan"),
            big_sum(facts.c.arrived).label("arrived_yuan"),
            big_sum(facts.c.completed).label("completed_investment_yuan"),
        )
        .select_from(grouping.source)
        .where(*conditions, *grouping.conditions)
    )
    if group_columns:
        statement = statement.group_by(*group_columns)
    result = session.connection().execute(statement)
    df = pd.DataFrame(result.all(), columns=list(result.keys()))
    for column in PERIOD_FIGURES:
        df[column] = df[column].astype("int64")
    return df


def period_figures(
    session: Session,
    *,
    start: date,
    end: date,
    by: str | Sequence[str] | None = None,
    rules: str | CountingRules | None = None,
    min_amount: int | None = None,
    max_amount: int | None = None,
    trip: int | None = None,
    **filters: str,
) -> pd.DataFrame:
    """What happened in [start, end] (inclusive) and on the same dates a year earlier, one row per group.

    `by` names dimensions (PERIOD_DIMENSIONS: DIMENSIONS, size_class and zone, comma-separated
    or a list); `filters`
    (industry=, origin=, unit=, leader=, introducer=, credited_unit=, signing_event= by name)
    and `trip` (deals signed from leads met on that trip) narrow the deals as in ``kpis``;
    `min_amount` / `max_amount` (yuan) keep deals with min_amount <= size < max_amount.

    Columns: the dimensions, then for each of signed, started, in_production, terminated
    (counts of deals whose signing, start, completion or termination date is in the
    period), contracted_yuan (contracts and increments signed in it), arrived_yuan
    (counted arrivals dated in it) and completed_investment_yuan (完成投资 of major projects,
    weekly reports whose Friday is in it): ``<name>``, ``<name>_last_year``, ``<name>_diff`` and
    ``<name>_yoy`` (NaN where last year is 0). A group with events in only one of the two
    windows has zeros in the other. ``df.attrs`` carries rules, start, end and the last
    year's start and end.
    """
    if start > end:
        raise InvalidValue(
            "start", start.isoformat(), f"the period must start on or before its end ({end.isoformat()})"
        )
    check_size_bounds(min_amount, max_amount)
    rs = resolve_rules(session, rules)
    dims = _parse_dims(by)
    filters = resolve_filters(session, filters)
    last_start, last_end = same_day_last_year(start), same_day_last_year(end)
    options: dict[str, Any] = {"trip": trip, "min_amount": min_amount, "max_amount": max_amount}
    this = _events(session, rs, start, end, dims, filters, **options)
    last = _events(session, rs, last_start, last_end, dims, filters, **options)
    keys = [c for c in this.columns if c not in PERIOD_FIGURES]
    if keys:
        df = this.merge(last, on=keys, how="outer", suffixes=("", "_last_year"))
        df = df.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)
    else:
        df = this.join(last.add_suffix("_last_year"))
    for name in PERIOD_FIGURES:
        now = df[name].fillna(0).astype("int64")
        before = df[f"{name}_last_year"].fillna(0).astype("int64")
        df[name], df[f"{name}_last_year"] = now, before
        df[f"{name}_diff"] = now - before
        df[f"{name}_yoy"] = ratio(now - before, before)
    df = finish_groups(df, dims, rs)
    df = df[[*dims, *PERIOD_COLUMNS]].reset_index(drop=True)
    df.attrs.update(rules=rules_label(rs), start=start, end=end, last_year_start=last_start, last_year_end=last_end)
    return df
