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
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Integer, Select, and_, case, cast, func, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel

from crm.errors import InvalidValue
from crm.metrics_major import completed_investment_sums
from crm.models import CountingRules, LeadStage, PeriodKind, ScopeKind, TargetMetric
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
VISIT = _T["visit"]
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


def _not_replaced(d: Any, as_of: date, *, per_arrival: bool = False) -> ColumnElement[bool]:
    """Root deal `d` was not replaced by a deal signed on or before `as_of`.

    Over one row per deal (the usual case, arrivals summed per deal first): a correlated NOT
    EXISTS, which SQLite answers by probing the unique index on replaces_id and PostgreSQL
    as an anti-join. Over one row per arrival (`per_arrival`): an uncorrelated NOT IN, the
    (small) set of replaced ids built once and probed per row, cheaper than an index probe
    per arrival on both databases (measured on 1M arrivals). Never a LEFT JOIN on
    replaces_id: SQLite, rating that mostly-NULL index as useless, then scans the deal
    table for every row.
    """
    if per_arrival:
        replaced = select(DEAL.c.replaces_id).where(DEAL.c.replaces_id.is_not(None), DEAL.c.signed_on <= as_of)
        return d.c.id.not_in(replaced)
    r = DEAL.alias("r")
    return ~select(r.c.id).where(r.c.replaces_id == d.c.id, r.c.signed_on <= as_of).exists()


def _arrivals_per_deal(
    rs: CountingRules,
    *,
    start: date | None,
    end: date,
    windows: Mapping[str, tuple[date, date]] | None = None,
) -> Any:
    """Counted arrivals (the rules' sources, verified if asked) dated start..end, summed per deal.

    A subquery with ``deal_id`` and one BIGINT column per window (named by
    `windows`, each the sum of arrivals dated in its inclusive range) or, without windows,
    ``arrived``. Summing per deal first (one pass over the covering index
    ix_arrival_deal_on_cover) leaves one row per deal, not per arrival, to be mapped to its
    root deal and grouped.
    """
    conditions: list[ColumnElement[bool]] = [ARRIVAL.c.arrived_on <= end, ARRIVAL.c.source.in_(list(rs.sources))]
    if start is not None:
        conditions.append(ARRIVAL.c.arrived_on >= start)
    if rs.verified_only:
        conditions.append(ARRIVAL.c.verified.is_(True))
    if windows is None:
        sums = [_big_sum(ARRIVAL.c.arrived_yuan).label("arrived")]
    else:
        sums = [
            _big_sum(
                ARRIVAL.c.arrived_yuan
                if (lo, hi) == (start, end)  # the window is the whole range
                else case(
                    (and_(ARRIVAL.c.arrived_on >= lo, ARRIVAL.c.arrived_on <= hi), ARRIVAL.c.arrived_yuan), else_=0
                )
            ).label(name)
            for name, (lo, hi) in windows.items()
        ]
    return select(ARRIVAL.c.deal_id, *sums).where(*conditions).group_by(ARRIVAL.c.deal_id).subquery("arrivals_per_deal")


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
    rs = _rules(session, rules)
    dims = _parse_by(by)
    unknown = set(filters) - set(DIMENSIONS[:7])
    if unknown:
        raise InvalidValue("filter", sorted(unknown)[0], f"filter by one of {', '.join(DIMENSIONS[:7])}")

    # One row per fact, each tagged with its root deal (the deal itself, or the parent of an
    # increase): the root's own row (is_deal = 1, its contracted amount), each increase's
    # increment, each deal's counted arrivals (summed per deal first). Joined to the root by
    # primary key and grouped once.
    m = DEAL.alias("m")
    zero = literal(0, BigInteger)
    arrived = _arrivals_per_deal(rs, start=None, end=as_of)
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
        select(func.coalesce(m.c.increases_id, m.c.id), literal(0, Integer), zero, arrived.c.arrived).select_from(
            arrived.join(m, arrived.c.deal_id == m.c.id)
        ),
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


def _in_cohort(value: Any, d: Any, w: _Window) -> Any:
    """`value` where root deal `d` is in window `w`'s cohort (signed within the rules' window), else 0."""
    return value if w.cohort_from is None else case((d.c.signed_on >= w.cohort_from, value), else_=0)


_KEY_OF_SCOPE = {"unit": "unit_key", "leader": "leader_id", "introducer": "introducer_id"}


@dataclass
class _Actuals:
    """Window sums (columns ``<metric>__<i>``) over everything and per entity of one key.

    ``total`` is the county's figure (every group, the one without an entity too); ``by``
    maps column -> entity id -> sum; ``entities`` holds every entity with a group row.
    """

    total: dict[str, int] = field(default_factory=dict)
    by: dict[str, dict[int, int]] = field(default_factory=dict)
    entities: set[int] = field(default_factory=set)

    def get(self, column: str, entity: int | None = None) -> int:
        """The sum of `column` for `entity` (None: the county), 0 when nothing counted."""
        if entity is None:
            return self.total.get(column, 0)
        return self.by.get(column, {}).get(entity, 0)


def _key_column(d: Any, key: str) -> ColumnElement[Any]:
    if key == "unit_key":
        return func.coalesce(d.c.credited_unit_id, d.c.unit_id).label("unit_key")
    return d.c[key].label(key)


def _partials(
    session: Session,
    rs: CountingRules,
    as_of: date,
    windows: Sequence[_Window],
    metrics: set[str],
    key: str | None = None,
) -> _Actuals:
    """Each needed metric summed over each window, in total and per `key` (one grouped query per table).

    `key` is ``unit_key`` (the credited unit, 招引单位, else the responsible unit), ``leader_id``,
    ``introducer_id`` or None (the county total only). Columns ``<metric>__<i>`` for window i.
    Arrivals are summed per deal and window first, then mapped to their root deal, whose
    signing date decides the cohort window and whose unit, leader or introducer the group.
    """
    actuals = _Actuals()
    if not windows:
        return actuals
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows)
    statements: list[Select] = []

    if TargetMetric.arrived_yuan in metrics:
        m, d = DEAL.alias("m"), DEAL.alias("d")
        arrived = _arrivals_per_deal(
            rs, start=lo, end=hi, windows={f"w{i}": (w.start, w.end) for i, w in enumerate(windows)}
        )
        sums = [
            _big_sum(_in_cohort(arrived.c[f"w{i}"], d, w)).label(f"arrived_yuan__{i}") for i, w in enumerate(windows)
        ]
        statements.append(
            select(*([_key_column(d, key)] if key else []), *sums)
            .select_from(
                arrived.join(m, arrived.c.deal_id == m.c.id).join(d, d.c.id == func.coalesce(m.c.increases_id, m.c.id))
            )
            .where(_not_replaced(d, as_of))
        )
    if TargetMetric.completed_investment_yuan in metrics:  # 完成投资 of major projects (crm.metrics_major)
        statements.append(completed_investment_sums([(w.start, w.end) for w in windows], key))
    deal_metrics = metrics & {TargetMetric.contracted_yuan, TargetMetric.deals_signed, TargetMetric.deals_started}
    if deal_metrics:
        m, d = DEAL.alias("m"), DEAL.alias("d")
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
        statements.append(
            select(*([_key_column(d, key)] if key else []), *sums)
            .select_from(m.join(d, d.c.id == func.coalesce(m.c.increases_id, m.c.id)))
            .where(_not_replaced(d, as_of), d.c.signed_on <= hi)
        )
    for statement in statements:
        if key:
            statement = statement.group_by(statement.selected_columns[0])
        result = session.connection().execute(statement)
        columns = list(result.keys())[1 if key else 0 :]
        for column in columns:
            actuals.total.setdefault(column, 0)
            actuals.by.setdefault(column, {})
        for row in result:
            entity = row[0] if key else None
            values = row[1:] if key else row
            if entity is not None:
                actuals.entities.add(int(entity))
            for column, value in zip(columns, values, strict=True):
                actuals.total[column] += int(value)
                if entity is not None:
                    actuals.by[column][int(entity)] = int(value)
    return actuals


def _frame(session: Session, statement: Select) -> pd.DataFrame:
    result = session.connection().execute(statement)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _reserve(session: Session) -> tuple[int, dict[int, int]]:
    """Planned yuan of leads still in the reserve (not signed, not dropped): in total and per unit."""
    statement = (
        select(LEAD.c.unit_id, _big_sum(func.coalesce(LEAD.c.planned_yuan, 0)))
        .where(LEAD.c.stage.in_(_RESERVE_STAGES))
        .group_by(LEAD.c.unit_id)
    )
    rows = session.connection().execute(statement).all()
    return sum(int(r) for _, r in rows), {int(u): int(r) for u, r in rows if u is not None}


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


@dataclass(frozen=True)
class _Entry:
    """One target row of a metric and scope."""

    period: Period
    amount: int | None
    growth: float | None
    weight: float | None
    days: int  # of the period


@lru_cache(maxsize=256)
def _span(period: Period) -> tuple[date, int]:
    """(last day, number of days) of a period; a dashboard asks this of the same few periods thousands of times."""
    return period.end, period.days


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _group_targets(targets: pd.DataFrame) -> dict[tuple[str, str], tuple[str, list[_Entry]]]:
    """Target rows by (metric, scope_key), sorted: the scope's name and its entries, in one pass."""
    groups: dict[tuple[str, str], tuple[str, list[_Entry]]] = {}
    if targets.empty:
        return groups
    columns = ("metric", "scope_key", "scope", "period_kind", "period_start", "amount", "growth", "weight")
    for metric, key, name, kind, start, amount, growth, weight in zip(
        *(targets[c].tolist() for c in columns), strict=True
    ):
        period = Period(start, kind)
        entry = _Entry(period, amount, _number(growth), _number(weight), _span(period)[1])
        groups.setdefault((str(metric), str(key)), (name, []))[1].append(entry)
    return dict(sorted(groups.items()))


def _entity(scope_key: str) -> int | None:
    """The unit or leader id of a scope key (``unit:12`` -> 12), None for the county."""
    return None if scope_key == "county" else int(scope_key.partition(":")[2])


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


def _due_by(finer: Sequence[tuple[Period, int]], until: date) -> int | None:
    """crm.targets.target_to_date, in closed form for the common case of one year target.

    amount × elapsed ÷ days rounded half up is exactly what target_to_date sums month by month.
    """
    if len(finer) == 1 and finer[0][0].kind == PeriodKind.year:
        period, amount = finer[0]
        days, elapsed = period.days, period.elapsed_days(until)
        return (2 * amount * elapsed + days) // (2 * days)
    return target_to_date(finer, until)


def _due(entries: Sequence[_Entry], period: Period, as_of: date) -> _Due:
    """Target, target to date and growth of `period` from the target entries of one metric and scope."""
    end, days = _span(period)
    inside = [e for e in entries if period.start <= e.period.start <= end]
    own = next((e for e in inside if e.period == period), None)
    finer = [(e.period, e.amount) for e in inside if e.amount is not None and e.days <= days]
    target = own.amount if own is not None and own.amount is not None else _due_by(finer, end)
    to_date = _due_by(finer, min(as_of, end)) if finer else None
    if to_date is not None and as_of < period.start:
        to_date = 0
    growth = None if own is None else own.growth
    weight = next((e.weight for e in inside if e.weight is not None), None)
    first = min((p.start for p, _ in finer), default=None)
    return _Due(period, target, to_date, growth, weight, first, time_progress(period, as_of))


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


def _actuals_by_scope(
    session: Session, rs: CountingRules, as_of: date, windows: Sequence[_Window], targets: pd.DataFrame
) -> dict[str, _Actuals]:
    """Window sums for every scope kind with targets, one grouped query per kind and table.

    The county's totals come with the first kind's query (every group counts for the county),
    so the county alone costs no query of its own when units or leaders have targets.
    """
    wanted: dict[str, set[str]] = {}
    for kind, metric in set(zip(targets["scope_kind"], targets["metric"], strict=True)):
        if metric != TargetMetric.reserve_yuan:
            wanted.setdefault(str(kind), set()).add(str(metric))
    keyed = [kind for kind in ("unit", "leader") if kind in wanted]
    county = wanted.pop(ScopeKind.county.value, set())
    out: dict[str, _Actuals] = {}
    if not keyed:
        out[ScopeKind.county.value] = _partials(session, rs, as_of, windows, county)
        return out
    for index, kind in enumerate(keyed):
        metrics = wanted[kind] | (county if index == 0 else set())
        out[kind] = _partials(session, rs, as_of, windows, metrics, _KEY_OF_SCOPE[kind])
    out[ScopeKind.county.value] = out[keyed[0]]
    return out


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
    actuals = _actuals_by_scope(session, rs, as_of, windows, targets)
    reserve = _reserve(session) if TargetMetric.reserve_yuan in set(targets["metric"]) else None
    label = rules_label(rs)

    records: list[dict[str, Any]] = []
    for (metric, scope_key), (name, entries) in _group_targets(targets).items():
        scope_kind = scope_key.partition(":")[0]
        entity = _entity(scope_key)
        for index, period in enumerate(periods):
            if period.kind != PeriodKind.year and not any(e.period == period for e in entries):
                continue
            due = _due(entries, period, as_of)
            if metric == TargetMetric.reserve_yuan:
                actual: int | None = None if reserve is None else _reserve_total(reserve, scope_kind, entity)
                last: int | None = None
            elif as_of < period.start:
                actual, last = 0, None
            else:
                sums = actuals[scope_kind]
                actual = sums.get(f"{metric}__{2 * index}", entity)
                last = sums.get(f"{metric}__{2 * index + 1}", entity)
            completion, note = _completion(actual, due, as_of)
            yoy = (actual - last) / last if actual is not None and last else None
            if last == 0:
                note = "; ".join(n for n in (note, "no data last year: yoy empty") if n)
            records.append(
                {
                    "metric": metric,
                    "scope": name,
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
                    "rules": label,
                }
            )
    df = pd.DataFrame.from_records(records, columns=TARGET_COLUMNS)
    for column in ("target", "target_to_date", "actual", "gap", "last_year", "yoy_diff"):
        df[column] = df[column].astype("Int64")
    for column in ("completion", "yoy", "growth_target", "growth_gap"):
        df[column] = df[column].astype("float64")
    df.attrs["rules"] = label
    df.attrs["as_of"] = as_of
    return df


def _reserve_total(reserve: tuple[int, dict[int, int]], scope_kind: str, entity: int | None) -> int | None:
    total, by_unit = reserve
    if scope_kind == ScopeKind.county:
        return total
    if scope_kind != ScopeKind.unit or entity is None:
        return None
    return by_unit.get(entity, 0)


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
) -> tuple[_Actuals, dict[str, dict[int, list[_Entry]]], Period]:
    """Actuals of the year up to as_of per entity (columns ``<metric>__0``) and the year's target
    entries per metric and entity."""
    period = Period(date(year, 1, 1), PeriodKind.year.value)
    window = _window(rs, period.start, min(as_of, period.end))
    actuals = _partials(session, rs, as_of, [window] if as_of >= period.start else [], set(metrics), _KEY_OF_SCOPE[by])
    targets: dict[str, dict[int, list[_Entry]]] = {}
    if by != "introducer":
        all_targets = _targets_of_year(session, year)
        if not all_targets.empty:
            all_targets = all_targets[all_targets["scope_kind"] == by]
        for metric in metrics:
            targets[metric] = {}
        for (metric, scope_key), (_, entries) in _group_targets(all_targets).items():
            if metric in targets:
                targets[metric][int(scope_key.partition(":")[2])] = entries
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
    by_entity = targets.get(metric, {})
    for entity in sorted(actuals.entities | set(by_entity)):
        actual = actuals.get(f"{metric}__0", entity)
        entries = by_entity.get(entity)
        if entries is None:
            target, to_date, completion, note = None, None, None, "no target"
        else:
            due = _due(entries, period, as_of)
            target, to_date = due.target, due.to_date
            completion, note = _completion(actual, due, as_of)
        records.append(
            {
                "name": names.get(entity, str(entity)),
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
    entities = sorted({entity for by_entity in targets.values() for entity in by_entity})
    records: list[dict[str, Any]] = []
    for entity in entities:
        record: dict[str, Any] = {"name": names.get(entity, str(entity)), "score": 0.0}
        skipped: list[str] = []
        for metric in metrics:
            entries = targets[metric].get(entity)
            record[f"{metric}_ratio"] = None
            if not entries:
                continue
            due = _due(entries, period, as_of)
            actual = actuals.get(f"{metric}__0", entity)
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
        _not_replaced(d, as_of, per_arrival=True),
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
