"""What the trips modules share: labels, parsing helpers and lookups."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from crm.errors import InvalidValue, NotFound
from crm.models import (
    LEAD_STAGE_LABELS,
    CounterpartKind,
    Industry,
    Lead,
    LeadStage,
    Region,
    Squad,
    Trip,
    Visit,
)
from crm.money import parse_yuan
from crm.reference import find_industry, find_region, get_or_create_person, get_or_create_unit

COUNTERPART_KIND_LABELS = {
    CounterpartKind.enterprise: "企业",
    CounterpartKind.chamber: "商会",
    CounterpartKind.other: "其他",
}


_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?(?:\s*[-/.]\s*\d{1,2}\s*日?)?$")


def month_start(value: date | str) -> date:
    """The first day of the month `value` falls in; text as ``2026-06``, ``2026-06-15`` or ``2026年6月``."""
    if isinstance(value, datetime):
        return value.date().replace(day=1)
    if isinstance(value, date):
        return value.replace(day=1)
    match = _MONTH.match(str(value).strip())
    if match:
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12:
            return date(year, month, 1)
    raise InvalidValue("month", value, "not a month; write YYYY-MM, e.g. 2026-06")


def _month_text(month: date) -> str:
    return month.strftime("%Y-%m")


def _month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _yuan(value: int | str | Decimal | None, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidValue(field, value, "an amount cannot be negative")
        return value
    return parse_yuan(value, "元", field=field)


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = str(value).strip()
    return stripped or None


def _names(values: Iterable[str] | str | None) -> list[str]:
    """Names from a list, or from one text separated by commas or 、."""
    if values is None:
        return []
    if isinstance(values, str):
        values = re.split(r"[,，、;；]", values)
    seen: list[str] = []
    for value in values:
        name = str(value).strip()
        if name and name not in seen:
            seen.append(name)
    return seen


def _counterpart_kind(value: str | None) -> str:
    if value is None or str(value).strip() == "":
        return CounterpartKind.enterprise.value
    text = str(value).strip()
    for kind, label in COUNTERPART_KIND_LABELS.items():
        if text in (kind.value, label):
            return kind.value
    if text == "其它":
        return CounterpartKind.other.value
    allowed = ", ".join(f"{k.value} ({label})" for k, label in COUNTERPART_KIND_LABELS.items())
    raise InvalidValue("counterpart_kind", value, f"not a kind of counterpart; use one of {allowed}")


def _lead_stage(value: str) -> LeadStage:
    text = str(value).strip()
    for stage in LeadStage:
        if text in (stage.value, LEAD_STAGE_LABELS[stage]):
            return stage
    if text in ("意向", "框架协议"):
        return LeadStage.intent
    allowed = ", ".join(f"{s.value} ({LEAD_STAGE_LABELS[s]})" for s in LeadStage)
    raise InvalidValue("stage", value, f"not a lead stage; use one of {allowed}")


_person = get_or_create_person


_unit = get_or_create_unit


def _squad(session: Session, squad: str | int | Squad) -> Squad:
    if isinstance(squad, Squad):
        return squad
    if isinstance(squad, int):
        found = session.get(Squad, squad)
    else:
        found = session.exec(select(Squad).where(Squad.name == str(squad).strip())).first()
    if found is None:
        raise NotFound("squad", squad)
    return found


def _trip(session: Session, trip_id: int) -> Trip:
    trip = session.get(Trip, trip_id)
    if trip is None:
        raise NotFound("trip", trip_id)
    return trip


def _lead(session: Session, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("lead", lead_id)
    return lead


def _visit(session: Session, visit_id: int) -> Visit:
    visit = session.get(Visit, visit_id)
    if visit is None:
        raise NotFound("visit", visit_id)
    return visit


def _destinations(
    session: Session, destinations: Iterable[tuple[str, str | None] | Sequence[str] | str]
) -> list[tuple[Region, str | None]]:
    """Provinces (short or long names) with optional free-text cities: ``"北京"`` or ``("北京", "海淀区")``."""
    found: list[tuple[Region, str | None]] = []
    for item in destinations:
        city: str | None = None
        if isinstance(item, str):
            region_text = item
        else:
            parts = list(item)
            if not 1 <= len(parts) <= 2:
                raise InvalidValue("destinations", item, "write a province or (province, city)")
            region_text = str(parts[0])
            city = parts[1] if len(parts) == 2 else None
        region = find_region(session, region_text)
        pair = (region, _text(city))
        if all(r.id != region.id or c != pair[1] for r, c in found):
            found.append(pair)
    return found


def _industries(session: Session, industries: Iterable[str] | str | None) -> list[Industry]:
    found: list[Industry] = []
    for name in _names(industries):
        industry = find_industry(session, name)
        if all(i.id != industry.id for i in found):
            found.append(industry)
    return found


def _query(*columns: Any) -> Any:
    """``select`` over several columns.

    sqlmodel types ``select`` for at most four columns and model attributes as their Python
    values (a Date column as ``date``), so wide or date-valued queries are built untyped here.
    """
    return select(*columns)
