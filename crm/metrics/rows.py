"""The rows behind a figure: the deals, increases, arrivals (or leads) one group's figure adds up.

Each function takes a figure's own arguments and one group of it, and returns one row per fact
with the amounts it contributes, so that the sums of the rows equal the figure (tested), and a
``member_via`` column saying what put the row in the group (e.g. ``credited via 招引单位
县商务局``). ``rows_behind(session, figure, group, **arguments)`` picks the function by name.

- ``kpis_rows``: columns signed, started, in_production, terminated, contracted_yuan,
  arrived_yuan, each summing to the kpis row's column;
- ``target_rows`` / ``ranking_rows``: column ``value``, summing to the actual of the target
  (a metric, scope and period of ``target_progress``) or of the ranked entity;
- ``funnel_rows``: signed, contracted_yuan, arrived_yuan of a funnel group (trip, squad, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Integer, and_, case, cast, func, literal, select
from sqlmodel import Session

from crm.errors import InvalidValue, NotFound
from crm.metrics.common import (
    ARRIVAL,
    DEAL,
    INDUSTRY,
    LEAD,
    PERSON,
    REGION,
    UNIT,
    parse_by,
    resolve_rules,
    window_of,
)
from crm.metrics.deals import cohort_query
from crm.metrics.trips import FUNNEL_DIMENSIONS, funnel_deals
from crm.models import CountingRules, PeriodKind, TargetMetric
from crm.rules import (
    counted_arrival_conditions,
    in_reserve,
    not_replaced,
    root_deal_id,
    rules_label,
    state_flags,
)
from crm.targets import Period, parse_period

KPI_ROW_COLUMNS = [
    "fact",
    "fact_id",
    "deal_id",
    "root_deal_id",
    "project_name",
    "on",
    "signed",
    "started",
    "in_production",
    "terminated",
    "contracted_yuan",
    "arrived_yuan",
    "member_via",
]
ACTUAL_ROW_COLUMNS = ["fact", "fact_id", "deal_id", "root_deal_id", "project_name", "on", "value", "member_via"]
FUNNEL_ROW_COLUMNS = [
    "fact",
    "fact_id",
    "deal_id",
    "root_deal_id",
    "project_name",
    "on",
    "signed",
    "contracted_yuan",
    "arrived_yuan",
    "member_via",
]
DIMENSION_LABELS = {
    "industry": "产业",
    "origin": "来源地",
    "unit": "责任单位",
    "leader": "包抓领导",
    "introducer": "第一引资人",
    "credited_unit": "招引单位",
    "signing_event": "签约活动",
    "signing_year": "签约年份",
    "signing_month": "签约月份",
}
FIGURES = ("kpis", "targets", "ranking", "trips")


def _frame(session: Session, statement: Any, columns: list[str]) -> pd.DataFrame:
    result = session.connection().execute(statement)
    df = pd.DataFrame([tuple(r) for r in result.all()], columns=list(result.keys()))
    return df.reindex(columns=columns) if not df.empty else pd.DataFrame(columns=columns)


def _ints(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        df[column] = df[column].astype("int64")
    return df


# ---------------------------------------------------------------- kpis


def kpis_rows(
    session: Session,
    group: Mapping[str, Any] | None = None,
    *,
    signed_from: date | None = None,
    signed_to: date | None = None,
    as_of: date | None = None,
    rules: str | CountingRules | None = None,
    trip: int | None = None,
    min_amount: int | None = None,
    max_amount: int | None = None,
    **filters: str,
) -> pd.DataFrame:
    """The facts behind one row of ``kpis`` (same arguments; `group` maps its ``by`` dimensions to
    the row's values, None or {} for the ungrouped figure). Columns: KPI_ROW_COLUMNS."""
    day = as_of or date.today()
    rs = resolve_rules(session, rules)
    group = dict(group or {})
    dims = parse_by(list(group))
    named = {k: v for k, v in group.items() if k not in ("signing_year", "signing_month")}
    facts, d, source, conditions, _ = cohort_query(
        rs,
        day,
        [],
        {**filters, **named},
        signed_from=signed_from,
        signed_to=signed_to,
        trip=trip,
        min_amount=min_amount,
        max_amount=max_amount,
        detail=True,
    )
    if "signing_year" in group:
        conditions.append(cast(func.extract("year", d.c.signed_on), Integer) == int(group["signing_year"]))
    if "signing_month" in group:
        month = group["signing_month"]
        month = month if isinstance(month, date) else date.fromisoformat(str(month)[:10])
        conditions.append(cast(func.extract("year", d.c.signed_on), Integer) == month.year)
        conditions.append(cast(func.extract("month", d.c.signed_on), Integer) == month.month)
    on_deal = DEAL.alias("on_deal")
    started, in_production, terminated = state_flags(d, day)
    statement = (
        select(
            facts.c.fact,
            facts.c.fact_id,
            facts.c.deal_id,
            facts.c.root_id.label("root_deal_id"),
            on_deal.c.project_name,
            facts.c.on,
            facts.c.is_deal.label("signed"),
            (facts.c.is_deal * started).label("started"),
            (facts.c.is_deal * in_production).label("in_production"),
            (facts.c.is_deal * terminated).label("terminated"),
            facts.c.contracted.label("contracted_yuan"),
            facts.c.arrived.label("arrived_yuan"),
        )
        .select_from(source.join(on_deal, on_deal.c.id == facts.c.deal_id))
        .where(*conditions)
        .order_by(facts.c.root_id, facts.c.fact, facts.c.fact_id)
    )
    df = _frame(session, statement, KPI_ROW_COLUMNS)
    parts = [f"{DIMENSION_LABELS[k]} {group[k] if group[k] is not None else '(none)'}" for k in dims]
    parts += [f"{DIMENSION_LABELS[k]} {v}" for k, v in filters.items()]
    if trip is not None:
        parts.append(f"signed from a lead met on trip {trip}")
    base = "; ".join(parts) or "every deal of the cohort"
    df["member_via"] = [
        base if fact == "deal" else f"{base} (root deal {root})"
        for fact, root in zip(df["fact"], df["root_deal_id"], strict=True)
    ]
    df = _ints(df, KPI_ROW_COLUMNS[6:12])
    df.attrs.update({"rules": rules_label(rs), "as_of": day})
    return df


# ---------------------------------------------------------------- target actuals and rankings


def _scope_of(session: Session, scope: str | None, by: str | None = None) -> tuple[str | None, int | None, str]:
    """(key column, entity id, label) of a scope: county, a unit or leader name (or an introducer with by)."""
    if scope is None or scope in ("county", "全县", "县"):
        return None, None, "county"
    kinds = [by] if by else ["unit", "leader"]
    for kind in kinds:
        table = UNIT if kind == "unit" else PERSON
        found = session.connection().execute(select(table.c.id).where(table.c.name == scope)).scalar()
        if found is not None:
            key = {"unit": "unit_key", "leader": "leader_id", "introducer": "introducer_id"}[kind]
            return key, int(found), kind
    raise NotFound(" or ".join(kinds), scope)


def _via(d: Any, key: str | None) -> Any:
    """Why a root deal's row counts for its entity: the column that decided it, named."""
    if key is None:
        return literal("county (every deal)")
    if key == "unit_key":
        credited = select(UNIT.c.name).where(UNIT.c.id == d.c.credited_unit_id).correlate(d).scalar_subquery()
        responsible = select(UNIT.c.name).where(UNIT.c.id == d.c.unit_id).correlate(d).scalar_subquery()
        return case(
            (d.c.credited_unit_id.is_not(None), literal("credited via 招引单位 ") + credited),
            else_=literal("via 责任单位 ") + func.coalesce(responsible, "?") + literal(" (no 招引单位)"),
        )
    word = "包抓领导 " if key == "leader_id" else "第一引资人 "
    person = select(PERSON.c.name).where(PERSON.c.id == d.c[key]).correlate(d).scalar_subquery()
    return literal(word) + func.coalesce(person, "?")


def _entity_condition(d: Any, key: str | None, entity: int | None) -> list[Any]:
    if key is None:
        return []
    column = func.coalesce(d.c.credited_unit_id, d.c.unit_id) if key == "unit_key" else d.c[key]
    return [column == entity]


def actual_rows(
    session: Session,
    *,
    metric: str,
    start: date,
    end: date,
    as_of: date,
    rules: str | CountingRules | None = None,
    key: str | None = None,
    entity: int | None = None,
) -> pd.DataFrame:
    """The facts behind a target actual: `metric` counted between `start` and `end` (inclusive) as
    ``target_progress`` and ``ranking`` count it, for `entity` of `key` (unit_key, leader_id,
    introducer_id; None: the county). Columns: ACTUAL_ROW_COLUMNS; ``value`` sums to the actual."""
    rs = resolve_rules(session, rules)
    w = window_of(rs, start, end)
    m, d = DEAL.alias("m"), DEAL.alias("d")
    joined = m.join(d, d.c.id == root_deal_id(m))
    via = _via(d, key).label("member_via")
    who = _entity_condition(d, key, entity)
    cohort = [] if w.cohort_from is None else [d.c.signed_on >= w.cohort_from]
    if metric == TargetMetric.arrived_yuan:
        statement = (
            select(
                literal("arrival").label("fact"),
                ARRIVAL.c.id.label("fact_id"),
                m.c.id.label("deal_id"),
                d.c.id.label("root_deal_id"),
                m.c.project_name,
                ARRIVAL.c.arrived_on.label("on"),
                ARRIVAL.c.arrived_yuan.label("value"),
                via,
            )
            .select_from(ARRIVAL.join(joined, ARRIVAL.c.deal_id == m.c.id))
            .where(*counted_arrival_conditions(rs, start=w.start, end=w.end), not_replaced(d, as_of), *cohort, *who)
            .order_by(ARRIVAL.c.arrived_on, ARRIVAL.c.id)
        )
    elif metric in (TargetMetric.contracted_yuan, TargetMetric.deals_signed, TargetMetric.deals_started):
        when = m.c.started_on if metric == TargetMetric.deals_started else m.c.signed_on
        value = m.c.contracted_yuan if metric == TargetMetric.contracted_yuan else literal(1)
        conditions = [when >= w.start, when <= w.end, not_replaced(d, as_of), d.c.signed_on <= end, *cohort, *who]
        if metric != TargetMetric.contracted_yuan:
            conditions.append(m.c.increases_id.is_(None))
        statement = (
            select(
                case((m.c.increases_id.is_(None), literal("deal")), else_=literal("increase")).label("fact"),
                m.c.id.label("fact_id"),
                m.c.id.label("deal_id"),
                d.c.id.label("root_deal_id"),
                m.c.project_name,
                when.label("on"),
                value.label("value"),
                via,
            )
            .select_from(joined)
            .where(*conditions)
            .order_by(when, m.c.id)
        )
    else:
        raise InvalidValue(
            "metric", metric, "rows are listed for arrived_yuan, contracted_yuan, deals_signed, deals_started"
        )
    df = _ints(_frame(session, statement, ACTUAL_ROW_COLUMNS), ["value"])
    df.attrs.update({"rules": rules_label(rs), "as_of": as_of})
    return df


def _reserve_rows(session: Session, as_of: date, entity: int | None) -> pd.DataFrame:
    conditions = in_reserve(as_of)
    if entity is not None:
        conditions.append(LEAD.c.unit_id == entity)
    statement = (
        select(
            literal("lead").label("fact"),
            LEAD.c.id.label("fact_id"),
            LEAD.c.deal_id,
            LEAD.c.deal_id.label("root_deal_id"),
            LEAD.c.project_name,
            LEAD.c.received_on.label("on"),
            func.coalesce(LEAD.c.planned_yuan, 0).label("value"),
            (literal("open lead, stage ") + LEAD.c.stage).label("member_via"),
        )
        .where(*conditions)
        .order_by(LEAD.c.received_on, LEAD.c.id)
    )
    return _ints(_frame(session, statement, ACTUAL_ROW_COLUMNS), ["value"])


def target_rows(
    session: Session,
    *,
    metric: str,
    as_of: date,
    scope: str = "county",
    period: str | int | Period | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """The facts behind the ``actual`` of one ``target_progress`` row: `metric`, `scope` (county, a
    unit or a leader name) and `period` (default as_of's year) up to `as_of`."""
    p = parse_period(period if period is not None else as_of.year)
    key, entity, kind = _scope_of(session, scope)
    if metric == TargetMetric.reserve_yuan:
        if kind == "leader":
            raise InvalidValue("scope", scope, "the reserve is counted for the county and units only")
        return _reserve_rows(session, as_of, entity)
    if as_of < p.start:
        return pd.DataFrame(columns=ACTUAL_ROW_COLUMNS)
    return actual_rows(
        session, metric=metric, start=p.start, end=min(as_of, p.end), as_of=as_of, rules=rules, key=key, entity=entity
    )


def ranking_rows(
    session: Session,
    name: str,
    *,
    as_of: date,
    by: str = "unit",
    metric: str = "arrived_yuan",
    year: int | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """The facts behind the ``actual`` of entity `name` in ``ranking`` (same arguments)."""
    p = Period(date(year or as_of.year, 1, 1), PeriodKind.year.value)
    key, entity, _ = _scope_of(session, name, by)
    if as_of < p.start:
        return pd.DataFrame(columns=ACTUAL_ROW_COLUMNS)
    return actual_rows(
        session, metric=metric, start=p.start, end=min(as_of, p.end), as_of=as_of, rules=rules, key=key, entity=entity
    )


# ---------------------------------------------------------------- trips


def _group_id(session: Session, by: str, group: Any) -> Any:
    if by == "trip":
        return int(group)
    if isinstance(group, int):
        return group
    table = {"squad": SQUAD, "region": REGION, "industry": INDUSTRY}[by]
    found = session.connection().execute(select(table.c.id).where(table.c.name == str(group))).scalar()
    if found is None:
        raise NotFound(by, str(group))
    return int(found)


SQUAD = DEAL.metadata.tables["squad"]


def funnel_rows(
    session: Session,
    group: Any,
    *,
    by: str = "trip",
    year: int | None = None,
    as_of: date | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """The facts behind one ``funnel`` group's signed, contracted_yuan and arrived_yuan (same
    arguments; `group` is a trip id, or a squad, region or industry name or id)."""
    if by not in FUNNEL_DIMENSIONS:
        raise InvalidValue("by", by, f"group the funnel by one of {', '.join(FUNNEL_DIMENSIONS)}")
    day = as_of or date.today()
    rs = resolve_rules(session, rules)
    key = _group_id(session, by, group)
    facts, d, source, conditions, _ = cohort_query(rs, day, [], {}, detail=True)
    linked = funnel_deals(by, year)
    on_deal = DEAL.alias("on_deal")
    statement = (
        select(
            facts.c.fact,
            facts.c.fact_id,
            facts.c.deal_id,
            facts.c.root_id.label("root_deal_id"),
            on_deal.c.project_name,
            facts.c.on,
            facts.c.is_deal.label("signed"),
            facts.c.contracted.label("contracted_yuan"),
            facts.c.arrived.label("arrived_yuan"),
        )
        .select_from(
            source.join(on_deal, on_deal.c.id == facts.c.deal_id).join(
                linked, and_(linked.c.deal_id == d.c.id, linked.c.key == key)
            )
        )
        .where(*conditions)
        .order_by(facts.c.root_id, facts.c.fact, facts.c.fact_id)
    )
    df = _ints(_frame(session, statement, FUNNEL_ROW_COLUMNS), ["signed", "contracted_yuan", "arrived_yuan"])
    df["member_via"] = [f"root deal {root} signed from a lead of {by} {group}" for root in df["root_deal_id"]]
    df.attrs.update({"rules": rules_label(rs), "as_of": day})
    return df


def rows_behind(session: Session, figure: str, group: Any = None, **arguments: Any) -> pd.DataFrame:
    """The rows behind one group of `figure` (kpis, targets, ranking, trips), with the figure's arguments.

    `group`: for kpis a mapping of its ``by`` dimensions to values; for targets a mapping with
    metric, scope and period; for ranking the entity's name; for trips the funnel group.
    """
    if figure == "kpis":
        return kpis_rows(session, group, **arguments)
    if figure == "targets":
        chosen = dict(group or {})
        if "metric" not in chosen:
            raise InvalidValue("group", group, "name the target's metric (metric=arrived_yuan)")
        return target_rows(session, **chosen, **arguments)
    if figure == "ranking":
        return ranking_rows(session, str(group), **arguments)
    if figure == "trips":
        return funnel_rows(session, group, **arguments)
    raise InvalidValue("figure", figure, f"rows are listed for {', '.join(FIGURES)}")


__all__ = [
    "ACTUAL_ROW_COLUMNS",
    "FUNNEL_ROW_COLUMNS",
    "KPI_ROW_COLUMNS",
    "actual_rows",
    "funnel_rows",
    "kpis_rows",
    "ranking_rows",
    "rows_behind",
    "target_rows",
]
