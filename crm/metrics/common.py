"""What every figure shares: the tables, rule resolution, ratios, grouping dimensions and
date-window sums of arrived and contracted money and deal counts.

The counting rules and the SQL that applies them live in ``crm.rules``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Integer, Select, and_, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel

from crm import names
from crm.errors import InvalidValue
from crm.models import CountingRules, TargetMetric
from crm.rules import (
    arrivals_per_deal,
    big_sum,
    cohort_start,
    deal_sizes,
    get_rules,
    not_replaced,
    root_deal_id,
    size_class_index,
    size_class_labels,
    size_conditions,
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
TRIP = _T["trip"]

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
    "size_class",  # by the rules' size classes (crm.rules.size_classes), where the figure has a deal size
)


def resolve_rules(session: Session, rules: str | CountingRules | None) -> CountingRules:
    return get_rules(session, rules)


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator ÷ denominator as floats, NaN where the denominator is 0."""
    den = denominator.astype("float64")
    return numerator.astype("float64") / den.where(den != 0)


def parse_by(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    items = [s.strip() for s in by.split(",")] if isinstance(by, str) else [str(s).strip() for s in by]
    items = [s for s in items if s]
    for item in items:
        if item not in DIMENSIONS:
            raise InvalidValue("by", item, f"group by one of {', '.join(DIMENSIONS)}")
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------- actuals in date windows


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # inclusive
    cohort_from: date | None


def window_of(rs: CountingRules, start: date, end: date) -> Window:
    return Window(start, end, cohort_start(rs, end))


def in_window(column: Any, d: Any, w: Window) -> ColumnElement[bool]:
    parts = [column >= w.start, column <= w.end]
    if w.cohort_from is not None:
        parts.append(d.c.signed_on >= w.cohort_from)
    return and_(*parts)


def in_cohort(value: Any, d: Any, w: Window) -> Any:
    """`value` where root deal `d` is in window `w`'s cohort (signed within the rules' window), else 0."""
    return value if w.cohort_from is None else case((d.c.signed_on >= w.cohort_from, value), else_=0)


KEY_OF_SCOPE = {"unit": "unit_key", "leader": "leader_id", "introducer": "introducer_id"}


@dataclass
class Actuals:
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


def key_column(d: Any, key: str) -> ColumnElement[Any]:
    if key == "unit_key":
        return func.coalesce(d.c.credited_unit_id, d.c.unit_id).label("unit_key")
    return d.c[key].label(key)


def partials(
    session: Session,
    rs: CountingRules,
    as_of: date,
    windows: Sequence[Window],
    metrics: set[str],
    key: str | None = None,
    min_amount: int | None = None,
    max_amount: int | None = None,
) -> Actuals:
    """Each needed metric summed over each window, in total and per `key` (one grouped query per table).

    `key` is ``unit_key`` (the credited unit, 招引单位, else the responsible unit), ``leader_id``,
    ``introducer_id`` or None (the county total only). Columns ``<metric>__<i>`` for window i.
    Arrivals are summed per deal and window first, then mapped to their root deal, whose
    signing date decides the cohort window and whose unit, leader or introducer the group.
    `min_amount` / `max_amount` (yuan) limit the counts (deals_signed, deals_started) to deals
    whose size as of `as_of` is min_amount <= size < max_amount; money is not limited.
    """
    actuals = Actuals()
    if not windows:
        return actuals
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows)
    statements: list[Select] = []

    if TargetMetric.arrived_yuan in metrics:
        m, d = DEAL.alias("m"), DEAL.alias("d")
        arrived = arrivals_per_deal(
            rs, start=lo, end=hi, windows={f"w{i}": (w.start, w.end) for i, w in enumerate(windows)}
        )
        sums = [big_sum(in_cohort(arrived.c[f"w{i}"], d, w)).label(f"arrived_yuan__{i}") for i, w in enumerate(windows)]
        statements.append(
            select(*([key_column(d, key)] if key else []), *sums)
            .select_from(arrived.join(m, arrived.c.deal_id == m.c.id).join(d, d.c.id == root_deal_id(m)))
            .where(not_replaced(d, as_of))
        )
    if TargetMetric.completed_investment_yuan in metrics:  # 完成投资 of major projects
        from crm.metrics.major import completed_investment_sums

        statements.append(completed_investment_sums([(w.start, w.end) for w in windows], key))
    deal_metrics = metrics & {TargetMetric.contracted_yuan, TargetMetric.deals_signed, TargetMetric.deals_started}
    if deal_metrics:
        m, d = DEAL.alias("m"), DEAL.alias("d")
        is_deal: ColumnElement[bool] = m.c.increases_id.is_(None)
        deal_source: Any = m.join(d, d.c.id == root_deal_id(m))
        if min_amount is not None or max_amount is not None:
            sizes = deal_sizes(as_of)
            deal_source = deal_source.join(sizes, sizes.c.root_id == d.c.id)
            bounds = size_conditions(sizes.c.size_yuan, min_amount, max_amount)
            is_deal = and_(is_deal, *bounds)
        sums = []
        for i, w in enumerate(windows):
            sums += [
                big_sum(case((in_window(m.c.signed_on, d, w), m.c.contracted_yuan), else_=0)).label(
                    f"contracted_yuan__{i}"
                ),
                big_sum(case((and_(is_deal, in_window(m.c.signed_on, d, w)), 1), else_=0)).label(f"deals_signed__{i}"),
                big_sum(case((and_(is_deal, in_window(m.c.started_on, d, w)), 1), else_=0)).label(
                    f"deals_started__{i}"
                ),
            ]
        statements.append(
            select(*([key_column(d, key)] if key else []), *sums)
            .select_from(deal_source)
            .where(not_replaced(d, as_of), d.c.signed_on <= hi)
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


def frame(session: Session, statement: Select) -> pd.DataFrame:
    result = session.connection().execute(statement)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


# ---------------------------------------------------------------- grouping and filtering deals

FILTERS = DIMENSIONS[:7]  # the named dimensions a figure can be filtered by (by name)
SIZE_CLASS = "size_class"

# named dimension -> (reference table, the deal's foreign key to it)
NAMED_DIMENSIONS: dict[str, tuple[Any, str]] = {
    "industry": (INDUSTRY, "industry_id"),
    "origin": (REGION, "origin_region_id"),
    "unit": (UNIT, "unit_id"),
    "leader": (PERSON, "leader_id"),
    "introducer": (PERSON, "introducer_id"),
    "credited_unit": (UNIT, "credited_unit_id"),
    "signing_event": (SIGNING_EVENT, "signing_event_id"),
}


def check_filters(filters: Mapping[str, Any]) -> None:
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise InvalidValue("filter", sorted(unknown)[0], f"filter by one of {', '.join(FILTERS)}")


def resolve_filters(session: Session, filters: Mapping[str, Any]) -> dict[str, Any]:
    """`filters` checked (see FILTERS) with each name in its stored spelling: a name that does not
    exist is an error naming the closest ones (crm.names), never a cohort of zero."""
    check_filters(filters)
    return {dim: names.check(session, dim, value) for dim, value in filters.items()}


@dataclass
class Grouping:
    """What grouping and filtering root deals `d` adds to a statement: joins, group columns, conditions."""

    source: Any
    columns: list[ColumnElement[Any]]
    conditions: list[ColumnElement[bool]]


def group_deals(
    source: Any,
    d: Any,
    dims: Sequence[str],
    filters: Mapping[str, str | None],
    *,
    size: ColumnElement[Any] | None = None,
    rules: CountingRules | None = None,
    trip: int | None = None,
) -> Grouping:
    """Join the reference tables `dims` and `filters` need to root deal alias `d` in `source`.

    Group columns are labelled by dimension, except signing_month (``_sm_year``, ``_sm_month``)
    and size_class (``_size_class``, the index of rules.size_class_index over `size`), which
    ``finish_groups`` turns into a first-of-month date and the class name.
    """
    columns: list[ColumnElement[Any]] = []
    conditions: list[ColumnElement[bool]] = []
    tables = {dim: (table.alias(f"g_{dim}"), fk) for dim, (table, fk) in NAMED_DIMENSIONS.items()}
    for dim in dict.fromkeys([*dims, *filters]):
        if dim in tables:
            table, fk = tables[dim]
            source = source.outerjoin(table, table.c.id == d.c[fk])
    for dim in dims:
        if dim in tables:
            columns.append(tables[dim][0].c.name.label(dim))
        elif dim == "signing_year":
            columns.append(cast(func.extract("year", d.c.signed_on), Integer).label("signing_year"))
        elif dim == "signing_month":
            columns.append(cast(func.extract("year", d.c.signed_on), Integer).label("_sm_year"))
            columns.append(cast(func.extract("month", d.c.signed_on), Integer).label("_sm_month"))
        elif dim == SIZE_CLASS:
            if size is None or rules is None:
                raise InvalidValue("by", dim, "this figure has no deal size to group by")
            columns.append(size_class_index(size, rules).label("_size_class"))
    for dim, value in filters.items():  # None: the deals without that dimension (an empty group)
        column = tables[dim][0].c.name
        conditions.append(column.is_(None) if value is None else column == value)
    if trip is not None:
        from_trip = (
            select(LEAD.c.deal_id)
            .join(VISIT, VISIT.c.id == LEAD.c.visit_id)
            .where(VISIT.c.trip_id == trip, LEAD.c.deal_id.is_not(None))
        )
        conditions.append(d.c.id.in_(from_trip))
    return Grouping(source, columns, conditions)


def finish_groups(df: pd.DataFrame, dims: Sequence[str], rules: CountingRules | None = None) -> pd.DataFrame:
    """Turn the helper columns of ``group_deals`` into the signing_month date and the size_class name."""
    if "signing_month" in dims:
        df.insert(
            list(df.columns).index("_sm_year"),
            "signing_month",
            [date(int(y), int(mo), 1) for y, mo in zip(df["_sm_year"], df["_sm_month"], strict=True)],
        )
        df = df.drop(columns=["_sm_year", "_sm_month"])
    if SIZE_CLASS in dims and rules is not None:
        labels = size_class_labels(rules)
        df.insert(list(df.columns).index("_size_class"), SIZE_CLASS, [labels[int(i)] for i in df["_size_class"]])
        df = df.drop(columns=["_size_class"])
    return df
