"""Exporting a ledger kind to .xlsx or .csv with Chinese headers, in a shape `import_ledger` reads back.

Money goes out in 万元, exactly (``1234.5678`` when the yuan amount needs it; the
spreadsheet shows two decimals); dates as date cells (ISO text in CSV). Text that a
spreadsheet would run as a formula (= + - @, tab, CR) is neutralised, numbers never: in CSV
it gets a leading quote, which the importer removes again; in .xlsx it is stored as text with
Excel's quote prefix (a cell style, so the value itself carries no quote). CSV is UTF-8 with a
BOM so Excel opens it with the right characters. Workbooks print landscape, fitted to the page
width, with the header row on every page.

Both are streamed: rows come from the database FETCH_ROWS at a time and go to the file as they
come (a workbook through xlsxwriter in constant_memory mode, its rows written by ``LedgerSheet``),
so a million-row ledger is never held in memory; the file takes the place of the old one only
once it is whole.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from crm import names
from crm.arrivals import not_voided
from crm.db import core_select as select
from crm.db import sorted_by
from crm.errors import InvalidValue
from crm.ledgers.cells import FORMULA_MARKS, format_period, needs_quote, neutralise
from crm.ledgers.progress import Advance, progress_bar
from crm.ledgers.schema import MONEY_METRICS, Column, LedgerKind, ledger_kind
from crm.models import (
    CapitalArrival,
    Deal,
    Industry,
    Investor,
    Lead,
    Person,
    Region,
    SigningEvent,
    Squad,
    Target,
    Trip,
    TripDestination,
    TripIndustry,
    TripMember,
    Unit,
    Visit,
)
from crm.money import UNITS
from crm.rules import check_size_bounds, deal_sizes, size_conditions

# what --unit filters on: the responsible unit, or the credited unit as rankings credit it
UNIT_FIELDS = {"responsible": "责任单位", "credited": "招引单位, else 责任单位"}
EXCEL_MAX_ROWS = 1_048_575  # one row for the header
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"


def _unit_id(session: Session, name: str | None) -> int | None:
    return None if name is None else names.resolve_id(session, "unit", name)


def _industry_id(session: Session, name: str | None) -> int | None:
    return None if name is None else names.resolve_id(session, "industry", name)


def _no_filter(kind: str, name: str, value: Any) -> None:
    if value is not None:
        raise InvalidValue(name, value, f"a {kind} ledger cannot be filtered by {name}")


def _deals(session: Session, unit: int | None, industry: int | None) -> Select[Any]:
    """The deals with their investor; the small reference tables' names come as ids (see `_DEAL_NAMES`)."""
    q = (
        select(
            Deal.project_name,
            Investor.name,
            Investor.credit_code,
            Deal.origin_region_id,
            Deal.origin_city,
            Deal.industry_id,
            Deal.contracted_yuan,
            Deal.signed_on,
            Deal.signing_event_id,
            Deal.unit_id,
            Deal.leader_id,
            Deal.introducer_id,
            Deal.credited_unit_id,
            Deal.signer,
            Deal.state,
            Deal.started_on,
            Deal.completed_on,
            Deal.terminated_on,
            Deal.termination_reason,
            Deal.registered_on,
            Deal.location,
            Deal.description,
            Deal.id,
        )
        .join(Investor, Investor.id == Deal.investor_id)
        .order_by(sorted_by(Deal.signed_on), Deal.id)
    )
    if unit is not None:
        q = q.where(Deal.unit_id == unit)
    if industry is not None:
        q = q.where(Deal.industry_id == industry)
    return q


_DEAL_FIELDS = (
    "project_name",
    "investor",
    "credit_code",
    "origin",
    "origin_city",
    "industry",
    "contracted_yuan",
    "signed_on",
    "signing_event",
    "unit",
    "leader",
    "introducer",
    "credited_unit",
    "signer",
    "state",
    "started_on",
    "completed_on",
    "terminated_on",
    "termination_reason",
    "registered_on",
    "location",
    "description",
    "deal_id",
)
# the deal fields stored as a reference table's id, named from the table read whole: seven joins made the
# province's deals query 0.4-0.6 s slower than reading these few thousand names once
_DEAL_NAMES: dict[str, Any] = {
    "origin": Region,
    "industry": Industry,
    "signing_event": SigningEvent,
    "unit": Unit,
    "leader": Person,
    "introducer": Person,
    "credited_unit": Unit,
}


def _arrivals(session: Session, unit: int | None, industry: int | None) -> Select[Any]:
    a = CapitalArrival
    q = (
        select(
            Deal.project_name,
            Investor.name,
            Deal.signed_on,
            a.arrived_on,
            a.arrived_yuan,
            a.source,
            a.use,
            a.evidence_kind,
            a.evidence_ref,
            a.verified,
            a.currency,
            a.original_cents,
            a.fx_rate,
            a.note,
            a.id,
        )
        .join(Deal, Deal.id == a.deal_id)
        .join(Investor, Investor.id == Deal.investor_id)
        .where(not_voided())  # a voided arrival must not come back through its own ledger
        .order_by(a.arrived_on, a.id)
    )
    if unit is not None:
        q = q.where(Deal.unit_id == unit)
    if industry is not None:
        q = q.where(Deal.industry_id == industry)
    return q


_ARRIVAL_FIELDS = (
    "project_name",
    "investor",
    "signed_on",
    "arrived_on",
    "arrived_yuan",
    "source",
    "use",
    "evidence_kind",
    "evidence_ref",
    "verified",
    "currency",
    "original_amount",
    "fx_rate",
    "note",
    "arrival_id",
)


def _targets(session: Session, unit: int | None, industry: int | None) -> Select[Any]:
    unit_t, leader_t = aliased(Unit), aliased(Person)
    q = (
        select(
            Target.metric,
            Target.period_kind,
            Target.period_start,
            unit_t.name,
            leader_t.name,
            Target.amount,
            Target.growth,
            Target.weight,
        )
        .outerjoin(unit_t, unit_t.id == Target.unit_id)
        .outerjoin(leader_t, leader_t.id == Target.leader_id)
        .order_by(Target.period_start, Target.metric, Target.scope_key)
    )
    if unit is not None:
        q = q.where(Target.unit_id == unit)
    return q


def _visits(session: Session, unit: int | None, industry: int | None) -> Select[Any]:
    q = (
        select(
            Squad.name,
            Trip.month,
            Visit.visited_on,
            Visit.counterpart,
            Visit.counterpart_kind,
            Visit.status,
            Region.name,
            Visit.city,
            Visit.contact,
            Visit.purpose,
            Visit.attendees,
            Visit.notes,
        )
        .outerjoin(Trip, Trip.id == Visit.trip_id)
        .outerjoin(Squad, Squad.id == Trip.squad_id)
        .outerjoin(Region, Region.id == Visit.region_id)
        .order_by(Visit.visited_on, Visit.id)
    )
    if unit is not None:
        q = q.where(Squad.unit_id == unit)
    return q


_VISIT_FIELDS = (
    "squad",
    "month",
    "visited_on",
    "counterpart",
    "counterpart_kind",
    "status",
    "region",
    "city",
    "contact",
    "purpose",
    "attendees",
    "notes",
)


def _leads(session: Session, unit: int | None, industry: int | None) -> Select[Any]:
    unit_t, owner_t = aliased(Unit), aliased(Person)
    q = (
        select(
            Lead.project_name,
            Lead.investor_name,
            Lead.received_on,
            Lead.source,
            Lead.category,
            Industry.name,
            Region.name,
            Lead.planned_yuan,
            Lead.stage,
            owner_t.name,
            unit_t.name,
            Lead.acknowledged_on,
            Lead.assessed_on,
            Lead.feedback_on,
            Lead.note,
        )
        .outerjoin(Industry, Industry.id == Lead.industry_id)
        .outerjoin(Region, Region.id == Lead.origin_region_id)
        .outerjoin(owner_t, owner_t.id == Lead.owner_id)
        .outerjoin(unit_t, unit_t.id == Lead.unit_id)
        .order_by(Lead.received_on, Lead.id)
    )
    if unit is not None:
        q = q.where(Lead.unit_id == unit)
    if industry is not None:
        q = q.where(Lead.industry_id == industry)
    return q


_LEAD_FIELDS = (
    "project_name",
    "investor_name",
    "received_on",
    "source",
    "category",
    "industry",
    "origin",
    "planned_yuan",
    "stage",
    "owner",
    "unit",
    "acknowledged_on",
    "assessed_on",
    "feedback_on",
    "note",
)


_TRIP_FIELDS = (
    "squad",
    "month",
    "starts_on",
    "ends_on",
    "destinations",
    "industries",
    "leader",
    "unit",
    "members",
    "budget_yuan",
    "spent_yuan",
    "note",
)


def _trip_rows(
    session: Session, unit: int | None, industry: int | None, since: date | None, until: date | None
) -> list[tuple[Any, ...]]:
    """The trips as tuples of _TRIP_FIELDS (a few thousand a year: read whole, with their places, industries, members)."""
    leader_t = aliased(Person)
    q = (
        select(
            Trip.id,
            Squad.name,
            Trip.month,
            Trip.starts_on,
            Trip.ends_on,
            leader_t.name,
            Unit.name,
            Trip.budget_yuan,
            Trip.spent_yuan,
            Trip.note,
        )
        .join(Squad, Squad.id == Trip.squad_id)
        .outerjoin(leader_t, leader_t.id == Squad.leader_id)
        .outerjoin(Unit, Unit.id == Squad.unit_id)
        .order_by(Trip.month, Squad.name, Trip.id)
    )
    if unit is not None:
        q = q.where(Squad.unit_id == unit)
    if industry is not None:
        q = q.where(Trip.id.in_(select(TripIndustry.trip_id).where(TripIndustry.industry_id == industry)))  # type: ignore[union-attr]
    if since is not None:
        q = q.where(Trip.month >= since.replace(day=1))
    if until is not None:
        q = q.where(Trip.month <= until)
    trips = session.execute(q).all()
    ids = [t[0] for t in trips]
    places: dict[int, list[str]] = {}
    industries: dict[int, list[str]] = {}
    members: dict[int, list[str]] = {}
    for start in range(0, len(ids), 5_000):
        chunk = ids[start : start + 5_000]
        for trip_id, region, city in session.execute(
            select(TripDestination.trip_id, Region.name, TripDestination.city)
            .join(Region, Region.id == TripDestination.region_id)
            .where(col(TripDestination.trip_id).in_(chunk))
            .order_by(col(TripDestination.id))
        ):
            places.setdefault(trip_id, []).append(region + (city or ""))
        for trip_id, name in session.execute(
            select(TripIndustry.trip_id, Industry.name)
            .join(Industry, Industry.id == TripIndustry.industry_id)
            .where(col(TripIndustry.trip_id).in_(chunk))
            .order_by(col(Industry.id))
        ):
            industries.setdefault(trip_id, []).append(name)
        for trip_id, name in session.execute(
            select(TripMember.trip_id, Person.name)
            .join(Person, Person.id == TripMember.person_id)
            .where(col(TripMember.trip_id).in_(chunk))
            .order_by(col(Person.id))
        ):
            members.setdefault(trip_id, []).append(name)
    return [
        (
            squad,
            month,
            starts,
            ends,
            places.get(id_, []),
            industries.get(id_, []),
            leader,
            unit_name,
            members.get(id_, []),
            budget,
            spent,
            note,
        )
        for id_, squad, month, starts, ends, leader, unit_name, budget, spent, note in trips
    ]


_TARGET_FIELDS = ("metric", "period", "unit", "leader", "amount", "growth", "weight", "_money")
FETCH_ROWS = 10_000  # rows fetched from the database at a time (a server-side cursor on PostgreSQL)


@dataclass
class _Records:
    """A ledger kind's stored rows as tuples of `fields`, fetched FETCH_ROWS at a time as they are iterated."""

    fields: tuple[str, ...]
    rows: Iterable[Sequence[Any]]
    count: Callable[[], int]  # how many rows there are (a count query; for a progress bar)
    names: dict[str, dict[int, str]] = field(default_factory=dict)  # field -> its stored ids' names

    def named(self) -> Iterator[tuple[Any, ...]]:
        """The rows with the ids of `names` replaced by their names."""
        lookups = [(self.fields.index(f), table) for f, table in self.names.items()]
        for row in self.rows:
            out = list(row)
            for i, table in lookups:
                if out[i] is not None:
                    out[i] = table[out[i]]
            yield tuple(out)


def _streamed(session: Session, q: Select[Any]) -> Iterator[Any]:
    """The rows of `q` on the session's connection and transaction, FETCH_ROWS at a time (Core rows: the
    ORM's per-row handling of a column query costs a third of the reading)."""
    session.flush()
    yield from session.connection().execute(q.execution_options(yield_per=FETCH_ROWS))


def _targets_of(rows: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    for metric, period_kind, start, unit_name, leader, amount, growth, weight in rows:
        yield (
            metric,
            format_period(period_kind, start),
            unit_name,
            leader,
            amount,
            growth,
            weight,
            metric in MONEY_METRICS,
        )


def _arrivals_of(rows: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """Foreign money's original amount from cents; CNY, the default, as blank (an empty cell reads back as CNY)."""
    for row in rows:
        cents, currency = row[11], row[10]
        if cents is None and currency != "CNY":
            yield tuple(row)
            continue
        out = list(row)
        out[11] = None if cents is None else Decimal(cents) / 100
        if currency == "CNY":
            out[10] = None
        yield tuple(out)


def _records(
    session: Session,
    spec: LedgerKind,
    *,
    since: date | None,
    until: date | None,
    unit: str | None,
    industry: str | None,
    unit_field: str,
    min_amount: int | None,
    max_amount: int | None,
) -> _Records:
    """The filters checked and the query built now (a bad filter raises here); the rows come as they are iterated."""
    if spec.name != "deals":
        _no_filter(spec.name, "min_amount", min_amount)
        _no_filter(spec.name, "max_amount", max_amount)
    check_size_bounds(min_amount, max_amount)
    if unit_field not in UNIT_FIELDS:
        raise InvalidValue("unit_field", unit_field, f"filter units on one of {', '.join(UNIT_FIELDS)}")
    credited: int | None = None
    if unit_field == "credited" and unit is not None:
        if spec.name not in ("deals", "arrivals"):
            raise InvalidValue("unit_field", unit_field, f"a {spec.name} ledger has no credited unit (招引单位)")
        credited, unit = _unit_id(session, unit), None
    unit_id = _unit_id(session, unit)
    industry_id = _industry_id(session, industry)
    if spec.name == "trips":
        trips = _trip_rows(session, unit_id, industry_id, since, until)
        return _Records(_TRIP_FIELDS, trips, lambda: len(trips))
    if spec.name in ("targets", "visits"):
        _no_filter(spec.name, "industry", industry)
    builders: dict[str, tuple[Any, tuple[str, ...], Any]] = {
        "deals": (_deals, _DEAL_FIELDS, Deal.signed_on),
        "arrivals": (_arrivals, _ARRIVAL_FIELDS, CapitalArrival.arrived_on),
        "targets": (_targets, _TARGET_FIELDS, Target.period_start),
        "visits": (_visits, _VISIT_FIELDS, Visit.visited_on),
        "leads": (_leads, _LEAD_FIELDS, Lead.received_on),
    }
    build, fields, when = builders[spec.name]
    q = build(session, unit_id, industry_id)
    if credited is not None:
        q = q.where(func.coalesce(Deal.credited_unit_id, Deal.unit_id) == credited)
    if since is not None:
        q = q.where(when >= since)
    if until is not None:
        q = q.where(when <= until)
    bounds_of = deal_sizes(date.max)
    bounds = size_conditions(bounds_of.c.size_yuan, min_amount, max_amount)
    if bounds:
        q = q.where(func.coalesce(col(Deal.increases_id), col(Deal.id)).in_(select(bounds_of.c.root_id).where(*bounds)))

    def count() -> int:
        return int(session.execute(select(func.count()).select_from(q.order_by(None).subquery())).scalar_one())

    class _Rows:  # iterable again and again, each time a new query
        def __iter__(self) -> Iterator[Sequence[Any]]:
            rows = _streamed(session, q)
            if spec.name == "targets":
                return _targets_of(rows)
            if spec.name == "arrivals":
                return _arrivals_of(rows)
            return iter(rows)

    names: dict[str, dict[int, str]] = {}
    if spec.name == "deals":
        tables = {model: _Names(session, model) for model in {*_DEAL_NAMES.values()}}
        names = {f: tables[model] for f, model in _DEAL_NAMES.items()}
    return _Records(fields, _Rows(), count, names)


class _Names(dict[int, str]):
    """A reference table's names by id, read whole; an id added since (by another writer, between this read
    and the rows', as PostgreSQL's read-committed statements may see) is looked up when first met."""

    def __init__(self, session: Session, model: Any) -> None:
        super().__init__(session.execute(select(model.id, model.name)).all())
        self.session, self.model = session, model

    def __missing__(self, key: int) -> str:
        name: str = self.session.execute(select(self.model.name).where(self.model.id == key)).scalar_one()
        self[key] = name
        return name


def ledger_rows(
    session: Session,
    kind: str | LedgerKind,
    *,
    since: date | None = None,
    until: date | None = None,
    unit: str | None = None,
    industry: str | None = None,
    unit_field: str = "responsible",
    min_amount: int | None = None,
    max_amount: int | None = None,
) -> list[dict[str, Any]]:
    """The stored rows of a ledger kind as dicts keyed by column name (money in yuan, choices as stored).

    `unit` filters on the field `unit_field` names (see UNIT_FIELDS): ``responsible`` (责任单位,
    the default) or, for deals and arrivals, ``credited`` (招引单位, else 责任单位: the unit the
    ranking and target actuals credit). Deals only: `min_amount` / `max_amount` (yuan) keep the
    deals whose size (contracted amount with all their increases) is min_amount <= size < max_amount,
    with their increases.
    """
    spec = ledger_kind(kind) if isinstance(kind, str) else kind
    records = _records(
        session,
        spec,
        since=since,
        until=until,
        unit=unit,
        industry=industry,
        unit_field=unit_field,
        min_amount=min_amount,
        max_amount=max_amount,
    )
    fields = records.fields
    return [dict(zip(fields, row, strict=True)) for row in records.named()]


def _wan(yuan: int) -> Decimal:
    """Yuan in 万元, exact, with at least two decimals."""
    value = Decimal(yuan) / UNITS["万元"]
    two = value.quantize(Decimal("0.01"))
    return two if two == value else value.normalize()


class _Number(str):
    """A number cell already written out as text (money in 万元: ``_wan`` exactly, made without Decimal)."""


def _wan_text(yuan: int) -> _Number:
    """``f"{_wan(yuan):f}"``, with integer arithmetic (a million arrivals: Decimal would cost seconds)."""
    sign = "-" if yuan < 0 else ""
    whole, rest = divmod(abs(yuan), 10_000)
    if rest % 100 == 0:
        return _Number(f"{sign}{whole}.{rest // 100:02d}")
    return _Number(f"{sign}{whole}.{rest:04d}".rstrip("0"))


def _percent_text(value: float) -> str:
    return f"{(Decimal(repr(value)) * 100).normalize():f}%"


Convert = Callable[[Any, Sequence[Any]], Any]  # (stored value, its row) -> the exported cell
Plan = list[tuple[int, Convert | None]]  # per exported column: its place in the stored row, how it is exported


def _converter(column: Column, for_csv: bool, money_at: int | None) -> Convert | None:
    """How one column's stored values are exported: money in 万元, choices by label, lists joined, text
    neutralised. None: as stored (a workbook's text, dates, numbers; the sheet writer marks formula text)."""
    kind = column.type
    if kind == "money":
        return lambda v, row: _wan_text(int(v))
    if kind == "amount":  # a target's: money when its metric is (the row's _money)
        if money_at is None:
            return None
        return lambda v, row: _wan_text(int(v)) if row[money_at] else v
    if kind == "choice":
        labels = column.labels
        return lambda v, row: labels.get(str(v), str(v))
    if kind == "bool":
        return lambda v, row: "是" if v else "否"
    if kind == "list":
        if for_csv:
            return lambda v, row: neutralise("、".join(v)) if v else None
        return lambda v, row: "、".join(v) if v else None
    if kind == "percent":
        return (lambda v, row: _percent_text(float(v))) if for_csv else (lambda v, row: float(v))
    if kind == "month" and for_csv:
        return lambda v, row: f"{v:%Y-%m}"
    return None


def _plan(
    columns: list[Column], fields: tuple[str, ...], for_csv: bool, names: dict[str, dict[int, str]] | None = None
) -> Plan:
    """How each of `columns` is exported from rows of `fields`; `names`: the fields stored as ids, with their names."""
    money_at = fields.index("_money") if "_money" in fields else None
    plan = []
    for c in columns:
        convert = _converter(c, for_csv, money_at)
        table = (names or {}).get(c.name)
        if table is not None:  # a name kept as its id: a text column, exported as stored
            assert convert is None, f"{c.name}: a named column is exported as its name"
            convert = _named_cell(table, for_csv)
        plan.append((fields.index(c.name), convert))
    return plan


def _named_cell(table: dict[int, str], for_csv: bool) -> Convert:
    """The name of a stored id, as a text column's cell: for .csv neutralised (see `_csv_rows`)."""
    if for_csv:
        return lambda v, row: neutralise(table[v])
    return lambda v, row: table[v]


def _csv_rows(rows: Iterable[Sequence[Any]], plan: Plan) -> Iterator[list[str]]:
    """The CSV fields of each stored row: exported cells as text, formula text with its neutralising quote."""

    def as_text(f: Convert) -> Callable[[Any, Sequence[Any]], str]:
        return lambda v, row: _csv_text(f(v, row))

    texts = [
        (i, as_text(f) if f is not None else lambda v, row: neutralise(v) if v.__class__ is str else _csv_text(v))
        for i, f in plan
    ]
    for row in rows:
        yield ["" if (v := row[i]) is None else f(v, row) for i, f in texts]


def _text(value: str) -> str:
    """A workbook's text as written: formula text is marked by a style instead (see `_write_xlsx`); only a
    text that itself starts with quotes before a mark gets one more quote, which the importer removes."""
    return neutralise(value) if value.startswith("'") and needs_quote(value) else value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if value.__class__ is str or value.__class__ is _Number:
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _write_csv(path: Path, headers: list[str], rows: Iterable[list[str]], advance: Advance) -> int:
    """Rows written as they come, 10,000 at a time; returns how many."""
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(headers)
        for chunk in _chunks(rows, 10_000):
            writer.writerows(chunk)
            n += len(chunk)
            advance(len(chunk))
    return n


def _chunks(rows: Iterable[list[Any]], size: int) -> Iterator[list[list[Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _width(value: Any) -> int:
    text = _csv_text(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters are two columns wide


def print_setup(sheet: Any, *, header_rows: str) -> None:
    """An openpyxl sheet (the report files): A4 landscape, fitted to one page wide, `header_rows` (e.g. '1:1')
    repeated on every printed page. Ledger exports set the same with xlsxwriter (``_write_xlsx``)."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = 9  # A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = header_rows


def _number_format(column: Column) -> str | None:
    if column.type in ("money", "amount"):
        return MONEY_FORMAT
    return {"date": DATE_FORMAT, "month": "yyyy-mm", "percent": "0.00%"}.get(column.type)


_EXCEL_EPOCH = date(1899, 12, 30)
_MARKS = frozenset(FORMULA_MARKS)  # each one character
_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")  # not allowed in XML: written as Excel's _xHHHH_
_ESCAPE = re.compile(r"(_x[0-9a-fA-F]{4}_)")  # text that reads like one of those escapes


def _escaped(text: str) -> str:
    """Text for the sheet's XML as Excel (and xlsxwriter) write it: & < > escaped, control characters
    as _xHHHH_, and text that already reads like such an escape with its underscore escaped
    (``_x0041_`` is written ``_x005F_x0041_``), so that a reader gives back the text itself."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _ESCAPE.sub(r"_x005F\1", text)
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


_BATCH = 1_000  # rows written at a time (the first batch sizes the columns)
# Text cells a batch writes as they are, checked over the batch's texts joined by newlines (a newline inside a
# text may match too: then each cell is looked at): none holds XML's & < > or a character XML cannot hold
# (_XML_SPECIAL), nor "_x" (an _xHHHH_ escape), none starts with a formula mark, a quote or space
# (_STARTS), and none ends with space (_ENDS).
_XML_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]")
_STARTS = re.compile(r"\n['=+\-@\s]")
_ENDS = re.compile(r"\s\n")


def _plain(texts: list[str]) -> bool:
    """Whether each of `texts` is written into the sheet as it is (see `_cell`)."""
    text = "\n" + "\n".join(texts) + "\n"
    return not ("_x" in text or _XML_SPECIAL.search(text) or _STARTS.search(text) or _ENDS.search(text))


def _column_cells(
    values: Sequence[Any],
    present: list[Any],
    numbers: range,
    attrs: tuple[str, str, str, str],
    serials: dict[date, str],
) -> list[str]:
    """The XML of one column's cells in rows `numbers` ("" for None), the same as `_cell` writes each: a column
    of one kind of value (text written as it is, numbers written out, dates) in one comprehension. `present`:
    the values that are not None; `attrs`: the cell's opening and its number, date and quoted-text styles
    (see `write_ledger_rows`); `serials` keeps each date's serial number."""
    head, number_attr, date_attr, quoted_attr = attrs
    kinds = {v.__class__ for v in present}
    if kinds == {str} and _plain(present):
        return [
            "" if v is None else f'{head}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
            for r, v in zip(numbers, values, strict=True)
        ]
    if kinds == {_Number}:
        return [
            "" if v is None else f"{head}{r}{number_attr}><v>{v}</v></c>" for r, v in zip(numbers, values, strict=True)
        ]
    if kinds == {date}:
        for v in present:
            if v not in serials:
                serials[v] = str((v - _EXCEL_EPOCH).days)
        return [
            "" if v is None else f"{head}{r}{date_attr}><v>{serials[v]}</v></c>"
            for r, v in zip(numbers, values, strict=True)
        ]
    return [
        "" if v is None else _cell(v, head, r, number_attr, date_attr, quoted_attr)
        for r, v in zip(numbers, values, strict=True)
    ]


def _cell(v: Any, head: str, n: int, number_attr: str, date_attr: str, quoted_attr: str) -> str:
    """One cell's XML as xlsxwriter writes it: `v` at the cell `head` opens, in row `n`."""
    cls = v.__class__
    if cls is str:
        first = v[:1]
        if first == "'":
            v = _text(v)
        if _SPECIAL.search(v):
            v = _escaped(v)
        space = ' xml:space="preserve"' if v.strip() != v else ""
        if first in _MARKS:
            return f"{head}{n}{quoted_attr}{space}>{v}</t></is></c>"
        return f'{head}{n}" t="inlineStr"><is><t{space}>{v}</t></is></c>'
    if cls is _Number:
        return f"{head}{n}{number_attr}><v>{v}</v></c>"
    if cls is int:
        return f'{head}{n}"><v>{v}</v></c>'  # whole numbers: no money format (a count target)
    if isinstance(v, bool):
        return f'{head}{n}" t="b"><v>{int(v)}</v></c>'
    if isinstance(v, datetime):
        moment = v.replace(tzinfo=None) - datetime(1899, 12, 30)
        return f"{head}{n}{date_attr}><v>{moment.total_seconds() / 86_400!r}</v></c>"
    if isinstance(v, date):
        return f"{head}{n}{date_attr}><v>{(v - _EXCEL_EPOCH).days}</v></c>"
    if isinstance(v, Decimal):
        return f"{head}{n}{number_attr}><v>{v:f}</v></c>"
    if isinstance(v, int | float):
        return f"{head}{n}{number_attr}><v>{float(v)!r}</v></c>"
    return f'{head}{n}" t="inlineStr"><is><t>{_escaped(str(v))}</t></is></c>'


ZIP_LEVEL = 1  # zlib's fastest: a province's 81 MB sheet in 0.7 s instead of 1.8 s, the file 23% larger


@functools.cache
def _book_class() -> type:
    """xlsxwriter's workbook, its parts deflated at ZIP_LEVEL (xlsxwriter has no option for it: zlib's
    default level 6 took a sixth of a large export)."""
    import zipfile

    import xlsxwriter.workbook

    class LedgerBook(xlsxwriter.workbook.Workbook):
        def _store_workbook(self) -> None:
            # the workbook module's ZipFile, for this call only (xlsxwriter is pinned below 4)
            module = xlsxwriter.workbook
            module.ZipFile = functools.partial(zipfile.ZipFile, compresslevel=ZIP_LEVEL)
            try:
                super()._store_workbook()
            finally:
                module.ZipFile = zipfile.ZipFile

    return LedgerBook


@functools.cache
def _sheet_class() -> type:
    """xlsxwriter's worksheet with a fast row writer (imported on first use: only an .xlsx export needs it)."""
    from xlsxwriter.utility import xl_col_to_name
    from xlsxwriter.worksheet import Worksheet

    class LedgerSheet(Worksheet):
        """Writes a ledger's rows straight into the sheet's XML in constant_memory mode.

        xlsxwriter's own ``write_row`` spends ~12 µs a cell on type dispatch, bounds checks and a
        table per row (100,000 deals: 18 s); this writes a thousand rows at a time, a column at a
        time, with the cell styles worked out once per column, as the same XML xlsxwriter writes
        (inline strings, numbers, date serials).
        """

        def write_ledger_rows(
            self,
            rows: Iterable[Sequence[Any]],
            plan: Plan,
            styles: list[tuple[int, int]],
            quoted: int,
            date_style: int,
            *,
            widths: list[int],
            advance: Advance,
        ) -> int:
            """Write the stored `rows` from the second row on, each cell exported by `plan`; returns how many.
            `styles` per column: (xf of its numbers, xf of its dates) (0: none); `quoted`: the xf of text that
            starts like a formula. The first 1,000 rows widen `widths`. InvalidValue when the rows do not fit
            in a sheet (nothing is kept then).

            The rows go out _BATCH at a time, a column at a time: a column of one kind of value (text that
            needs no escape, numbers, dates) becomes its cells in one comprehension; any other column is
            written cell by cell (`_cell`), as the same XML."""
            assert self.constant_memory, "the ledger rows are written as they come, never held"
            self._write_single_row(1)  # the header row goes out first
            fh = self.fh
            quoted_attr = f'" s="{quoted}" t="inlineStr"><is><t'
            cells = [  # per column: its place in a stored row, its converter, its cells' opening and styles
                (
                    i,
                    f,
                    (f'<c r="{xl_col_to_name(c)}', f'" s="{s}"' if s else '"', f'" s="{d or date_style}"', quoted_attr),
                )
                for c, ((i, f), (s, d)) in enumerate(zip(plan, styles, strict=True))
            ]
            serials: dict[date, str] = {}
            n = 1  # 1-based number of the row written last
            unreported = 0  # rows written since the progress bar last advanced
            it = iter(rows)
            while batch := list(islice(it, _BATCH)):
                numbers = range(n + 1, n + 1 + len(batch))
                n += len(batch)
                if n > EXCEL_MAX_ROWS + 1:
                    raise InvalidValue("file", "", f"more than {EXCEL_MAX_ROWS} rows do not fit in one Excel sheet")
                columns = []
                stored = list(zip(*batch, strict=True))  # the batch's stored values, a column at a time
                for c, (i, f, attrs) in enumerate(cells):
                    values: Sequence[Any] = stored[i]
                    if f is not None:
                        values = [None if v is None else f(v, row) for v, row in zip(values, batch, strict=True)]
                    present = [v for v in values if v is not None]
                    if numbers.start == 2 and present:  # the first 1,000 rows size the columns
                        widths[c] = max(widths[c], *map(_width, present))
                    columns.append(_column_cells(values, present, numbers, attrs, serials))
                fh.write(
                    "".join(
                        [
                            f'<row r="{r}">{"".join(row)}</row>'
                            for r, row in zip(numbers, zip(*columns, strict=True), strict=True)
                        ]
                    )
                )
                unreported += len(batch)
                if unreported >= 10_000:
                    advance(unreported)
                    unreported = 0
            advance(unreported)
            self._check_dimensions(n - 1, len(cells) - 1)
            self.previous_row = n - 1
            return n - 1

        def _write_optimized_sheet_data(self) -> None:
            """The rows' XML copied into the sheet's as bytes: xlsxwriter reads it back as text, decoding and
            encoding again the 81 MB of a province's deals (0.3 s of its export)."""
            if self.dim_rowmin is None:
                super()._write_optimized_sheet_data()
                return
            self._xml_start_tag("sheetData")
            self._opt_close()
            self.fh.flush()
            with open(self.row_data_filename, "rb") as rows:
                shutil.copyfileobj(rows, self.fh.buffer, 1 << 20)
            os.unlink(self.row_data_filename)
            self._xml_end_tag("sheetData")

        def abandon(self) -> None:
            """Close and remove the temporary file of the rows written so far (an export that failed)."""
            self._opt_close()
            Path(self.row_data_filename).unlink(missing_ok=True)

    return LedgerSheet


def _write_xlsx(
    path: Path,
    spec: LedgerKind,
    columns: list[Column],
    headers: list[str],
    rows: Iterable[Sequence[Any]],
    plan: Plan,
    advance: Advance,
    *,
    shown: Path,
) -> int:
    """One sheet written as the rows come (xlsxwriter in constant_memory mode: _BATCH rows in memory at a time),
    printed A4 landscape, fitted to one page wide, the header row frozen and repeated on every page."""
    book = _book_class()(str(path), {"constant_memory": True})
    sheet = book.add_worksheet(spec.title, worksheet_class=_sheet_class())
    try:
        sheet.freeze_panes(1, 0)
        sheet.set_landscape()
        sheet.set_paper(9)  # A4
        # one page wide, as long as it takes; xlsxwriter (like Excel) leaves out a width of 1, the
        # default: given as text it is written out, so every reader sees it
        sheet.fit_to_pages("1", 0)
        sheet.repeat_rows(0)
        bold = book.add_format({"bold": True})
        for index, header in enumerate(headers):
            sheet.write_string(0, index, header, bold)
        formats: dict[str, Any] = {}

        def xf(code: str | None) -> int:
            if code is None:
                return 0
            if code not in formats:
                formats[code] = book.add_format({"num_format": code})
            return int(formats[code]._get_xf_index())

        styles = []
        for column in columns:
            code = _number_format(column)
            is_date = code is not None and column.type in ("date", "month")
            styles.append((0 if is_date else xf(code), xf(code) if is_date else 0))
        quoted = int(book.add_format({"quote_prefix": True})._get_xf_index())
        widths = [_width(h) for h in headers]
        try:
            n = sheet.write_ledger_rows(rows, plan, styles, quoted, xf(DATE_FORMAT), widths=widths, advance=advance)
        except InvalidValue as exc:
            raise InvalidValue("file", str(shown), f"{exc.reason}; export to .csv") from None
        for index, width in enumerate(widths):
            sheet.set_column(index, index, min(max(width + 2, 8), 60))
    except BaseException:
        sheet.abandon()
        raise
    book.close()
    return int(n)


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A file next to `path` to write, put in its place once whole: a failed export leaves `path` as it was."""
    part = path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")
    try:
        part.open("wb").close()  # a missing folder or a read-only one is said now, before any work
        yield part
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def export_ledger(
    session: Session,
    kind: str,
    path: str | Path,
    *,
    since: date | None = None,
    until: date | None = None,
    unit: str | None = None,
    industry: str | None = None,
    progress: bool | None = None,
    unit_field: str = "responsible",
    min_amount: int | None = None,
    max_amount: int | None = None,
) -> int:
    """Write the stored rows of `kind` to `path` (.xlsx or .csv); returns how many rows were written.

    Deals can be limited by size: min_amount <= contracted amount with increases < max_amount (yuan).

    `since`/`until` bound the kind's date (deals: signed_on, arrivals: arrived_on, trips:
    month, visits: visited_on, leads: received_on, targets: period start); `unit` and
    `industry` name a unit (on `unit_field`, see ``ledger_rows``) and an industry. Headers are the Chinese titles,
    money in 万元 (exact), so `import_ledger` reads the file back unchanged.

    Rows are streamed from the database to the file (FETCH_ROWS at a time), so a million-row
    ledger is never held in memory; the file appears whole at `path` only when written.
    """
    spec = ledger_kind(kind)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InvalidValue("file", str(p), "export to a .xlsx or .csv file")
    records = _records(
        session,
        spec,
        since=since,
        until=until,
        unit=unit,
        industry=industry,
        unit_field=unit_field,
        min_amount=min_amount,
        max_amount=max_amount,
    )
    columns = [c for c in spec.columns if c.exported and not (spec.name == "deals" and c.name == "note")]
    headers = [c.export_title for c in columns]
    for_csv = suffix == ".csv"
    plan = _plan(columns, records.fields, for_csv, records.names)
    shown = progress if progress is not None else sys.stderr.isatty()
    total = records.count() if shown else 0  # counted only for a bar that is drawn
    with progress_bar(f"export {p.name}", total, progress) as advance, _replacing(p) as part:
        if for_csv:
            return _write_csv(part, headers, _csv_rows(records.rows, plan), advance)
        return _write_xlsx(part, spec, columns, headers, records.rows, plan, advance, shown=p)
