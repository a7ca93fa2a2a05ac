"""The figures leadership reads, as pandas DataFrames computed by grouped SQL in the database.

Money columns are integer yuan, rates are fractions (0.221), empty groups and zero
denominators give NaN/None. Every frame names its counting rules in ``df.attrs["rules"]``
(``default v1``) and a ``rules`` column where it is a report.

Rules applied always, whatever the counting rules say:
- a deal replaced by a reassignment (another deal signed on or before as_of has
  ``replaces_id`` = its id) is left out: the pair counts once, as the new deal;
- a capital increase (``increases_id`` set) adds its contracted amount (the increment) and
  its arrivals to its parent deal's group and cohort, and is never counted as a deal.

The counting rules (crm.targets.get_rules) decide what counts as 履约, the denominator of
竣工投产率, which capital sources and whether only verified arrivals count, and the cohort
window (deals signed in the last N years before as_of).

A deal's state is taken as of `as_of` from its dates: terminated when terminated_on <= as_of,
else in production when completed_on <= as_of, else started when started_on <= as_of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Integer, Select, and_, case, cast, func, literal, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel

from crm.errors import InvalidValue
from crm.models import CountingRules, LeadStage, PeriodKind, TargetMetric
from crm.targets import (
    Period,
    cohort_start,
    get_rules,
    rules_label,
    same_day_last_year,
    target_to_date,
    time_progress,
)

_T = SQLModel.metadata.tables
DEAL = _T["deal"]
ARRIVAL = _T["capital_arrival"]
INDUSTRY = _T["industry"]
REGION = _T["region"]
UNIT = _T["unit"]
PERSON = _T["person"]
SIGNING_EVENT = _T["signing_event"]
LEAD = _T["lead"]
TARGET = _T["target"]

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
TARGET_COLUMNS = [
    "metric",
    "scope",
    "period",
    "target",
    "target_to_date",
    "actual",
    "completion",
    "time_progress",
    "gap",
    "last_year",
    "yoy",
    "yoy_diff",
    "growth_target",
    "growth_gap",
    "note",
    "rules",
]
RANKING_COLUMNS = ["rank", "name", "target", "target_to_date", "actual", "completion", "last", "note", "rules"]
DIMENSIONS = (
    "industry",
    "origin",
    "unit",
    "leader",
    "introducer",
    "credited_unit",
    "signing_event",
    "signing_year",
    "signing_month",
)
RANK_BY = ("unit", "leader", "introducer")
_RESERVE_STAGES = (LeadStage.contact.value, LeadStage.negotiation.value, LeadStage.intent.value)


def _rules(session: Session, rules: str | CountingRules | None) -> CountingRules:
    return get_rules(session, rules)


def _big_sum(expr: ColumnElement[Any]) -> ColumnElement[int]:
    """SUM as a BIGINT that is 0 over no rows (PostgreSQL sums BIGINT into NUMERIC otherwise)."""
    return cast(func.coalesce(func.sum(expr), 0), BigInteger)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator ÷ denominator as floats, NaN where the denominator is 0."""
    den = denominator.astype("float64")
    return numerator.astype("float64") / den.where(den != 0)


def _state_flags(d: Any, as_of: date) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """(started-or-later, in production, terminated) of deal alias `d` as of `as_of`, each 1 or 0."""
    terminated = and_(d.c.terminated_on.is_not(None), d.c.terminated_on <= as_of)
    started = case((terminated, 0), (and_(d.c.started_on.is_not(None), d.c.started_on <= as_of), 1), else_=0)
    in_production = case((terminated, 0), (and_(d.c.completed_on.is_not(None), d.c.completed_on <= as_of), 1), else_=0)
    return started, in_production, case((terminated, 1), else_=0)


def _not_replaced(d: Any, as_of: date) -> ColumnElement[bool]:
    """Root deal `d` was not replaced by a deal signed on or before `as_of`.

    An uncorrelated NOT IN: both databases build the (small) set of replaced ids once and
    probe it per row. A LEFT JOIN on replaces_id instead lets SQLite, whose statistics rate
    that mostly-NULL index as useless, scan the deal table for every row.
    """
    replaced = select(DEAL.c.replaces_id).where(DEAL.c.replaces_id.is_not(None), DEAL.c.signed_on <= as_of)
    return d.c.id.not_in(replaced)


# ---------------------------------------------------------------- kpis


def _parse_by(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    items = [s.strip() for s in by.split(",")] if isinstance(by, str) else [str(s).strip() for s in by]
    items = [s for s in items if s]
    for item in items:
        if item not in DIMENSIONS:
            raise InvalidValue("by", item, f"group by one of {', '.join(DIMENSIONS)}")
    return list(dict.fromkeys(items))


def kpis(
    session: Session,
    *,
    by: str | Sequence[str] | None = None,
    signed_from: date | None = None,
    signed_to: date | None = None,
    as_of: date | None = None,
    rules: str | CountingRules | None = None,
    **filters: str,
) -> pd.DataFrame:
    """履约率, 资金到位率 and 竣工投产率 of a cohort of deals, one row per group.

    The cohort: deals signed between `signed_from` and `signed_to` (inclusive) and on or
    before `as_of` (default today), within the rules' cohort window, matching `filters`
    (industry=, origin=, unit=, leader=, introducer=, credited_unit=, signing_event= by name).
    `by` names dimensions (see DIMENSIONS, comma-separated or a list).

    Columns: the dimensions, then signed (deals in the cohort), started (started or in
    production, not terminated, as of as_of), in_production, terminated, contracted_yuan
    (including increases), arrived_yuan (arrivals up to as_of of the counted sources),
    fulfillment_rate, capital_arrival_rate (arrived ÷ contracted), completion_rate.
    """
    as_of = as_of or date.today()
    rs = _rules(session, rules)
    dims = _parse_by(by)
    unknown = set(filters) - set(DIMENSIONS[:7])
    if unknown:
        raise InvalidValue("filter", sorted(unknown)[0], f"filter by one of {', '.join(DIMENSIONS[:7])}")

    # One row per fact, each tagged with its root deal (the deal itself, or the parent of an
    # increase): the root's own row (is_deal = 1, its contracted amount), each increase's
    # increment, each counted arrival. Joined to the root by primary key and grouped once.
    m = DEAL.alias("m")
    zero = literal(0, BigInteger)
    arrival_conditions = [ARRIVAL.c.arrived_on <= as_of, ARRIVAL.c.source.in_(list(rs.sources))]
    if rs.verified_only:
        arrival_conditions.append(ARRIVAL.c.verified.is_(True))
    facts = union_all(
        select(
            DEAL.c.id.label("root_id"),
            literal(1, Integer).label("is_deal"),
            cast(DEAL.c.contracted_yuan, BigInteger).label("contracted"),
            zero.label("arrived"),
        ).where(DEAL.c.increases_id.is_(None)),
        select(DEAL.c.increases_id, literal(0, Integer), cast(DEAL.c.contracted_yuan, BigInteger), zero).where(
            DEAL.c.increases_id.is_not(None), DEAL.c.signed_on <= as_of
        ),
        select(
            func.coalesce(m.c.increases_id, m.c.id), literal(0, Integer), zero, cast(ARRIVAL.c.arrived_yuan, BigInteger)
        )
        .select_from(ARRIVAL.join(m, ARRIVAL.c.deal_id == m.c.id))
        .where(*arrival_conditions),
    ).subquery("facts")
    d = DEAL.alias("d")
    source: Any = facts.join(d, d.c.id == facts.c.root_id)
    conditions: list[ColumnElement[bool]] = [
        d.c.increases_id.is_(None),
        _not_replaced(d, as_of),
        d.c.signed_on <= as_of,
    ]
    start = cohort_start(rs, as_of)
    if start is not None:
        conditions.append(d.c.signed_on >= start)
    if signed_from is not None:
        conditions.append(d.c.signed_on >= signed_from)
    if signed_to is not None:
        conditions.append(d.c.signed_on <= signed_to)

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
        conditions.append(named[dim][0].c.name == value)

    started, in_production, terminated = _state_flags(d, as_of)
    statement = (
        select(
            *group_columns,
            _big_sum(facts.c.is_deal).label("signed"),
            _big_sum(facts.c.is_deal * started).label("started"),
            _big_sum(facts.c.is_deal * in_production).label("in_production"),
            _big_sum(facts.c.is_deal * terminated).label("terminated"),
            _big_sum(facts.c.contracted).label("contracted_yuan"),
            _big_sum(facts.c.arrived).label("arrived_yuan"),
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
    df["fulfillment_rate"] = _ratio(fulfilled, df["signed"])
    df["capital_arrival_rate"] = _ratio(df["arrived_yuan"], df["contracted_yuan"])
    completion_base = df["started"] if rs.completion_basis == "started" else df["signed"]
    df["completion_rate"] = _ratio(df["in_production"], completion_base)
    df = df[[*dims, *KPI_COLUMNS]].reset_index(drop=True)
    df.attrs["rules"] = rules_label(rs)
    df.attrs["as_of"] = as_of
    return df


# ---------------------------------------------------------------- actuals in date windows


@dataclass(frozen=True)
class _Window:
    start: date
    end: date  # inclusive
    cohort_from: date | None


def _window(rs: CountingRules, start: date, end: date) -> _Window:
    return _Window(start, end, cohort_start(rs, end))


def _in_window(column: Any, d: Any, w: _Window) -> ColumnElement[bool]:
    parts = [column >= w.start, column <= w.end]
    if w.cohort_from is not None:
        parts.append(d.c.signed_on >= w.cohort_from)
    return and_(*parts)


_KEYS = ("unit_key", "leader_id", "introducer_id")


def _partials(
    session: Session, rs: CountingRules, as_of: date, windows: Sequence[_Window], metrics: set[str]
) -> pd.DataFrame:
    """Per (unit_key, leader_id, introducer_id): each needed metric summed over each window.

    Columns ``<metric>__<i>`` for window i. unit_key is the credited unit (招引单位), else the
    responsible unit. One grouped query per source table (arrivals, deals).
    """
    frames: list[pd.DataFrame] = []
    if not windows:
        return pd.DataFrame(columns=list(_KEYS))
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows)

    def keys(d: Any) -> list[ColumnElement[Any]]:
        return [
            func.coalesce(d.c.credited_unit_id, d.c.unit_id).label("unit_key"),
            d.c.leader_id.label("leader_id"),
            d.c.introducer_id.label("introducer_id"),
        ]

    if TargetMetric.arrived_yuan in metrics:
        m, d = DEAL.alias("m"), DEAL.alias("d")
        key_columns = keys(d)
        sums = [
            _big_sum(case((_in_window(ARRIVAL.c.arrived_on, d, w), ARRIVAL.c.arrived_yuan), else_=0)).label(
                f"arrived_yuan__{i}"
            )
            for i, w in enumerate(windows)
        ]
        conditions = [
            _not_replaced(d, as_of),
            ARRIVAL.c.arrived_on >= lo,
            ARRIVAL.c.arrived_on <= hi,
            ARRIVAL.c.source.in_(list(rs.sources)),
        ]
        if rs.verified_only:
            conditions.append(ARRIVAL.c.verified.is_(True))
        statement: Select = (
            select(*key_columns, *sums)
            .select_from(
                ARRIVAL.join(m, ARRIVAL.c.deal_id == m.c.id).join(d, d.c.id == func.coalesce(m.c.increases_id, m.c.id))
            )
            .where(*conditions)
            .group_by(*key_columns)
        )
        frames.append(_frame(session, statement))
    deal_metrics = metrics & {TargetMetric.contracted_yuan, TargetMetric.deals_signed, TargetMetric.deals_started}
    if deal_metrics:
        m, d = DEAL.alias("m"), DEAL.alias("d")
        key_columns = keys(d)
        is_deal = m.c.increases_id.is_(None)
        sums = []
        for i, w in enumerate(windows):
            sums += [
                _big_sum(case((_in_window(m.c.signed_on, d, w), m.c.contracted_yuan), else_=0)).label(
                    f"contracted_yuan__{i}"
                ),
                _big_sum(case((and_(is_deal, _in_window(m.c.signed_on, d, w)), 1), else_=0)).label(
                    f"deals_signed__{i}"
                ),
                _big_sum(case((and_(is_deal, _in_window(m.c.started_on, d, w)), 1), else_=0)).label(
                    f"deals_started__{i}"
                ),
            ]
        statement = (
            select(*key_columns, *sums)
            .select_from(m.join(d, d.c.id == func.coalesce(m.c.increases_id, m.c.id)))
            .where(_not_replaced(d, as_of), d.c.signed_on <= hi)
            .group_by(*key_columns)
        )
        frames.append(_frame(session, statement))
    if not frames:
        return pd.DataFrame(columns=list(_KEYS))
    merged = frames[0]
    for other in frames[1:]:
        merged = merged.merge(other, on=list(_KEYS), how="outer")
    value_columns = [c for c in merged.columns if c not in _KEYS]
    merged[value_columns] = merged[value_columns].fillna(0).astype("int64")
    return merged


def _frame(session: Session, statement: Select) -> pd.DataFrame:
    rows = session.connection().execute(statement).mappings().all()
    return pd.DataFrame([dict(row) for row in rows], columns=[c.key for c in statement.selected_columns])


def _reserve(session: Session) -> pd.DataFrame:
    """Planned yuan of leads still in the reserve (not signed, not dropped), per unit."""
    statement = (
        select(LEAD.c.unit_id.label("unit_key"), _big_sum(func.coalesce(LEAD.c.planned_yuan, 0)).label("reserve"))
        .where(LEAD.c.stage.in_(_RESERVE_STAGES))
        .group_by(LEAD.c.unit_id)
    )
    return _frame(session, statement)


def _scope_total(partials: pd.DataFrame, scope_key: str, column: str) -> int:
    if partials.empty or column not in partials.columns:
        return 0
    if scope_key == "county":
        return int(partials[column].sum())
    kind, _, ident = scope_key.partition(":")
    key = {"unit": "unit_key", "leader": "leader_id", "introducer": "introducer_id"}[kind]
    values = pd.to_numeric(partials[key], errors="coerce")
    return int(partials.loc[values == int(ident), column].sum())


# ---------------------------------------------------------------- targets


def _targets_of_year(session: Session, year: int, metric: str | None = None) -> pd.DataFrame:
    """Target rows of `year` with a readable scope name (tiny: a county sets dozens)."""
    unit = UNIT.alias("t_unit")
    leader = PERSON.alias("t_leader")
    statement = (
        select(
            TARGET.c.metric,
            TARGET.c.period_kind,
            TARGET.c.period_start,
            TARGET.c.scope_kind,
            TARGET.c.scope_key,
            TARGET.c.amount,
            TARGET.c.growth,
            TARGET.c.weight,
            func.coalesce(unit.c.name, leader.c.name, literal("county")).label("scope"),
        )
        .select_from(
            TARGET.outerjoin(unit, unit.c.id == TARGET.c.unit_id).outerjoin(leader, leader.c.id == TARGET.c.leader_id)
        )
        .where(TARGET.c.period_start >= date(year, 1, 1), TARGET.c.period_start <= date(year, 12, 31))
        .order_by(TARGET.c.metric, TARGET.c.scope_key, TARGET.c.period_start)
    )
    if metric is not None:
        statement = statement.where(TARGET.c.metric == metric)
    df = _frame(session, statement)
    if not df.empty:
        df["amount"] = [None if pd.isna(a) else int(a) for a in df["amount"]]
        df["period_start"] = [v if isinstance(v, date) else date.fromisoformat(str(v)) for v in df["period_start"]]
    return df


def targets_of_year(session: Session, year: int) -> pd.DataFrame:
    """The targets set for `year`: metric, scope, period (2026 / 2026Q2 / 2026-05), amount, growth, weight."""
    df = _targets_of_year(session, year)
    columns = ["metric", "scope", "period", "amount", "growth", "weight"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    df["period"] = [Period(s, k).label for k, s in zip(df["period_kind"], df["period_start"], strict=True)]
    df["amount"] = df["amount"].astype("Int64")
    return df[columns]


@dataclass
class _Due:
    """What one scope must reach for one period."""

    period: Period
    target: int | None
    to_date: int | None
    growth: float | None
    weight: float | None
    first_start: date | None  # start of the earliest target period with an amount
    time_progress: float


def _due(rows: pd.DataFrame, period: Period, as_of: date) -> _Due:
    """Target, target to date and growth of `period` from the target rows of one metric and scope."""
    inside = [
        (Period(start, kind), amount, growth, weight)
        for kind, start, amount, growth, weight in zip(
            rows["period_kind"], rows["period_start"], rows["amount"], rows["growth"], rows["weight"], strict=True
        )
        if period.contains(start)
    ]
    own = next((t for t in inside if t[0] == period), None)
    finer = [(p, a) for p, a, _, _ in inside if a is not None and p.days <= period.days]
    target = own[1] if own is not None and own[1] is not None else target_to_date(finer, period.end)
    to_date = target_to_date(finer, min(as_of, period.end)) if finer else None
    if to_date is not None and as_of < period.start:
        to_date = 0
    growth = None if own is None or own[2] is None or pd.isna(own[2]) else float(own[2])
    weights = [float(w) for _, _, _, w in inside if w is not None and not pd.isna(w)]
    first = min((p.start for p, _ in finer), default=None)
    return _Due(period, target, to_date, growth, weights[0] if weights else None, first, time_progress(period, as_of))


def _completion(actual: int | None, due: _Due, as_of: date) -> tuple[float | None, str]:
    """actual ÷ target of the period, or None with the reason."""
    if due.target is None:
        return None, "growth target only" if due.growth is not None else "no target"
    if due.first_start is not None and as_of < due.first_start:
        return None, f"as of {as_of.isoformat()} is before the first target period ({due.first_start.isoformat()})"
    if due.target == 0:
        return None, "zero target"
    if actual is None:
        return None, "no actual"
    return actual / due.target, ""


def target_progress(
    session: Session,
    *,
    as_of: date,
    year: int | None = None,
    scope: str | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """Progress against every target of `year` (default: as_of's year) as of `as_of`.

    One row per metric and scope for the year, plus one for the quarter and the month that
    contain as_of when they have targets. actual sums the period up to as_of (reserve_yuan:
    the reserve now); last_year the same days a year earlier. completion = actual ÷ target;
    gap = target_to_date − actual (positive: behind schedule); yoy = (actual − last_year) ÷
    last_year, None when last year is 0; yoy_diff = actual − last_year; growth_gap =
    (yoy − growth_target) in percentage points. `scope`: 'county' or a unit or leader name.
    """
    rs = _rules(session, rules)
    year = year or as_of.year
    targets = _targets_of_year(session, year)
    if scope is not None:
        targets = targets[targets["scope"] == scope]
    if targets.empty:
        empty = pd.DataFrame(columns=TARGET_COLUMNS)
        empty.attrs["rules"] = rules_label(rs)
        return empty

    periods: list[Period] = [Period(date(year, 1, 1), PeriodKind.year.value)]
    for kind, start in set(zip(targets["period_kind"], targets["period_start"], strict=True)):
        p = Period(start, kind)
        if kind != PeriodKind.year and p.contains(as_of):
            periods.append(p)
    periods.sort(key=lambda p: (-p.days, p.start))
    windows: list[_Window] = []
    for p in periods:
        end = min(as_of, p.end)
        windows.append(_window(rs, p.start, end))
        windows.append(_window(rs, same_day_last_year(p.start), same_day_last_year(end)))
    metrics = set(targets["metric"])
    partials = _partials(session, rs, as_of, windows, metrics)
    reserve = _reserve(session) if TargetMetric.reserve_yuan in metrics else None

    records: list[dict[str, Any]] = []
    for (metric, scope_key), rows in targets.groupby(["metric", "scope_key"], sort=True):
        for index, period in enumerate(periods):
            if (
                period.kind != PeriodKind.year
                and not ((rows["period_kind"] == period.kind) & (rows["period_start"] == period.start)).any()
            ):
                continue
            due = _due(rows, period, as_of)
            if metric == TargetMetric.reserve_yuan:
                actual: int | None = None if reserve is None else _reserve_total(reserve, str(scope_key))
                last: int | None = None
            elif as_of < period.start:
                actual, last = 0, None
            else:
                actual = _scope_total(partials, str(scope_key), f"{metric}__{2 * index}")
                last = _scope_total(partials, str(scope_key), f"{metric}__{2 * index + 1}")
            completion, note = _completion(actual, due, as_of)
            yoy = (actual - last) / last if actual is not None and last else None
            if last == 0:
                note = "; ".join(n for n in (note, "no data last year: yoy empty") if n)
            records.append(
                {
                    "metric": metric,
                    "scope": rows["scope"].iloc[0],
                    "period": period.label,
                    "target": due.target,
                    "target_to_date": due.to_date,
                    "actual": actual,
                    "completion": completion,
                    "time_progress": due.time_progress,
                    "gap": None if due.to_date is None or actual is None else due.to_date - actual,
                    "last_year": last,
                    "yoy": yoy,
                    "yoy_diff": None if last is None or actual is None else actual - last,
                    "growth_target": due.growth,
                    "growth_gap": None if yoy is None or due.growth is None else (yoy - due.growth) * 100,
                    "note": note,
                    "rules": rules_label(rs),
                }
            )
    df = pd.DataFrame.from_records(records, columns=TARGET_COLUMNS)
    for column in ("target", "target_to_date", "actual", "gap", "last_year", "yoy_diff"):
        df[column] = df[column].astype("Int64")
    for column in ("completion", "yoy", "growth_target", "growth_gap"):
        df[column] = df[column].astype("float64")
    df.attrs["rules"] = rules_label(rs)
    df.attrs["as_of"] = as_of
    return df


def _reserve_total(reserve: pd.DataFrame, scope_key: str) -> int | None:
    if scope_key == "county":
        return int(reserve["reserve"].sum())
    kind, _, ident = scope_key.partition(":")
    if kind != "unit":
        return None
    values = pd.to_numeric(reserve["unit_key"], errors="coerce")
    return int(reserve.loc[values == int(ident), "reserve"].sum())


# ---------------------------------------------------------------- rankings


def _names(session: Session, by: str) -> dict[int, str]:
    table = UNIT if by == "unit" else PERSON
    return {int(i): str(n) for i, n in session.connection().execute(select(table.c.id, table.c.name)).all()}


def _check_rank_args(by: str, metric: str) -> None:
    if by not in RANK_BY:
        raise InvalidValue("by", by, f"rank by one of {', '.join(RANK_BY)}")
    allowed = [m.value for m in TargetMetric if m != TargetMetric.reserve_yuan]
    if metric not in allowed:
        raise InvalidValue("metric", metric, f"rank by one of {', '.join(allowed)}")


def _year_progress(
    session: Session, rs: CountingRules, *, as_of: date, year: int, by: str, metrics: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], Period]:
    """Actuals of the year up to as_of per entity (column per metric) and the year's targets per metric."""
    period = Period(date(year, 1, 1), PeriodKind.year.value)
    window = _window(rs, period.start, min(as_of, period.end))
    partials = _partials(session, rs, as_of, [window] if as_of >= period.start else [], set(metrics))
    key = {"unit": "unit_key", "leader": "leader_id", "introducer": "introducer_id"}[by]
    columns = [f"{m}__0" for m in metrics if f"{m}__0" in partials.columns]
    if partials.empty or not columns:
        actuals = pd.DataFrame(columns=["entity", *metrics])
    else:
        actuals = partials.dropna(subset=[key]).groupby(key)[columns].sum().reset_index()
        actuals = actuals.rename(columns={key: "entity", **{f"{m}__0": m for m in metrics}})
        actuals["entity"] = actuals["entity"].astype("int64")
    targets: dict[str, pd.DataFrame] = {}
    if by != "introducer":
        all_targets = _targets_of_year(session, year)
        for metric in metrics:
            rows = (
                all_targets[(all_targets["metric"] == metric) & (all_targets["scope_kind"] == by)]
                if not all_targets.empty
                else all_targets
            )
            targets[metric] = rows
    return actuals, targets, period


def ranking(
    session: Session,
    *,
    as_of: date,
    by: str = "unit",
    metric: str = "arrived_yuan",
    year: int | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """Units, leaders or introducers ranked by completion of `metric` in as_of's year, ties by actual.

    Units are credited through the deal's credited unit (招引单位), else its responsible unit.
    completion = actual ÷ the year's target (as in target_progress); entities without a target
    (introducers have none) rank after those with one, by actual. ``last`` flags the last place.
    """
    _check_rank_args(by, metric)
    rs = _rules(session, rules)
    year = year or as_of.year
    actuals, targets, period = _year_progress(session, rs, as_of=as_of, year=year, by=by, metrics=[metric])
    names = _names(session, by)
    records: list[dict[str, Any]] = []
    entity_targets = targets.get(metric)
    by_entity: dict[int, pd.DataFrame] = {}
    if entity_targets is not None and not entity_targets.empty:
        for scope_key, rows in entity_targets.groupby("scope_key"):
            by_entity[int(str(scope_key).partition(":")[2])] = rows
    actual_of = dict(zip(actuals["entity"], actuals[metric], strict=True)) if not actuals.empty else {}
    for entity in sorted(set(actual_of) | set(by_entity)):
        actual = int(actual_of.get(entity, 0))
        rows = by_entity.get(entity)
        if rows is None:
            target, to_date, completion, note = None, None, None, "no target"
        else:
            due = _due(rows, period, as_of)
            target, to_date = due.target, due.to_date
            completion, note = _completion(actual, due, as_of)
        records.append(
            {
                "name": names.get(int(entity), str(entity)),
                "target": target,
                "target_to_date": to_date,
                "actual": actual,
                "completion": completion,
                "note": note,
            }
        )
    df = pd.DataFrame.from_records(
        records, columns=["name", "target", "target_to_date", "actual", "completion", "note"]
    )
    df = _rank(df, "completion")
    df["rules"] = rules_label(rs)
    df = df[RANKING_COLUMNS]
    for column in ("target", "target_to_date"):
        df[column] = df[column].astype("Int64")
    df["actual"] = df["actual"].astype("int64")
    df["completion"] = df["completion"].astype("float64")
    df.attrs["rules"] = rules_label(rs)
    return df


def _rank(df: pd.DataFrame, score: str) -> pd.DataFrame:
    """Order by `score` desc (missing last), ties by actual desc; rank 1.. (ties share); flag the last place."""
    if df.empty:
        return df.assign(rank=pd.Series(dtype="int64"), last=pd.Series(dtype="bool"))
    ordered = df.assign(_score=df[score].astype("float64").fillna(float("-inf"))).sort_values(
        ["_score", "actual", "name"], ascending=[False, False, True], kind="stable"
    )
    keys = list(zip(ordered["_score"], ordered["actual"], strict=True))
    ranks: list[int] = []
    for position, key in enumerate(keys, start=1):
        ranks.append(ranks[-1] if position > 1 and key == keys[position - 2] else position)
    ordered = ordered.drop(columns="_score").reset_index(drop=True)
    ordered.insert(0, "rank", ranks)
    # one entity, or all tied, is not "last"
    ordered["last"] = (ordered["rank"] == max(ranks)) & (max(ranks) > 1)
    return ordered


def scorecard(
    session: Session,
    *,
    as_of: date,
    by: str = "unit",
    weights: Mapping[str, float] | None = None,
    cap: float = 1.2,
    year: int | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """A weighted scorecard of units or leaders: score = Σ weight × min(actual ÷ target_to_date, cap).

    Metrics are those with targets for `by` in the year. `weights` maps metric -> weight;
    by default each target's own weight, else 1. A metric whose target to date is 0 (the
    period has not begun) adds nothing and is named in ``note``. Columns: rank, name, score,
    ``<metric>_ratio`` per metric, last, note, rules.
    """
    if by not in ("unit", "leader"):
        raise InvalidValue("by", by, "a scorecard is by unit or by leader (targets are set for them)")
    if cap <= 0:
        raise InvalidValue("cap", cap, "the cap must be positive (1.2 caps a ratio at 120%)")
    rs = _rules(session, rules)
    year = year or as_of.year
    all_targets = _targets_of_year(session, year)
    metrics = (
        sorted(
            {str(m) for m in all_targets["metric"][all_targets["scope_kind"] == by]} - {TargetMetric.reserve_yuan.value}
        )
        if not all_targets.empty
        else []
    )
    for metric in weights or {}:
        if metric not in [m.value for m in TargetMetric]:
            raise InvalidValue("weights", metric, f"weights are per metric: {', '.join(m.value for m in TargetMetric)}")
    actuals, targets, period = _year_progress(session, rs, as_of=as_of, year=year, by=by, metrics=metrics)
    names = _names(session, by)
    actual_of = actuals.set_index("entity") if not actuals.empty else pd.DataFrame()
    entities = sorted({int(str(k).partition(":")[2]) for rows in targets.values() for k in rows["scope_key"]})
    records: list[dict[str, Any]] = []
    for entity in entities:
        record: dict[str, Any] = {"name": names.get(entity, str(entity)), "score": 0.0}
        skipped: list[str] = []
        for metric in metrics:
            rows = targets[metric][targets[metric]["scope_key"] == f"{by}:{entity}"]
            record[f"{metric}_ratio"] = None
            if rows.empty:
                continue
            due = _due(rows, period, as_of)
            actual = int(actual_of.at[entity, metric]) if entity in actual_of.index else 0
            if not due.to_date:
                skipped.append(metric)
                continue
            ratio = min(actual / due.to_date, cap)
            weight = (weights or {}).get(metric, due.weight if due.weight is not None else 1.0)
            record[f"{metric}_ratio"] = ratio
            record["score"] += weight * ratio
        record["actual"] = record["score"]  # ties: no amount to break them across metrics
        record["note"] = f"no target to date yet: {', '.join(skipped)}" if skipped else ""
        records.append(record)
    df = pd.DataFrame.from_records(
        records, columns=["name", "score", *[f"{m}_ratio" for m in metrics], "actual", "note"]
    )
    df = _rank(df, "score").drop(columns="actual")
    df["rules"] = rules_label(rs)
    df = df[["rank", "name", "score", *[f"{m}_ratio" for m in metrics], "last", "note", "rules"]]
    df.attrs["rules"] = rules_label(rs)
    return df


# ---------------------------------------------------------------- arrivals by month


def arrivals_by_month(
    session: Session, *, year: int, rules: str | CountingRules | None = None, as_of: date | None = None
) -> pd.DataFrame:
    """Arrived yuan per month of `year` (up to `as_of`, default the year's end) and in the same month last year.

    Columns: month (1..12), arrived_yuan, last_year_yuan; every month present, 0 when nothing arrived.
    """
    rs = _rules(session, rules)
    as_of = as_of or date(year, 12, 31)
    this = _window(rs, date(year, 1, 1), min(as_of, date(year, 12, 31)))
    last = _window(rs, date(year - 1, 1, 1), same_day_last_year(this.end))
    m, d = DEAL.alias("m"), DEAL.alias("d")
    month = cast(func.extract("month", ARRIVAL.c.arrived_on), Integer).label("month")
    conditions = [
        _not_replaced(d, as_of),
        ARRIVAL.c.arrived_on >= last.start,
        ARRIVAL.c.arrived_on <= this.end,
        ARRIVAL.c.source.in_(list(rs.sources)),
    ]
    if rs.verified_only:
        conditions.append(ARRIVAL.c.verified.is_(True))
    statement = (
        select(
            month,
            _big_sum(case((_in_window(ARRIVAL.c.arrived_on, d, this), ARRIVAL.c.arrived_yuan), else_=0)).label(
                "arrived_yuan"
            ),
            _big_sum(case((_in_window(ARRIVAL.c.arrived_on, d, last), ARRIVAL.c.arrived_yuan), else_=0)).label(
                "last_year_yuan"
            ),
        )
        .select_from(
            ARRIVAL.join(m, ARRIVAL.c.deal_id == m.c.id).join(d, d.c.id == func.coalesce(m.c.increases_id, m.c.id))
        )
        .where(*conditions)
        .group_by(month)
    )
    found = _frame(session, statement).set_index("month")
    df = pd.DataFrame({"month": range(1, 13)})
    df["arrived_yuan"] = [int(found["arrived_yuan"].get(mo, 0)) for mo in df["month"]]
    df["last_year_yuan"] = [int(found["last_year_yuan"].get(mo, 0)) for mo in df["month"]]
    df.attrs["rules"] = rules_label(rs)
    return df


__all__ = [
    "DIMENSIONS",
    "KPI_COLUMNS",
    "TARGET_COLUMNS",
    "arrivals_by_month",
    "kpis",
    "ranking",
    "scorecard",
    "target_progress",
    "targets_of_year",
]
