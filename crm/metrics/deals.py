"""履约率, 资金到位率 and 竣工投产率 of a cohort of deals (``kpis``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from crm.metrics.common import (
    DEAL,
    SIZE_CLASS,
    finish_groups,
    group_deals,
    parse_by,
    ratio,
    resolve_filters,
    resolve_rules,
)
from crm.models import CountingRules
from crm.rules import (
    big_sum,
    check_size_bounds,
    cohort_conditions,
    cohort_facts,
    cohort_start,
    deal_sizes,
    not_replaced,
    rules_label,
    size_conditions,
    state_flags,
)

KPI_COLUMNS = [
    "signed",
    "started",
    "in_production",
    "terminated",
    "contracted_yuan",
    "arrived_yuan",
    "fulfillment_rate",
    "capital_arrival_rate",
    "completion_rate",
    "unstarted",
    "in_construction",
    "active",
    "start_rate",
]


UNSTARTED_LEVELS = ("red", "yellow", "green")


def cohort_query(
    rs: CountingRules,
    as_of: date,
    dims: Sequence[str],
    filters: Mapping[str, str | None],
    *,
    signed_from: date | None = None,
    signed_to: date | None = None,
    trip: int | None = None,
    min_amount: int | None = None,
    max_amount: int | None = None,
    detail: bool = False,
) -> tuple[Any, Any, Any, list[ColumnElement[bool]], list[ColumnElement[Any]]]:
    """(facts, root deal alias, joined source, conditions, group columns) of a kpis cohort.

    A filter value None keeps the deals without that dimension (the group kpis shows as empty).
    `min_amount` / `max_amount` (yuan) keep deals whose size as of as_of is min_amount <= size <
    max_amount; grouping by size_class joins the sizes too (see ``finish_groups``).
    """
    facts = cohort_facts(rs, as_of, detail=detail)
    d = DEAL.alias("d")
    source: Any = facts.join(d, d.c.id == facts.c.root_id)
    conditions: list[ColumnElement[bool]] = cohort_conditions(d, rs, as_of)
    if signed_from is not None:
        conditions.append(d.c.signed_on >= signed_from)
    if signed_to is not None:
        conditions.append(d.c.signed_on <= signed_to)
    size = None
    if SIZE_CLASS in dims or min_amount is not None or max_amount is not None:
        sizes = deal_sizes(as_of)
        source = source.join(sizes, sizes.c.root_id == d.c.id)
        size = sizes.c.size_yuan
        conditions += size_conditions(size, min_amount, max_amount)
    grouping = group_deals(source, d, dims, filters, size=size, rules=rs, trip=trip)
    return facts, d, grouping.source, [*conditions, *grouping.conditions], grouping.columns


def kpis(
    session: Session,
    *,
    by: str | Sequence[str] | None = None,
    signed_from: date | None = None,
    signed_to: date | None = None,
    as_of: date | None = None,
    rules: str | CountingRules | None = None,
    trip: int | None = None,
    min_amount: int | None = None,
    max_amount: int | None = None,
    **filters: str,
) -> pd.DataFrame:
    """履约率, 资金到位率 and 竣工投产率 of a cohort of deals, one row per group.

    The cohort: deals signed between `signed_from` and `signed_to` (inclusive) and on or
    before `as_of` (default today), within the rules' cohort window, matching `filters`
    (industry=, origin=, unit=, leader=, introducer=, credited_unit=, signing_event= by name)
    and, with `trip`, signed from leads met on that trip (a lead's visit belongs to the trip).
    `by` names dimensions (see DIMENSIONS, comma-separated or a list). `min_amount` /
    `max_amount` (yuan) keep deals whose size as of as_of (contracted amount with the
    increases signed by then) is min_amount <= size < max_amount; ``by="size_class"``
    groups by the rules' size classes.

    Columns: the dimensions, then signed (deals in the cohort), started (started or in
    production, not terminated, as of as_of), in_production, terminated, contracted_yuan
    (including increases), arrived_yuan (arrivals up to as_of of the counted sources),
    fulfillment_rate, capital_arrival_rate (arrived ÷ contracted), completion_rate, then
    where the deals stand as of as_of: unstarted (signed, not started, not terminated),
    in_construction (started, not in production, not terminated), active (the two
    together) and start_rate (开工率 = started ÷ signed, whatever the rules count as 履约).
    """
    as_of = as_of or date.today()
    rs = resolve_rules(session, rules)
    dims = parse_by(by)
    filters = resolve_filters(session, filters)
    check_size_bounds(min_amount, max_amount)

    facts, d, source, conditions, group_columns = cohort_query(
        rs,
        as_of,
        dims,
        filters,
        signed_from=signed_from,
        signed_to=signed_to,
        trip=trip,
        min_amount=min_amount,
        max_amount=max_amount,
    )
    started, in_production, terminated = state_flags(d, as_of)
    statement = (
        select(
            *group_columns,
            big_sum(facts.c.is_deal).label("signed"),
            big_sum(facts.c.is_deal * started).label("started"),
            big_sum(facts.c.is_deal * in_production).label("in_production"),
            big_sum(facts.c.is_deal * terminated).label("terminated"),
            big_sum(facts.c.contracted).label("contracted_yuan"),
            big_sum(facts.c.arrived).label("arrived_yuan"),
        )
        .select_from(source)
        .where(*conditions)
    )
    if group_columns:
        statement = statement.group_by(*group_columns).order_by(*group_columns)
    rows = session.connection().execute(statement).mappings().all()
    df = pd.DataFrame([dict(row) for row in rows], columns=[c.key for c in statement.selected_columns])
    df = finish_groups(df, dims, rs)
    for column in KPI_COLUMNS[:6]:
        df[column] = df[column].astype("int64")
    fulfilled = df["started"] if rs.fulfillment_basis == "started_or_later" else df["signed"] - df["terminated"]
    df["fulfillment_rate"] = ratio(fulfilled, df["signed"])
    df["capital_arrival_rate"] = ratio(df["arrived_yuan"], df["contracted_yuan"])
    completion_base = df["started"] if rs.completion_basis == "started" else df["signed"]
    df["completion_rate"] = ratio(df["in_production"], completion_base)
    df["unstarted"] = df["signed"] - df["started"] - df["terminated"]
    df["in_construction"] = df["started"] - df["in_production"]
    df["active"] = df["unstarted"] + df["in_construction"]
    df["start_rate"] = ratio(df["started"], df["signed"])
    df = df[[*dims, *KPI_COLUMNS]].reset_index(drop=True)
    df.attrs["rules"] = rules_label(rs)
    df.attrs["as_of"] = as_of
    return df


def unstarted_by_level(
    session: Session,
    *,
    as_of: date,
    thresholds: tuple[int, int] | None = None,
    rules: str | CountingRules | None = None,
    **filters: Any,
) -> pd.DataFrame:
    """签约未开工 counted by warning level: one row per level (red, yellow, green) with ``deals``.

    The deals are those of ``crm.deals.unstarted`` (the one list of unstarted deals), each at
    the level ``crm.deals.warning_level`` gives its age; `filters` are unstarted's (unit=, ...).
    Without filters the database counts them (one grouped row, no list: a level is a range of
    signing dates); with filters the list is built and counted.
    """
    from crm import deals

    limits = deals._thresholds(thresholds or deals.DEFAULT_THRESHOLDS)
    if filters:
        listed = deals.unstarted(session, as_of=as_of, thresholds=limits, rules=rules, **filters)
        return count_levels(listed)
    rs = resolve_rules(session, rules)
    yellow_from, red_from = as_of - timedelta(days=limits[0]), as_of - timedelta(days=limits[1])
    signed = DEAL.c.signed_on
    # the signing dates go into the sums, not the WHERE: a range that keeps nearly every deal
    # would send SQLite through the signed_on index, a row lookup per deal (6x a plain scan)
    window = [signed <= as_of]
    cohort_from = cohort_start(rs, as_of)
    if cohort_from is not None:
        window.append(signed >= cohort_from)
    statement = select(
        big_sum(case((and_(*window, signed <= red_from), 1), else_=0)),
        big_sum(case((and_(*window, signed > red_from, signed <= yellow_from), 1), else_=0)),
        big_sum(case((and_(*window, signed > yellow_from), 1), else_=0)),
    ).where(
        DEAL.c.increases_id.is_(None),
        or_(DEAL.c.started_on.is_(None), DEAL.c.started_on > as_of),
        or_(DEAL.c.terminated_on.is_(None), DEAL.c.terminated_on > as_of),
        not_replaced(DEAL, as_of),
    )
    counts = session.connection().execute(statement).one()
    return pd.DataFrame({"level": list(UNSTARTED_LEVELS), "deals": [int(n) for n in counts]})


def count_levels(listed: pd.DataFrame) -> pd.DataFrame:
    """The deals of a ``crm.deals.unstarted`` list counted by its ``level`` column: one row per
    level (red, yellow, green) with ``deals``, 0 for a level with none (for a caller that already
    holds the list)."""
    counts = listed["level"].value_counts()
    return pd.DataFrame(
        {"level": list(UNSTARTED_LEVELS), "deals": [int(counts.get(level, 0)) for level in UNSTARTED_LEVELS]}
    )
