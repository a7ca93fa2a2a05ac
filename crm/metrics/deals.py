"""履约率, 资金到位率 and 竣工投产率 of a cohort of deals (``kpis``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from crm.errors import InvalidValue
from crm.metrics.common import (
    DEAL,
    DIMENSIONS,
    INDUSTRY,
    LEAD,
    PERSON,
    REGION,
    SIGNING_EVENT,
    UNIT,
    VISIT,
    parse_by,
    ratio,
    resolve_rules,
)
from crm.models import CountingRules
from crm.rules import big_sum, cohort_conditions, cohort_facts, rules_label, state_flags

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
    detail: bool = False,
) -> tuple[Any, Any, Any, list[ColumnElement[bool]], list[ColumnElement[Any]]]:
    """(facts, root deal alias, joined source, conditions, group columns) of a kpis cohort.

    A filter value None keeps the deals without that dimension (the group kpis shows as empty).
    """
    facts = cohort_facts(rs, as_of, detail=detail)
    d = DEAL.alias("d")
    source: Any = facts.join(d, d.c.id == facts.c.root_id)
    conditions: list[ColumnElement[bool]] = cohort_conditions(d, rs, as_of)
    if signed_from is not None:
        conditions.append(d.c.signed_on >= signed_from)
    if signed_to is not None:
        conditions.append(d.c.signed_on <= signed_to)
    if trip is not None:
        from_trip = (
            select(LEAD.c.deal_id)
            .join(VISIT, VISIT.c.id == LEAD.c.visit_id)
            .where(VISIT.c.trip_id == trip, LEAD.c.deal_id.is_not(None))
        )
        conditions.append(d.c.id.in_(from_trip))

    named: dict[str, tuple[Any, Any]] = {
        "industry": (INDUSTRY.alias("g_industry"), "industry_id"),
        "origin": (REGION.alias("g_origin"), "origin_region_id"),
        "unit": (UNIT.alias("g_unit"), "unit_id"),
        "leader": (PERSON.alias("g_leader"), "leader_id"),
        "introducer": (PERSON.alias("g_introducer"), "introducer_id"),
        "credited_unit": (UNIT.alias("g_credited_unit"), "credited_unit_id"),
        "signing_event": (SIGNING_EVENT.alias("g_signing_event"), "signing_event_id"),
    }
    group_columns: list[ColumnElement[Any]] = []
    for dim in {*dims, *filters}:
        if dim in named:
            table, fk = named[dim]
            source = source.outerjoin(table, table.c.id == d.c[fk])
    for dim in dims:
        if dim in named:
            group_columns.append(named[dim][0].c.name.label(dim))
        elif dim == "signing_year":
            group_columns.append(cast(func.extract("year", d.c.signed_on), Integer).label("signing_year"))
        else:  # signing_month: year and month, made a first-of-month date below
            group_columns.append(cast(func.extract("year", d.c.signed_on), Integer).label("_sm_year"))
            group_columns.append(cast(func.extract("month", d.c.signed_on), Integer).label("_sm_month"))
    for dim, value in filters.items():
        column = named[dim][0].c.name
        conditions.append(column.is_(None) if value is None else column == value)
    return facts, d, source, conditions, group_columns


def kpis(
    session: Session,
    *,
    by: str | Sequence[str] | None = None,
    signed_from: date | None = None,
    signed_to: date | None = None,
    as_of: date | None = None,
    rules: str | CountingRules | None = None,
    trip: int | None = None,
    **filters: str,
) -> pd.DataFrame:
    """履约率, 资金到位率 and 竣工投产率 of a cohort of deals, one row per group.

    The cohort: deals signed between `signed_from` and `signed_to` (inclusive) and on or
    before `as_of` (default today), within the rules' cohort window, matching `filters`
    (industry=, origin=, unit=, leader=, introducer=, credited_unit=, signing_event= by name)
    and, with `trip`, signed from leads met on that trip (a lead's visit belongs to the trip).
    `by` names dimensions (see DIMENSIONS, comma-separated or a list).

    Columns: the dimensions, then signed (deals in the cohort), started (started or in
    production, not terminated, as of as_of), in_production, terminated, contracted_yuan
    (including increases), arrived_yuan (arrivals up to as_of of the counted sources),
    fulfillment_rate, capital_arrival_rate (arrived ÷ contracted), completion_rate.
    """
    as_of = as_of or date.today()
    rs = resolve_rules(session, rules)
    dims = parse_by(by)
    unknown = set(filters) - set(DIMENSIONS[:7])
    if unknown:
        raise InvalidValue("filter", sorted(unknown)[0], f"filter by one of {', '.join(DIMENSIONS[:7])}")

    facts, d, source, conditions, group_columns = cohort_query(
        rs, as_of, dims, filters, signed_from=signed_from, signed_to=signed_to, trip=trip
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
    if "signing_month" in dims:
        df.insert(
            list(df.columns).index("_sm_year"),
            "signing_month",
            [date(int(y), int(mo), 1) for y, mo in zip(df["_sm_year"], df["_sm_month"], strict=True)],
        )
        df = df.drop(columns=["_sm_year", "_sm_month"])
    for column in KPI_COLUMNS[:6]:
        df[column] = df[column].astype("int64")
    fulfilled = df["started"] if rs.fulfillment_basis == "started_or_later" else df["signed"] - df["terminated"]
    df["fulfillment_rate"] = ratio(fulfilled, df["signed"])
    df["capital_arrival_rate"] = ratio(df["arrived_yuan"], df["contracted_yuan"])
    completion_base = df["started"] if rs.completion_basis == "started" else df["signed"]
    df["completion_rate"] = ratio(df["in_production"], completion_base)
    df = df[[*dims, *KPI_COLUMNS]].reset_index(drop=True)
    df.attrs["rules"] = rules_label(rs)
    df.attrs["as_of"] = as_of
    return df


def unstarted_by_level(
    session: Session, *, as_of: date, thresholds: tuple[int, int] | None = None, **filters: Any
) -> pd.DataFrame:
    """签约未开工 counted by warning level: one row per level (red, yellow, green) with ``deals``.

    The deals are those of ``crm.deals.unstarted`` (the one list of unstarted deals), each at
    the level ``crm.deals.warning_level`` gives its age; `filters` are unstarted's (unit=, ...).
    """
    from crm import deals

    listed = deals.unstarted(session, as_of=as_of, thresholds=thresholds or deals.DEFAULT_THRESHOLDS, **filters)
    counts = listed["level"].value_counts()
    return pd.DataFrame(
        {"level": list(UNSTARTED_LEVELS), "deals": [int(counts.get(level, 0)) for level in UNSTARTED_LEVELS]}
    )
