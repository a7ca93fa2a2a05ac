"""履约率, 资金到位率 and 竣工投产率 of a cohort of deals (``kpis``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Integer, case, cast, func, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from crm.metrics.common import (
    DEAL,
    SIZE_CLASS,
    check_filters,
    finish_groups,
    group_deals,
    parse_by,
    ratio,
    resolve_rules,
)
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
    check_filters(filters)
    check_size_bounds(min_amount, max_amount)

    # One row per fact, each tagged with its root deal (the deal itself, or the parent of an
    # increase): the root's own row (is_deal = 1, its contracted amount), each increase's
    # increment, each deal's counted arrivals (summed per deal first). Joined to the root by
    # primary key and grouped once.
    m = DEAL.alias("m")
    zero = literal(0, BigInteger)
    arrived = arrivals_per_deal(rs, start=None, end=as_of)
    facts = union_all(
        # every deal row once (a plain scan): a root counts as a deal with its amount, an
        # increase signed by as_of adds its increment to its root
        select(
            func.coalesce(DEAL.c.increases_id, DEAL.c.id).label("root_id"),
            case((DEAL.c.increases_id.is_(None), 1), else_=0).label("is_deal"),
            case(
                (
                    or_(DEAL.c.increases_id.is_(None), DEAL.c.signed_on <= as_of),
                    cast(DEAL.c.contracted_yuan, BigInteger),
                ),
                else_=zero,
            ).label("contracted"),
            zero.label("arrived"),
        ),
        select(root_deal_id(m), literal(0, Integer), zero, arrived.c.arrived).select_from(
            arrived.join(m, arrived.c.deal_id == m.c.id)
        ),
    ).subquery("facts")
    d = DEAL.alias("d")
    source: Any = facts.join(d, d.c.id == facts.c.root_id)
    conditions: list[ColumnElement[bool]] = [
        d.c.increases_id.is_(None),
        not_replaced(d, as_of),
        d.c.signed_on <= as_of,
    ]
    start = cohort_start(rs, as_of)
    if start is not None:
        conditions.append(d.c.signed_on >= start)
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
    source, group_columns = grouping.source, grouping.columns
    conditions += grouping.conditions

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
