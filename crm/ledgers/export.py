"""Exporting a ledger kind to .xlsx or .csv with Chinese headers, in a shape `import_ledger` reads back.

Money goes out in 万元, exactly (``1234.5678`` when the yuan amount needs it; the
spreadsheet shows two decimals); dates as date cells (ISO text in CSV). Text that a
spreadsheet would run as a formula (= + - @, tab, CR) is neutralised, numbers never: in CSV
it gets a leading quote, which the importer removes again; in .xlsx it is stored as text with
Excel's quote prefix (a cell style, so the value itself carries no quote). CSV is UTF-8 with a
BOM so Excel opens it with the right characters. Workbooks print landscape, fitted to the page
width, with the header row on every page.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from crm import names
from crm.arrivals import not_voided
from crm.db import core_select as select
from crm.errors import InvalidValue
from crm.ledgers.cells import FORMULA_MARKS, format_period, needs_quote, neutralise
from crm.ledgers.progress import progress_bar
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
    unit_t, credited_t = aliased(Unit), aliased(Unit)
    leader_t, introducer_t = aliased(Person), aliased(Person)
    q = (
        select(
            Deal.project_name,
            Investor.name,
            Investor.credit_code,
            Region.name,
            Deal.origin_city,
            Industry.name,
            Deal.contracted_yuan,
            Deal.signed_on,
            SigningEvent.name,
            unit_t.name,
            leader_t.name,
            introducer_t.name,
            credited_t.name,
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
        .outerjoin(Region, Region.id == Deal.origin_region_id)
        .outerjoin(Industry, Industry.id == Deal.industry_id)
        .outerjoin(SigningEvent, SigningEvent.id == Deal.signing_event_id)
        .outerjoin(unit_t, unit_t.id == Deal.unit_id)
        .outerjoin(leader_t, leader_t.id == Deal.leader_id)
        .outerjoin(introducer_t, introducer_t.id == Deal.introducer_id)
        .outerjoin(credited_t, credited_t.id == Deal.credited_unit_id)
        .order_by(Deal.signed_on, Deal.id)
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


def _trip_rows(
    session: Session, unit: int | None, industry: int | None, since: date | None, until: date | None
) -> list[dict[str, Any]]:
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
        {
            "squad": squad,
            "month": month,
            "starts_on": starts,
            "ends_on": ends,
            "destinations": places.get(id_, []),
            "industries": industries.get(id_, []),
            "leader": leader,
            "unit": unit_name,
            "members": members.get(id_, []),
            "budget_yuan": budget,
            "spent_yuan": spent,
            "note": note,
        }
        for id_, squad, month, starts, ends, leader, unit_name, budget, spent, note in trips
    ]


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
        return _trip_rows(session, unit_id, industry_id, since, until)
    if spec.name in ("targets", "visits"):
        _no_filter(spec.name, "industry", industry)
    builders: dict[str, tuple[Any, tuple[str, ...], Any]] = {
        "deals": (_deals, _DEAL_FIELDS, Deal.signed_on),
        "arrivals": (_arrivals, _ARRIVAL_FIELDS, CapitalArrival.arrived_on),
        "targets": (_targets, (), Target.period_start),
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
    if spec.name == "targets":
        out = []
        for metric, period_kind, start, unit_name, leader, amount, growth, weight in session.execute(q):
            out.append(
                {
                    "metric": metric,
                    "period": format_period(period_kind, start),
                    "unit": unit_name,
                    "leader": leader,
                    "amount": amount,
                    "growth": growth,
                    "weight": weight,
                    "_money": metric in MONEY_METRICS,
                }
            )
        return out
    rows = [dict(zip(fields, row, strict=True)) for row in session.execute(q)]
    if spec.name == "arrivals":
        for row in rows:
            cents = row["original_amount"]
            row["original_amount"] = None if cents is None else Decimal(cents) / 100
            if row["currency"] == "CNY":
                row["currency"] = None  # the default; an empty cell reads back as CNY
    return rows


def _wan(yuan: int) -> Decimal:
    """Yuan in 万元, exact, with at least two decimals."""
    value = Decimal(yuan) / UNITS["万元"]
    two = value.quantize(Decimal("0.01"))
    return two if two == value else value.normalize()


def _percent_text(value: float) -> str:
    return f"{(Decimal(repr(value)) * 100).normalize():f}%"


def _cell(column: Column, value: Any, row: dict[str, Any], *, for_csv: bool) -> Any:
    """One exported cell: money in 万元, choices by label, lists joined, text neutralised."""
    if value is None:
        return None
    kind = column.type
    if kind == "money" or (kind == "amount" and row.get("_money")):
        return _wan(int(value))
    if kind == "choice":
        return column.labels.get(str(value), str(value))
    if kind == "bool":
        return "是" if value else "否"
    if kind == "list":
        return _text("、".join(value), for_csv) if value else None
    if kind == "percent":
        return _percent_text(float(value)) if for_csv else float(value)
    if kind == "month" and for_csv:
        return f"{value:%Y-%m}"
    if isinstance(value, str):
        return _text(value, for_csv)
    return value


def _text(value: str, for_csv: bool) -> str:
    """CSV: the neutralising quote. A workbook marks formula text by a style instead (see `_write_xlsx`);
    only a text that itself starts with quotes before a mark gets one more, which the importer removes."""
    if for_csv:
        return neutralise(value)
    return neutralise(value) if value.startswith("'") and needs_quote(value) else value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _write_csv(path: Path, headers: list[str], rows: Sequence[Sequence[Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(headers)
        writer.writerows([_csv_text(v) for v in row] for row in rows)


def _width(value: Any) -> int:
    text = _csv_text(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters are two columns wide


def _formula_text_cell(sheet: Any, text: str) -> Any:
    """A text cell that starts like a formula: stored as text with Excel's quote prefix (no quote in the value)."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def print_setup(sheet: Any, *, header_rows: str) -> None:
    """A4 landscape, fitted to one page wide, `header_rows` (e.g. '1:1') repeated on every printed page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = 9  # A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = header_rows


def _write_xlsx(
    path: Path, spec: LedgerKind, columns: list[Column], headers: list[str], rows: Sequence[Sequence[Any]], advance: Any
) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if len(rows) > EXCEL_MAX_ROWS:
        raise InvalidValue("file", str(path), f"{len(rows)} rows do not fit in one Excel sheet; export to .csv")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(spec.title)
    sheet.freeze_panes = "A2"
    print_setup(sheet, header_rows="1:1")
    sample = rows[:1000]
    for index, header in enumerate(headers):
        width = max([_width(header), *(_width(r[index]) for r in sample)]) + 2
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(width, 8), 60)
    bold = Font(bold=True)
    head = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    formats: list[str | None] = []
    for column in columns:
        if column.type in ("money", "amount"):
            formats.append(MONEY_FORMAT)
        elif column.type == "date":
            formats.append(DATE_FORMAT)
        elif column.type == "month":
            formats.append("yyyy-mm")
        elif column.type == "percent":
            formats.append("0.00%")
        else:
            formats.append(None)
    styled = [i for i, f in enumerate(formats) if f]
    for n, row in enumerate(rows, start=1):
        out = list(row)
        for i in styled:
            if out[i] is not None and not (formats[i] == MONEY_FORMAT and isinstance(out[i], int)):
                cell = WriteOnlyCell(sheet, value=out[i])
                cell.number_format = formats[i]
                out[i] = cell
        for i, value in enumerate(out):
            if isinstance(value, str) and value.startswith(FORMULA_MARKS):
                out[i] = _formula_text_cell(sheet, value)
        sheet.append(out)
        if n % 10_000 == 0:
            advance(10_000)
    book.save(path)


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
    """
    spec = ledger_kind(kind)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InvalidValue("file", str(p), "export to a .xlsx or .csv file")
    records = ledger_rows(
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
    rows = [[_cell(c, r.get(c.name), r, for_csv=for_csv) for c in columns] for r in records]
    with progress_bar(f"export {p.name}", len(rows), progress) as advance:
        if for_csv:
            _write_csv(p, headers, rows)
        else:
            _write_xlsx(p, spec, columns, headers, rows, advance)
    return len(rows)
