"""Promotion trips (外出招商): squads, monthly campaign plans, trips, visits, leads and what they produced.

A campaign month (``CampaignMonth``) names the destination provinces and target
industries of one month; each squad (招商小分队) makes one trip a month to some of
them and plans visits to enterprises and chambers of commerce (商会). ``check_plan``
returns the plan's problems as data (``Finding``), never as exceptions. Held visits
may create leads (洽谈项目); a lead has response deadlines and, when signed,
becomes a Deal through ``crm.deals`` and keeps the link, so capital arriving later
is credited to the trip.

Conventions: a month is the first day of the month (``date(2026, 6, 1)``; ``"2026-06"``
is accepted); money is integer yuan (text such as ``"5万"`` or ``"1.5亿"`` is parsed with
``crm.money.parse_yuan``); provinces are written short or long (北京 / 北京市).
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from crm import audit, names
from crm.arrivals import not_voided
from crm.db import unit_of_work
from crm.errors import Duplicate, InvalidValue, NotFound, Refused
from crm.models import (
    LEAD_STAGE_LABELS,
    CampaignIndustry,
    CampaignMonth,
    CampaignRegion,
    CapitalArrival,
    CounterpartKind,
    Deal,
    Industry,
    Lead,
    LeadStage,
    PeriodKind,
    Person,
    Region,
    ScopeKind,
    Squad,
    SquadMember,
    Target,
    TargetMetric,
    Trip,
    TripDestination,
    TripIndustry,
    TripMember,
    Unit,
    Visit,
    VisitStatus,
)
from crm.money import parse_yuan
from crm.reference import find_industry, find_region, get_or_create_person, get_or_create_unit

__all__ = [
    "COUNTERPART_KIND_LABELS",
    "FINDING_KINDS",
    "LEAD_STEPS",
    "Finding",
    "acknowledge_lead",
    "add_lead",
    "advance_lead",
    "assess_lead",
    "cancel_visit",
    "check_plan",
    "copy_plan",
    "coverage",
    "create_squad",
    "feedback_lead",
    "funnel",
    "itinerary",
    "list_visits",
    "month_start",
    "overdue_leads",
    "plan_month",
    "plan_of",
    "plan_trip",
    "plan_visit",
    "planned_visits",
    "record_lead_response",
    "record_spending",
    "record_visit",
    "reserve",
    "sign_lead",
    "squads",
    "trips_in_month",
]

# The kinds of problem check_plan finds, in the order findings are listed within a month.
FINDING_KINDS: tuple[str, ...] = (
    "squad_without_trip",  # a squad has no trip in a month
    "squad_two_trips",  # a squad has two or more trips in one month
    "person_double_booked",  # one person on two trips whose dates overlap
    "destination_outside_plan",  # a trip goes to a province not in its month's plan
    "industry_outside_plan",  # a trip targets an industry not in its month's plan
    "region_unvisited",  # a planned province no trip of the month goes to
    "visit_without_counterpart",  # a planned visit that names no enterprise or chamber
)

COUNTERPART_KIND_LABELS = {
    CounterpartKind.enterprise: "企业",
    CounterpartKind.chamber: "商会",
    CounterpartKind.other: "其他",
}

# Response deadlines of a lead: (step, the Lead column that records it, label).
LEAD_STEPS: tuple[tuple[str, str, str], ...] = (
    ("acknowledge", "acknowledged_on", "答复"),
    ("assess", "assessed_on", "研判"),
    ("feedback", "feedback_on", "反馈"),
)
DEFAULT_DEADLINES = (1, 3, 7)  # days after received_on: acknowledge, assess, feed back

_OPEN_STAGES = (LeadStage.contact, LeadStage.negotiation, LeadStage.intent)
_STAGE_ORDER = {LeadStage.contact: 0, LeadStage.negotiation: 1, LeadStage.intent: 2, LeadStage.signed: 3}
FUNNEL_DIMENSIONS = ("trip", "squad", "region", "industry")
NO_CATEGORY = "未分类"


@dataclass(frozen=True)
class Finding:
    """One problem in a campaign plan: which kind, where (month, squad, trip) and a plain description."""

    kind: str
    month: date | None
    squad: str | None
    trip_id: int | None
    detail: str

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                self.month.strftime("%Y-%m") if self.month else "",
                self.squad or "",
                f"trip {self.trip_id}" if self.trip_id is not None else "",
            )
            if part
        )
        return f"[{self.kind}] {where}: {self.detail}"


# ---------------------------------------------------------------- parsing helpers


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


# ---------------------------------------------------------------- squads and plans


def create_squad(
    session: Session,
    *,
    name: str,
    leader: str,
    members: Iterable[str] | str = (),
    unit: str | None = None,
    actor: str,
    commit: bool = True,
) -> Squad:
    """A new squad (招商小分队) led by `leader`, people given by name (created when missing)."""
    squad_name = _text(name)
    if squad_name is None:
        raise InvalidValue("name", name, "a squad needs a name")
    leader_name = _text(leader)
    if leader_name is None:
        raise InvalidValue("leader", leader, "a squad needs a leader (包抓领导)")
    if session.exec(select(Squad.id).where(Squad.name == squad_name)).first() is not None:
        raise Duplicate(f"squad {squad_name!r} already exists")
    member_names = [m for m in _names(members) if m != leader_name]
    unit_name = _text(unit)
    with unit_of_work(session, commit=commit):
        leader_row = _person(session, leader_name, actor=actor)
        unit_row = _unit(session, unit_name, actor=actor) if unit_name else None
        squad = Squad(name=squad_name, leader_id=leader_row.id, unit_id=unit_row.id if unit_row else None)
        session.add(squad)
        session.flush()
        audit.record_creation(session, squad, actor=actor)
        for member_name in member_names:
            person = _person(session, member_name, actor=actor)
            assert person.id is not None and squad.id is not None
            session.add(SquadMember(squad_id=squad.id, person_id=person.id))
        if member_names:
            audit.record(
                session,
                actor=actor,
                action="create",
                entity="squad",
                entity_id=squad.id,
                field="members",
                new="、".join(member_names),
            )
        session.flush()
    return squad


def plan_month(
    session: Session,
    *,
    month: date | str,
    regions: Iterable[str] | str,
    industries: Iterable[str] | str,
    note: str | None = None,
    actor: str,
    commit: bool = True,
) -> CampaignMonth:
    """Set the plan of one month: destination provinces and target industries.

    A month that already has a plan gets the new lists (the audit log keeps the old ones).
    """
    first = month_start(month)
    region_rows: list[Region] = []
    for text in _names(regions):
        region = find_region(session, text)
        if all(r.id != region.id for r in region_rows):
            region_rows.append(region)
    if not region_rows:
        raise InvalidValue("regions", regions, "a month's plan needs at least one destination province")
    industry_rows = _industries(session, industries)
    if not industry_rows:
        raise InvalidValue("industries", industries, "a month's plan needs at least one target industry")
    with unit_of_work(session, commit=commit):
        plan = _write_plan(session, first, region_rows, industry_rows, note=note, actor=actor)
    return plan


def _write_plan(
    session: Session,
    month: date,
    regions: list[Region],
    industries: list[Industry],
    *,
    note: str | None,
    actor: str,
    action: str = "plan",
) -> CampaignMonth:
    plan = session.exec(select(CampaignMonth).where(CampaignMonth.month == month)).first()
    old_regions: list[str] = []
    old_industries: list[str] = []
    if plan is None:
        plan = CampaignMonth(month=month, note=_text(note))
        session.add(plan)
        session.flush()
        audit.record_creation(session, plan, actor=actor, action=action)
    else:
        old_regions = list(
            session.exec(
                select(Region.name)
                .join(CampaignRegion, col(CampaignRegion.region_id) == col(Region.id))
                .where(CampaignRegion.campaign_month_id == plan.id)
                .order_by(col(Region.id))
            ).all()
        )
        old_industries = list(
            session.exec(
                select(Industry.name)
                .join(CampaignIndustry, col(CampaignIndustry.industry_id) == col(Industry.id))
                .where(CampaignIndustry.campaign_month_id == plan.id)
                .order_by(col(Industry.id))
            ).all()
        )
        for region_link in session.exec(
            select(CampaignRegion).where(CampaignRegion.campaign_month_id == plan.id)
        ).all():
            session.delete(region_link)
        for industry_link in session.exec(
            select(CampaignIndustry).where(CampaignIndustry.campaign_month_id == plan.id)
        ).all():
            session.delete(industry_link)
        if note is not None:
            audit.record_changes(session, plan, {"note": _text(note)}, actor=actor, action=action)
        session.flush()
    assert plan.id is not None
    for region in regions:
        assert region.id is not None
        session.add(CampaignRegion(campaign_month_id=plan.id, region_id=region.id))
    for industry in industries:
        assert industry.id is not None
        session.add(CampaignIndustry(campaign_month_id=plan.id, industry_id=industry.id))
    new_regions = "、".join(r.name for r in regions)
    new_industries = "、".join(i.name for i in industries)
    if "、".join(old_regions) != new_regions:
        audit.record(
            session,
            actor=actor,
            action=action,
            entity="campaign_month",
            entity_id=plan.id,
            field="regions",
            old="、".join(old_regions) or None,
            new=new_regions,
        )
    if "、".join(old_industries) != new_industries:
        audit.record(
            session,
            actor=actor,
            action=action,
            entity="campaign_month",
            entity_id=plan.id,
            field="industries",
            old="、".join(old_industries) or None,
            new=new_industries,
        )
    session.flush()
    return plan


def plan_of(session: Session, *, month: date | str) -> tuple[list[str], list[str]] | None:
    """The planned provinces and industries of `month` (short names), or None when it has no plan."""
    first = month_start(month)
    plan_id = session.exec(select(CampaignMonth.id).where(CampaignMonth.month == first)).first()
    if plan_id is None:
        return None
    regions = session.exec(
        select(Region.name)
        .join(CampaignRegion, col(CampaignRegion.region_id) == col(Region.id))
        .where(CampaignRegion.campaign_month_id == plan_id)
        .order_by(col(Region.id))
    ).all()
    industries = session.exec(
        select(Industry.name)
        .join(CampaignIndustry, col(CampaignIndustry.industry_id) == col(Industry.id))
        .where(CampaignIndustry.campaign_month_id == plan_id)
        .order_by(col(Industry.id))
    ).all()
    return list(regions), list(industries)


def copy_plan(
    session: Session,
    *,
    from_month: date | str,
    to_months: Iterable[date | str],
    with_trips: bool = False,
    actor: str,
    commit: bool = True,
) -> list[CampaignMonth]:
    """Copy a template month's provinces and industries to each of `to_months`.

    With `with_trips`, each trip of the template month is copied too (squad, destinations,
    industries, members, budget; dates moved by the same number of months; visits not copied).
    A target month that already has a plan (or, with trips, a trip) is refused: change it with
    ``plan_month`` instead.
    """
    source = month_start(from_month)
    targets: list[date] = []
    for value in to_months:
        target = month_start(value)
        if target == source:
            raise InvalidValue("to_months", value, "the template month cannot be copied onto itself")
        if target not in targets:
            targets.append(target)
    if not targets:
        raise InvalidValue("to_months", list(to_months), "name at least one month to copy to")
    template = plan_of(session, month=source)
    if template is None:
        raise NotFound("campaign month", _month_text(source))
    existing = session.exec(_query(CampaignMonth.month).where(col(CampaignMonth.month).in_(targets))).all()
    if existing:
        months = ", ".join(_month_text(m) for m in sorted(existing))
        raise Duplicate(f"{months} already has a plan; change it with plan_month instead of copying over it")
    if with_trips:
        busy = session.exec(_query(Trip.month).where(col(Trip.month).in_(targets)).distinct()).all()
        if busy:
            months = ", ".join(_month_text(m) for m in sorted(busy))
            raise Duplicate(f"{months} already has trips; copying the template's trips would double them")
    regions = [find_region(session, name) for name in template[0]]
    industries = [find_industry(session, name) for name in template[1]]
    source_trips = (
        session.exec(select(Trip).where(Trip.month == source).order_by(col(Trip.id))).all() if with_trips else []
    )
    plans: list[CampaignMonth] = []
    with unit_of_work(session, commit=commit):
        for target in targets:
            note = f"copied from {_month_text(source)}"
            plans.append(_write_plan(session, target, regions, industries, note=note, actor=actor, action="copy"))
            shift = (target.year - source.year) * 12 + target.month - source.month
            for trip in source_trips:
                _copy_trip(session, trip, target, shift, actor=actor)
    return plans


def _copy_trip(session: Session, trip: Trip, month: date, shift: int, *, actor: str) -> Trip:
    copy = Trip(
        squad_id=trip.squad_id,
        month=month,
        starts_on=_add_months(trip.starts_on, shift) if trip.starts_on else None,
        ends_on=_add_months(trip.ends_on, shift) if trip.ends_on else None,
        budget_yuan=trip.budget_yuan,
        note=f"copied from trip {trip.id}",
    )
    if copy.starts_on and copy.ends_on and copy.ends_on < copy.starts_on:
        copy.ends_on = copy.starts_on
    session.add(copy)
    session.flush()
    audit.record_creation(session, copy, actor=actor, action="copy")
    assert copy.id is not None
    for dest in session.exec(select(TripDestination).where(TripDestination.trip_id == trip.id)).all():
        session.add(TripDestination(trip_id=copy.id, region_id=dest.region_id, city=dest.city))
    for ind in session.exec(select(TripIndustry).where(TripIndustry.trip_id == trip.id)).all():
        session.add(TripIndustry(trip_id=copy.id, industry_id=ind.industry_id))
    for mem in session.exec(select(TripMember).where(TripMember.trip_id == trip.id)).all():
        session.add(TripMember(trip_id=copy.id, person_id=mem.person_id))
    session.flush()
    return copy


# ---------------------------------------------------------------- trips and visits


_VISIT_KEYS = {"counterpart", "counterpart_kind", "contact", "purpose", "region", "city"}


def _visit_fields(
    session: Session, spec: Mapping[str, Any], index: int, default_region: Region | None, default_city: str | None
) -> dict[str, Any]:
    unknown = set(spec) - _VISIT_KEYS
    if unknown:
        raise InvalidValue(f"visits[{index}]", sorted(unknown), f"unknown keys; use {', '.join(sorted(_VISIT_KEYS))}")
    region = find_region(session, spec["region"]) if _text(spec.get("region")) else default_region
    return {
        "counterpart": _text(spec.get("counterpart")),
        "counterpart_kind": _counterpart_kind(spec.get("counterpart_kind")),
        "contact": _text(spec.get("contact")),
        "purpose": _text(spec.get("purpose")),
        "region_id": region.id if region else None,
        "city": _text(spec.get("city")) or (default_city if region is default_region else None),
    }


def _single_destination(session: Session, trip_id: int) -> tuple[Region | None, str | None]:
    """The trip's province (and city) when it goes to exactly one province, else (None, None)."""
    rows = session.exec(
        select(TripDestination.region_id, TripDestination.city).where(TripDestination.trip_id == trip_id)
    ).all()
    regions = {r for r, _ in rows}
    if len(regions) != 1:
        return None, None
    cities = {c for _, c in rows}
    return session.get(Region, regions.pop()), (cities.pop() if len(cities) == 1 else None)


def plan_trip(
    session: Session,
    *,
    squad: str | int | Squad,
    month: date | str,
    destinations: Iterable[tuple[str, str | None] | Sequence[str] | str],
    industries: Iterable[str] | str = (),
    starts_on: date | None = None,
    ends_on: date | None = None,
    budget_yuan: int | str | None = None,
    members: Iterable[str] | str | None = None,
    visits: Iterable[Mapping[str, Any]] = (),
    note: str | None = None,
    actor: str,
    commit: bool = True,
) -> Trip:
    """One squad's trip in `month`: provinces (with optional cities), industries, dates, budget, planned visits.

    `members` default to the squad's leader and members. A visit is a mapping with
    ``counterpart`` (enterprise or chamber name), ``counterpart_kind`` (enterprise/企业,
    chamber/商会, other/其他), ``contact``, ``purpose`` and optionally ``region``/``city``.
    Conflicts with the plan (two trips, overlapping dates, places outside the plan) are
    not refused here: ``check_plan`` lists them.
    """
    squad_row = _squad(session, squad)
    assert squad_row.id is not None
    first = month_start(month)
    places = _destinations(session, destinations)
    if not places:
        raise InvalidValue("destinations", destinations, "a trip needs at least one destination province")
    industry_rows = _industries(session, industries)
    if starts_on is not None and not first <= starts_on <= _month_end(first):
        raise InvalidValue("starts_on", starts_on, f"a trip of {_month_text(first)} must start in that month")
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise InvalidValue("ends_on", ends_on, f"the trip ends before it starts ({starts_on})")
    if ends_on is not None and starts_on is None:
        raise InvalidValue("starts_on", None, "give the start date when giving the end date")
    budget = _yuan(budget_yuan, "budget_yuan")
    if members is None:
        member_ids = [squad_row.leader_id] if squad_row.leader_id is not None else []
        member_ids += list(
            session.exec(
                select(SquadMember.person_id)
                .where(SquadMember.squad_id == squad_row.id)
                .order_by(col(SquadMember.person_id))
            ).all()
        )
        member_names: list[str] = []
    else:
        member_ids = []
        member_names = _names(members)
    single_region = places[0][0] if len({r.id for r, _ in places}) == 1 else None
    single_city = places[0][1] if len(places) == 1 else None
    visit_rows = [_visit_fields(session, spec, i, single_region, single_city) for i, spec in enumerate(visits)]
    with unit_of_work(session, commit=commit):
        for name in member_names:
            person = _person(session, name, actor=actor)
            assert person.id is not None
            member_ids.append(person.id)
        trip = Trip(
            squad_id=squad_row.id,
            month=first,
            starts_on=starts_on,
            ends_on=ends_on,
            budget_yuan=budget,
            note=_text(note),
        )
        session.add(trip)
        session.flush()
        audit.record_creation(session, trip, actor=actor)
        assert trip.id is not None
        for region, city in places:
            assert region.id is not None
            session.add(TripDestination(trip_id=trip.id, region_id=region.id, city=city))
        for industry in industry_rows:
            assert industry.id is not None
            session.add(TripIndustry(trip_id=trip.id, industry_id=industry.id))
        for person_id in dict.fromkeys(member_ids):
            session.add(TripMember(trip_id=trip.id, person_id=person_id))
        audit.record(
            session,
            actor=actor,
            action="create",
            entity="trip",
            entity_id=trip.id,
            field="destinations",
            new="、".join(r.name + (f"({c})" if c else "") for r, c in places),
        )
        if industry_rows:
            audit.record(
                session,
                actor=actor,
                action="create",
                entity="trip",
                entity_id=trip.id,
                field="industries",
                new="、".join(i.name for i in industry_rows),
            )
        if member_ids:
            audit.record(
                session,
                actor=actor,
                action="create",
                entity="trip",
                entity_id=trip.id,
                field="members",
                new=",".join(str(i) for i in dict.fromkeys(member_ids)),
            )
        session.flush()
        for fields in visit_rows:
            visit = Visit(trip_id=trip.id, status=VisitStatus.planned, **fields)
            session.add(visit)
            session.flush()
            audit.record_creation(session, visit, actor=actor)
    return trip


def plan_visit(
    session: Session,
    *,
    trip_id: int,
    counterpart: str | None,
    counterpart_kind: str | None = None,
    contact: str | None = None,
    purpose: str | None = None,
    region: str | None = None,
    city: str | None = None,
    actor: str,
    commit: bool = True,
) -> Visit:
    """Add a planned visit to a trip."""
    trip = _trip(session, trip_id)
    assert trip.id is not None
    default_region, default_city = _single_destination(session, trip.id)
    spec = {
        "counterpart": counterpart,
        "counterpart_kind": counterpart_kind,
        "contact": contact,
        "purpose": purpose,
        "region": region,
        "city": city,
    }
    fields = _visit_fields(session, spec, 0, default_region, default_city)
    with unit_of_work(session, commit=commit):
        visit = Visit(trip_id=trip.id, status=VisitStatus.planned, **fields)
        session.add(visit)
        session.flush()
        audit.record_creation(session, visit, actor=actor)
    return visit


def record_visit(
    session: Session,
    *,
    trip_id: int | None = None,
    visit_id: int | None = None,
    visited_on: date,
    counterpart: str | None = None,
    counterpart_kind: str | None = None,
    attendees: Iterable[str] | str | None = None,
    notes: str | None = None,
    contact: str | None = None,
    purpose: str | None = None,
    region: str | None = None,
    city: str | None = None,
    actor: str,
    commit: bool = True,
) -> Visit:
    """Record a held visit: mark planned visit `visit_id` done, or add a new one to trip `trip_id`.

    The visit must name who was met (``counterpart``) and fall within the trip's dates when
    they are known.
    """
    visit = _visit(session, visit_id) if visit_id is not None else None
    if visit is not None:
        if visit.status != VisitStatus.planned:
            raise Refused(f"visit {visit_id} is already {visit.status}; only a planned visit can be recorded as held")
        if trip_id is not None and visit.trip_id != trip_id:
            raise InvalidValue("trip_id", trip_id, f"visit {visit_id} belongs to trip {visit.trip_id}")
        trip_id = visit.trip_id
    trip = _trip(session, trip_id) if trip_id is not None else None
    if trip is not None and trip.starts_on is not None:
        last = trip.ends_on or trip.starts_on
        if not trip.starts_on <= visited_on <= last:
            raise InvalidValue("visited_on", visited_on, f"outside trip {trip.id}'s dates {trip.starts_on} to {last}")
    who = _text(counterpart) or (visit.counterpart if visit else None)
    if who is None:
        raise InvalidValue("counterpart", counterpart, "a held visit must name the enterprise or chamber met")
    attendee_text = "、".join(_names(attendees)) or None
    changes: dict[str, Any] = {
        "status": VisitStatus.done.value,
        "visited_on": visited_on,
        "counterpart": who,
        "attendees": attendee_text,
        "notes": _text(notes),
    }
    if counterpart_kind is not None:
        changes["counterpart_kind"] = _counterpart_kind(counterpart_kind)
    for key, value in (("contact", contact), ("purpose", purpose), ("city", city)):
        if _text(value) is not None:
            changes[key] = _text(value)
    if _text(region) is not None:
        changes["region_id"] = find_region(session, str(region)).id
    with unit_of_work(session, commit=commit):
        if visit is None:
            default_region, default_city = (
                _single_destination(session, trip.id) if trip is not None and trip.id is not None else (None, None)
            )
            changes.setdefault("counterpart_kind", CounterpartKind.enterprise.value)
            changes.setdefault("region_id", default_region.id if default_region else None)
            changes.setdefault("city", default_city)
            visit = Visit(trip_id=trip_id, **changes)
            session.add(visit)
            session.flush()
            audit.record_creation(session, visit, actor=actor, action="visit")
        else:
            audit.record_changes(session, visit, changes, actor=actor, action="visit")
            session.flush()
    return visit


def planned_visits(session: Session, trip_id: int) -> list[Visit]:
    """The visits of a trip still planned (not held, not cancelled), in the order they were planned."""
    _trip(session, trip_id)
    return list(
        session.exec(
            select(Visit)
            .where(Visit.trip_id == trip_id, Visit.status == VisitStatus.planned.value)
            .order_by(col(Visit.id))
        ).all()
    )


def cancel_visit(session: Session, visit_id: int, *, actor: str, note: str | None = None, commit: bool = True) -> Visit:
    """Cancel a planned visit (it then counts neither as planned nor as held)."""
    visit = _visit(session, visit_id)
    if visit.status != VisitStatus.planned:
        raise Refused(f"visit {visit_id} is {visit.status}; only a planned visit can be cancelled")
    with unit_of_work(session, commit=commit):
        audit.record_changes(
            session, visit, {"status": VisitStatus.cancelled.value}, actor=actor, action="cancel", note=note
        )
        session.flush()
    return visit


def record_spending(session: Session, trip_id: int, *, spent_yuan: int | str, actor: str, commit: bool = True) -> Trip:
    """Record what a trip actually cost (used instead of its budget in cost figures)."""
    trip = _trip(session, trip_id)
    spent = _yuan(spent_yuan, "spent_yuan")
    with unit_of_work(session, commit=commit):
        audit.record_changes(session, trip, {"spent_yuan": spent}, actor=actor, action="spend")
        session.flush()
    return trip


# ---------------------------------------------------------------- plan checks


def _scope_months(session: Session, months: Iterable[date | str] | date | str | None) -> list[date]:
    if months is None:
        planned = set(session.exec(_query(CampaignMonth.month)).all())
        travelled = set(session.exec(_query(Trip.month).distinct()).all())
        return sorted(planned | travelled)
    if isinstance(months, date | str):
        months = [months]
    return sorted({month_start(m) for m in months})


def check_plan(session: Session, *, months: Iterable[date | str] | date | str | None = None) -> list[Finding]:
    """The problems of the campaign plan in `months` (default: every planned or travelled month).

    Kinds (``FINDING_KINDS``): squad_without_trip, squad_two_trips, person_double_booked
    (two trips with a common person whose dates overlap, ends inclusive), destination_outside_plan,
    industry_outside_plan, region_unvisited, visit_without_counterpart. A clean plan gives [];
    so does a month with neither a plan nor a trip.
    """
    scope = _scope_months(session, months)
    if not scope:
        return []
    findings: list[Finding] = []
    squad_names = dict(session.exec(select(Squad.id, Squad.name)).all())

    trips = session.exec(
        _query(Trip.id, Trip.squad_id, Trip.month).where(col(Trip.month).in_(scope)).order_by(col(Trip.id))
    ).all()
    trip_squad = {tid: squad_names.get(sid) for tid, sid, _ in trips}
    by_squad_month: dict[tuple[int | None, date], list[int]] = defaultdict(list)
    for tid, sid, m in trips:
        assert tid is not None
        by_squad_month[(sid, m)].append(tid)

    plan_ids = dict(
        session.exec(_query(CampaignMonth.month, CampaignMonth.id).where(col(CampaignMonth.month).in_(scope))).all()
    )

    # squads without a trip, squads with two (a month with neither a plan nor a trip has nothing to check)
    travelled = {m for _, m in by_squad_month}
    for m in scope:
        if m not in plan_ids and m not in travelled:
            continue
        for sid, name in sorted(squad_names.items()):
            ids = by_squad_month.get((sid, m), [])
            if not ids:
                findings.append(
                    Finding(
                        "squad_without_trip",
                        m,
                        name,
                        None,
                        f"{name} 在 {_month_text(m)} 没有外出招商行程 (no trip this month)",
                    )
                )
            elif len(ids) > 1:
                listed = "、".join(str(i) for i in ids)
                findings.append(
                    Finding(
                        "squad_two_trips",
                        m,
                        name,
                        ids[-1],
                        f"{name} 在 {_month_text(m)} 有 {len(ids)} 次行程 (trips {listed})",
                    )
                )

    # one person on two trips whose dates overlap (ends inclusive; a trip without an end is one day)
    ma, mb = aliased(TripMember), aliased(TripMember)
    ta, tb = aliased(Trip), aliased(Trip)
    end_a = func.coalesce(ta.ends_on, ta.starts_on)
    end_b = func.coalesce(tb.ends_on, tb.starts_on)
    overlaps = session.exec(
        _query(Person.name, ta.id, ta.starts_on, end_a, tb.id, tb.starts_on, end_b, tb.month, tb.squad_id)
        .select_from(ma)
        .join(mb, and_(col(ma.person_id) == col(mb.person_id), col(ma.trip_id) < col(mb.trip_id)))
        .join(ta, ta.id == ma.trip_id)
        .join(tb, tb.id == mb.trip_id)
        .join(Person, col(Person.id) == ma.person_id)
        .where(col(ta.starts_on).is_not(None), col(tb.starts_on).is_not(None))
        .where(col(ta.starts_on) <= end_b, col(tb.starts_on) <= end_a)
        .where(or_(col(ta.month).in_(scope), col(tb.month).in_(scope)))
        .order_by(tb.id, ta.id, Person.name)
    ).all()
    for person, a_id, a_start, a_end, b_id, b_start, b_end, b_month, b_squad in overlaps:
        findings.append(
            Finding(
                "person_double_booked",
                b_month,
                squad_names.get(b_squad),
                b_id,
                f"{person} 同时在行程 {a_id} ({a_start}～{a_end}) 和行程 {b_id} ({b_start}～{b_end}) 上 (dates overlap)",
            )
        )

    # places and industries outside the month's plan; planned places nobody goes to
    planned_regions: dict[date, dict[int, str]] = defaultdict(dict)
    for m, rid, rname in session.exec(
        _query(CampaignMonth.month, Region.id, Region.name)
        .join(CampaignRegion, col(CampaignRegion.campaign_month_id) == col(CampaignMonth.id))
        .join(Region, col(Region.id) == col(CampaignRegion.region_id))
        .where(col(CampaignMonth.month).in_(scope))
        .order_by(col(Region.id))
    ).all():
        planned_regions[m][rid] = rname
    planned_industries: dict[date, set[int]] = defaultdict(set)
    for m, iid in session.exec(
        _query(CampaignMonth.month, CampaignIndustry.industry_id)
        .join(CampaignIndustry, col(CampaignIndustry.campaign_month_id) == col(CampaignMonth.id))
        .where(col(CampaignMonth.month).in_(scope))
    ).all():
        planned_industries[m].add(iid)

    visited: dict[date, set[int]] = defaultdict(set)
    for tid, m, rid, rname, city in session.exec(
        _query(Trip.id, Trip.month, Region.id, Region.name, TripDestination.city)
        .join(TripDestination, col(TripDestination.trip_id) == col(Trip.id))
        .join(Region, col(Region.id) == col(TripDestination.region_id))
        .where(col(Trip.month).in_(scope))
        .order_by(col(Trip.id), col(TripDestination.id))
    ).all():
        visited[m].add(rid)
        if rid in planned_regions[m]:
            continue
        place = rname + (f"({city})" if city else "")
        if m not in plan_ids:
            why = f"{_month_text(m)} 没有月度计划 (month not planned)"
        else:
            why = f"不在 {_month_text(m)} 计划的 {'、'.join(planned_regions[m].values())} 之内"
        findings.append(
            Finding("destination_outside_plan", m, trip_squad.get(tid), tid, f"行程 {tid} 去 {place}，{why}")
        )
    for tid, m, iid, iname in session.exec(
        _query(Trip.id, Trip.month, Industry.id, Industry.name)
        .join(TripIndustry, col(TripIndustry.trip_id) == col(Trip.id))
        .join(Industry, col(Industry.id) == col(TripIndustry.industry_id))
        .where(col(Trip.month).in_(scope))
        .order_by(col(Trip.id), col(Industry.id))
    ).all():
        if iid in planned_industries[m]:
            continue
        why = f"{_month_text(m)} 没有月度计划" if m not in plan_ids else f"不是 {_month_text(m)} 计划的目标产业"
        findings.append(
            Finding(
                "industry_outside_plan",
                m,
                trip_squad.get(tid),
                tid,
                f"行程 {tid} 的产业 {iname} {why} (industry outside plan)",
            )
        )
    for m in scope:
        for rid, rname in planned_regions[m].items():
            if rid not in visited[m]:
                findings.append(
                    Finding(
                        "region_unvisited",
                        m,
                        None,
                        None,
                        f"{_month_text(m)} 计划去 {rname}，但没有小分队前往 (planned region unvisited)",
                    )
                )

    # planned visits that name nobody
    for vid, tid, m in session.exec(
        _query(Visit.id, Trip.id, Trip.month)
        .join(Trip, col(Trip.id) == col(Visit.trip_id))
        .where(col(Trip.month).in_(scope), Visit.status != VisitStatus.cancelled.value)
        .where(or_(col(Visit.counterpart).is_(None), func.trim(col(Visit.counterpart)) == ""))
        .order_by(col(Visit.id))
    ).all():
        findings.append(
            Finding(
                "visit_without_counterpart",
                m,
                trip_squad.get(tid),
                tid,
                f"行程 {tid} 的拜访 {vid} 没有写明拜访对象 (visit without counterpart)",
            )
        )

    order = {kind: i for i, kind in enumerate(FINDING_KINDS)}
    findings.sort(key=lambda f: (f.month or date.min, order[f.kind], f.squad or "", f.trip_id or 0))
    return findings


# ---------------------------------------------------------------- leads


def add_lead(
    session: Session,
    *,
    project_name: str,
    investor_name: str | None = None,
    visit_id: int | None = None,
    received_on: date,
    planned_yuan: int | str | None = None,
    industry: str | None = None,
    category: str | None = None,
    source: str | None = None,
    origin: str | None = None,
    owner: str | None = None,
    unit: str | None = None,
    stage: str = LeadStage.contact.value,
    note: str | None = None,
    actor: str,
    commit: bool = True,
) -> Lead:
    """A new lead (洽谈项目), from a held visit (`visit_id`) or from elsewhere.

    `planned_yuan` is the planned investment in yuan (text such as ``"5亿"`` is read exactly).
    A lead from a visit defaults its source to 外出招商 and its origin to the visit's province.
    """
    name = _text(project_name)
    if name is None:
        raise InvalidValue("project_name", project_name, "a lead needs a project name")
    start_stage = _lead_stage(stage)
    if start_stage not in _OPEN_STAGES:
        raise InvalidValue(
            "stage", stage, "a new lead starts as contact, negotiation or intent; sign it with sign_lead"
        )
    visit = _visit(session, visit_id) if visit_id is not None else None
    if visit is not None:
        if visit.status != VisitStatus.done:
            raise Refused(f"visit {visit_id} is {visit.status}; record it as held before adding its leads")
        if visit.visited_on is not None and received_on < visit.visited_on:
            raise InvalidValue("received_on", received_on, f"before visit {visit_id} took place ({visit.visited_on})")
    planned = _yuan(planned_yuan, "planned_yuan")
    industry_row = find_industry(session, str(industry)) if _text(industry) else None
    origin_id = find_region(session, str(origin)).id if _text(origin) else (visit.region_id if visit else None)
    with unit_of_work(session, commit=commit):
        owner_row = _person(session, str(_text(owner)), actor=actor) if _text(owner) else None
        unit_row = _unit(session, str(_text(unit)), actor=actor) if _text(unit) else None
        lead = Lead(
            project_name=name,
            investor_name=_text(investor_name),
            visit_id=visit_id,
            source=_text(source) or ("外出招商" if visit is not None else None),
            category=_text(category),
            industry_id=industry_row.id if industry_row else None,
            origin_region_id=origin_id,
            planned_yuan=planned,
            stage=start_stage.value,
            owner_id=owner_row.id if owner_row else None,
            unit_id=unit_row.id if unit_row else None,
            received_on=received_on,
            note=_text(note),
        )
        session.add(lead)
        session.flush()
        audit.record_creation(session, lead, actor=actor)
    return lead


def advance_lead(
    session: Session, lead_id: int, *, stage: str, actor: str, note: str | None = None, commit: bool = True
) -> Lead:
    """Move a lead forward (接洽 → 洽谈 → 意向/框架协议) or drop it (放弃); signing goes through sign_lead."""
    lead = _lead(session, lead_id)
    new = _lead_stage(stage)
    current = LeadStage(lead.stage)
    if new == LeadStage.signed:
        raise Refused(f"lead {lead_id}: signing creates a deal; use sign_lead")
    if current in (LeadStage.signed, LeadStage.dropped):
        raise Refused(
            f"lead {lead_id} is already {current.value} ({LEAD_STAGE_LABELS[current]}); it cannot move to {new.value}"
        )
    if new != LeadStage.dropped and _STAGE_ORDER[new] < _STAGE_ORDER[current]:
        raise Refused(
            f"lead {lead_id} is at {current.value} ({LEAD_STAGE_LABELS[current]}); it cannot go back to "
            f"{new.value} ({LEAD_STAGE_LABELS[new]})"
        )
    with unit_of_work(session, commit=commit):
        audit.record_changes(session, lead, {"stage": new.value}, actor=actor, action="advance", note=note)
        session.flush()
    return lead


def record_lead_response(
    session: Session,
    lead_id: int,
    *,
    acknowledged_on: date | None = None,
    assessed_on: date | None = None,
    feedback_on: date | None = None,
    actor: str,
    commit: bool = True,
) -> Lead:
    """Record when a lead was acknowledged (答复), assessed (研判) and fed back (反馈)."""
    lead = _lead(session, lead_id)
    given = {"acknowledged_on": acknowledged_on, "assessed_on": assessed_on, "feedback_on": feedback_on}
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise InvalidValue("dates", None, "give at least one of acknowledged_on, assessed_on, feedback_on")
    for field, day in changes.items():
        if day < lead.received_on:
            raise InvalidValue(field, day, f"before lead {lead_id} was received ({lead.received_on})")
    with unit_of_work(session, commit=commit):
        audit.record_changes(session, lead, changes, actor=actor, action="respond")
        session.flush()
    return lead


def acknowledge_lead(session: Session, lead_id: int, *, on: date, actor: str, commit: bool = True) -> Lead:
    """Record that a lead was acknowledged (答复) on `on`."""
    return record_lead_response(session, lead_id, acknowledged_on=on, actor=actor, commit=commit)


def assess_lead(session: Session, lead_id: int, *, on: date, actor: str, commit: bool = True) -> Lead:
    """Record that a lead was assessed (研判) on `on`."""
    return record_lead_response(session, lead_id, assessed_on=on, actor=actor, commit=commit)


def feedback_lead(session: Session, lead_id: int, *, on: date, actor: str, commit: bool = True) -> Lead:
    """Record that the investor got feedback (反馈) on a lead on `on`."""
    return record_lead_response(session, lead_id, feedback_on=on, actor=actor, commit=commit)


def overdue_leads(
    session: Session, *, as_of: date | None = None, deadlines: Sequence[int] = DEFAULT_DEADLINES
) -> pd.DataFrame:
    """Each missed response deadline of the leads received by `as_of` (default today).

    The deadlines are days after ``received_on`` for acknowledge, assess and feedback
    (default 1, 3, 7). A deadline is missed when the step was done after it, or is not done
    (by `as_of`) and `as_of` is past it; a step due on `as_of` itself is not yet missed. Steps
    not done of a signed or dropped lead are no longer chased; steps done late are listed for
    every lead. Columns: lead_id, project_name, investor_name, stage, owner, received_on, step,
    step_label, due_on, done_on, days_late.
    """
    as_of = as_of or date.today()
    days = list(deadlines)
    if len(days) != len(LEAD_STEPS) or any(not isinstance(d, int) or isinstance(d, bool) or d < 0 for d in days):
        raise InvalidValue("deadlines", deadlines, "give three whole numbers of days: acknowledge, assess, feedback")
    columns = [
        "lead_id",
        "project_name",
        "investor_name",
        "stage",
        "owner",
        "received_on",
        "step",
        "step_label",
        "due_on",
        "done_on",
        "days_late",
    ]
    earliest = min(days)
    lead_rows = session.exec(
        _query(
            Lead.id,
            Lead.project_name,
            Lead.investor_name,
            Lead.stage,
            Person.name,
            Lead.received_on,
            Lead.acknowledged_on,
            Lead.assessed_on,
            Lead.feedback_on,
        )
        .outerjoin(Person, col(Person.id) == col(Lead.owner_id))
        .where(col(Lead.received_on) <= as_of - timedelta(days=earliest))
        .order_by(col(Lead.received_on), col(Lead.id))
    ).all()
    rows: list[dict[str, Any]] = []
    for lead_id, project, investor, stage, owner, received, *done_dates in lead_rows:
        closed = stage in (LeadStage.signed, LeadStage.dropped)
        for (step, _, label), limit, done in zip(LEAD_STEPS, days, done_dates, strict=True):
            due = received + timedelta(days=limit)
            done_by = done if done is not None and done <= as_of else None
            if done_by is not None:
                if done_by <= due:
                    continue
                late = (done_by - due).days
            else:
                if closed or as_of <= due:
                    continue
                late = (as_of - due).days
            rows.append(
                {
                    "lead_id": lead_id,
                    "project_name": project,
                    "investor_name": investor,
                    "stage": stage,
                    "owner": owner,
                    "received_on": received,
                    "step": step,
                    "step_label": label,
                    "due_on": due,
                    "done_on": done_by,
                    "days_late": late,
                }
            )
    df = pd.DataFrame(rows, columns=columns)
    step_order = {step: i for i, (step, _, _) in enumerate(LEAD_STEPS)}
    df = (
        df.assign(_order=df["step"].map(step_order))
        .sort_values(["due_on", "lead_id", "_order"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    df["days_late"] = df["days_late"].astype("int64")
    df["lead_id"] = df["lead_id"].astype("int64")
    return df


def sign_lead(
    session: Session,
    lead_id: int,
    *,
    signed_on: date,
    contracted_yuan: int | str,
    actor: str,
    commit: bool = True,
    **deal_fields: Any,
) -> Deal:
    """Sign a lead: create its Deal through ``crm.deals.sign`` and link it (lead.stage = signed).

    The deal takes the lead's project name, investor, industry, origin province and unit unless
    `deal_fields` give them (any keyword of ``crm.deals.sign``). Capital that later arrives on the
    deal is credited to the lead's visit, trip and squad.
    """
    from crm.deals import sign  # written by the deals capability; imported here to keep the modules apart

    lead = _lead(session, lead_id)
    stage = LeadStage(lead.stage)
    if stage in (LeadStage.signed, LeadStage.dropped) or lead.deal_id is not None:
        raise Refused(f"lead {lead_id} is {stage.value} ({LEAD_STAGE_LABELS[stage]}); only an open lead can be signed")
    if signed_on < lead.received_on:
        raise InvalidValue("signed_on", signed_on, f"before lead {lead_id} was received ({lead.received_on})")
    contracted = _yuan(contracted_yuan, "contracted_yuan")
    if contracted is None:
        raise InvalidValue("contracted_yuan", contracted_yuan, "a signed deal needs its contracted investment")
    fields = dict(deal_fields)
    fields.setdefault("project_name", lead.project_name)
    fields.setdefault("investor", lead.investor_name)
    if not _text(fields["investor"]):
        raise InvalidValue("investor", fields["investor"], f"lead {lead_id} names no investor; pass investor=")
    if "industry" not in fields and lead.industry_id is not None:
        industry = session.get(Industry, lead.industry_id)
        fields["industry"] = industry.name if industry else None
    if "origin" not in fields and lead.origin_region_id is not None:
        region = session.get(Region, lead.origin_region_id)
        fields["origin"] = region.name if region else None
    if "unit" not in fields and lead.unit_id is not None:
        unit = session.get(Unit, lead.unit_id)
        fields["unit"] = unit.name if unit else None
    with unit_of_work(session, commit=commit):
        deal = sign(session, actor=actor, signed_on=signed_on, contracted_yuan=contracted, commit=False, **fields)
        session.flush()
        audit.record_changes(
            session, lead, {"stage": LeadStage.signed.value, "deal_id": deal.id}, actor=actor, action="sign"
        )
        session.flush()
    return deal


# ---------------------------------------------------------------- figures


def _year_filter(column: Any, year: int | None) -> list[Any]:
    if year is None:
        return []
    return [column >= date(year, 1, 1), column <= date(year, 12, 31)]


def _place(region: str, city: str | None) -> str:
    return f"{region}({city})" if city else region


def _trip_texts(session: Session, trip_ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Destination and industry names per trip, in the order they were planned."""
    places: dict[int, list[str]] = defaultdict(list)
    industries: dict[int, list[str]] = defaultdict(list)
    if not trip_ids:
        return places, industries
    for chunk_start in range(0, len(trip_ids), 5000):
        chunk = trip_ids[chunk_start : chunk_start + 5000]
        for tid, rname, city in session.exec(
            select(TripDestination.trip_id, Region.name, TripDestination.city)
            .join(Region, col(Region.id) == col(TripDestination.region_id))
            .where(col(TripDestination.trip_id).in_(chunk))
            .order_by(col(TripDestination.id))
        ).all():
            places[tid].append(_place(rname, city))
        for tid, iname in session.exec(
            select(TripIndustry.trip_id, Industry.name)
            .join(Industry, col(Industry.id) == col(TripIndustry.industry_id))
            .where(col(TripIndustry.trip_id).in_(chunk))
            .order_by(col(Industry.id))
        ).all():
            industries[tid].append(iname)
    return places, industries


def itinerary(session: Session, *, year: int | None = None) -> pd.DataFrame:
    """The plan as a month × squad table: one row per month, a ``plan`` column and one column per squad.

    A squad's cell reads ``北京(海淀区)、天津 / 光伏发电、装备制造`` (destinations / industries);
    two trips in one month are joined with ``; ``; a month without a trip is ``""``.
    """
    squad_rows = session.exec(select(Squad.id, Squad.name).order_by(col(Squad.id))).all()
    trips = session.exec(
        _query(Trip.id, Trip.month, Trip.squad_id)
        .where(*_year_filter(col(Trip.month), year))
        .order_by(col(Trip.month), col(Trip.id))
    ).all()
    plan_months = session.exec(_query(CampaignMonth.month).where(*_year_filter(col(CampaignMonth.month), year))).all()
    months = sorted(set(plan_months) | {m for _, m, _ in trips})
    places, industries = _trip_texts(session, [t for t, _, _ in trips if t is not None])
    cells: dict[tuple[date, int], list[str]] = defaultdict(list)
    for tid, m, sid in trips:
        assert tid is not None
        cells[(m, sid)].append(f"{'、'.join(places[tid])} / {'、'.join(industries[tid])}")
    rows = []
    for m in months:
        plan = plan_of(session, month=m)
        row: dict[str, Any] = {"month": m, "plan": f"{'、'.join(plan[0])} / {'、'.join(plan[1])}" if plan else ""}
        for sid, name in squad_rows:
            assert sid is not None
            row[name] = "; ".join(cells.get((m, sid), []))
        rows.append(row)
    return pd.DataFrame(rows, columns=["month", "plan", *(name for _, name in squad_rows)])


def coverage(session: Session, *, year: int | None = None) -> pd.DataFrame:
    """Month × region × industry: whether it was planned, how many trips and held visits covered it.

    A trip covers every pair of its destination provinces and target industries; a held visit
    counts for the province it took place in (its own, else its trip's single province) and
    each industry of its trip. Columns: month, region, industry, planned, trips, visits, visited
    (a trip went there for that industry).
    """
    planned = session.exec(
        _query(CampaignMonth.month, Region.id, Region.name, Industry.id, Industry.name)
        .join(CampaignRegion, col(CampaignRegion.campaign_month_id) == col(CampaignMonth.id))
        .join(Region, col(Region.id) == col(CampaignRegion.region_id))
        .join(CampaignIndustry, col(CampaignIndustry.campaign_month_id) == col(CampaignMonth.id))
        .join(Industry, col(Industry.id) == col(CampaignIndustry.industry_id))
        .where(*_year_filter(col(CampaignMonth.month), year))
    ).all()
    covered = session.exec(
        _query(Trip.month, Region.id, Region.name, Industry.id, Industry.name, func.count(func.distinct(Trip.id)))
        .join(TripDestination, col(TripDestination.trip_id) == col(Trip.id))
        .join(Region, col(Region.id) == col(TripDestination.region_id))
        .join(TripIndustry, col(TripIndustry.trip_id) == col(Trip.id))
        .join(Industry, col(Industry.id) == col(TripIndustry.industry_id))
        .where(*_year_filter(col(Trip.month), year))
        .group_by(col(Trip.month), col(Region.id), col(Region.name), col(Industry.id), col(Industry.name))
    ).all()
    visits = session.exec(
        _query(Trip.month, Region.id, Region.name, Industry.id, Industry.name, func.count(func.distinct(Visit.id)))
        .join(Trip, col(Trip.id) == col(Visit.trip_id))
        .join(Region, col(Region.id) == col(Visit.region_id))
        .join(TripIndustry, col(TripIndustry.trip_id) == col(Trip.id))
        .join(Industry, col(Industry.id) == col(TripIndustry.industry_id))
        .where(Visit.status == VisitStatus.done.value, *_year_filter(col(Trip.month), year))
        .group_by(col(Trip.month), col(Region.id), col(Region.name), col(Industry.id), col(Industry.name))
    ).all()
    keys = ["month", "region_id", "region", "industry_id", "industry"]
    frame = pd.DataFrame([(*r, True) for r in planned], columns=[*keys, "planned"])
    frame = frame.merge(pd.DataFrame(covered, columns=[*keys, "trips"]), on=keys, how="outer")
    frame = frame.merge(pd.DataFrame(visits, columns=[*keys, "visits"]), on=keys, how="outer")
    frame["planned"] = frame["planned"].astype("boolean").fillna(False).astype(bool)
    frame["trips"] = frame["trips"].fillna(0).astype("int64")
    frame["visits"] = frame["visits"].fillna(0).astype("int64")
    frame["visited"] = frame["trips"] > 0
    frame = frame.sort_values(["month", "region_id", "industry_id"]).reset_index(drop=True)
    return frame[["month", "region", "industry", "planned", "trips", "visits", "visited"]]


def _split(total: int, parts: int) -> list[int]:
    """`total` yuan in `parts` whole-yuan shares that add up exactly (the remainder goes to the first)."""
    share, remainder = divmod(total, parts)
    return [share + (1 if i < remainder else 0) for i in range(parts)]


def funnel(session: Session, *, by: str = "trip", year: int | None = None, as_of: date | None = None) -> pd.DataFrame:
    """What trips produced, per trip, squad, region or industry: visits → leads → signed → money, and cost.

    Columns: the group (``trip_id`` with ``month`` and ``squad``; or ``squad``, ``region``,
    ``industry``), visits (held), leads (from those visits), signed (leads that became deals),
    contracted_yuan, arrived_yuan (every capital arrival on those deals, up to `as_of` when
    given), cost_yuan (spent, else budget) and cost_per_signed_yuan (whole yuan; None when
    nothing was signed). `year` keeps the trips of that year.

    By region, a visit counts for its own province, and a trip's cost is split evenly over its
    destination provinces. By industry, leads count for their own industry, while visits count
    for every industry their trip targeted and a trip's cost is split evenly over them.
    """
    if by not in FUNNEL_DIMENSIONS:
        raise InvalidValue("by", by, f"group the funnel by one of {', '.join(FUNNEL_DIMENSIONS)}")
    trip_filter = _year_filter(col(Trip.month), year)
    arrived = select(CapitalArrival.deal_id, func.sum(CapitalArrival.arrived_yuan).label("arrived_yuan")).where(
        not_voided()
    )
    if as_of is not None:
        arrived = arrived.where(col(CapitalArrival.arrived_on) <= as_of)
    arrived_sub = arrived.group_by(col(CapitalArrival.deal_id)).subquery()
    done = Visit.status == VisitStatus.done.value

    visit_key: Any
    lead_key: Any
    if by == "trip":
        visit_key = lead_key = col(Trip.id)
    elif by == "squad":
        visit_key = lead_key = col(Trip.squad_id)
    elif by == "region":
        visit_key = lead_key = col(Visit.region_id)
    else:
        visit_key, lead_key = col(TripIndustry.industry_id), col(Lead.industry_id)

    visit_q = select(visit_key, func.count(func.distinct(Visit.id))).join(Trip, col(Trip.id) == col(Visit.trip_id))
    if by == "industry":
        visit_q = visit_q.join(TripIndustry, col(TripIndustry.trip_id) == col(Trip.id))
    visit_counts = {k: n for k, n in session.exec(visit_q.where(done, *trip_filter).group_by(visit_key)).all()}

    lead_q = (
        _query(
            lead_key,
            func.count(col(Lead.id)),
            func.count(col(Lead.deal_id)),
            func.coalesce(func.sum(col(Deal.contracted_yuan)), 0),
            func.coalesce(func.sum(arrived_sub.c.arrived_yuan), 0),
        )
        .select_from(Lead)
        .join(Visit, col(Visit.id) == col(Lead.visit_id))
        .join(Trip, col(Trip.id) == col(Visit.trip_id))
        .outerjoin(Deal, col(Deal.id) == col(Lead.deal_id))
        .outerjoin(arrived_sub, arrived_sub.c.deal_id == col(Lead.deal_id))
        .where(*trip_filter)
        .group_by(lead_key)
    )
    lead_sums = {row[0]: row[1:] for row in session.exec(lead_q).all()}

    cost_expr = func.coalesce(col(Trip.spent_yuan), col(Trip.budget_yuan))
    costs: dict[Any, int] = defaultdict(int)  # absent key: no trip of the group has a budget or spending
    if by in ("trip", "squad"):
        key = col(Trip.id) if by == "trip" else col(Trip.squad_id)
        for k, total in session.exec(select(key, func.sum(cost_expr)).where(*trip_filter).group_by(key)).all():
            if total is not None:
                costs[k] = int(total)
    else:
        link = TripDestination if by == "region" else TripIndustry
        link_key = col(TripDestination.region_id) if by == "region" else col(TripIndustry.industry_id)
        shared: dict[int, tuple[int, list[Any]]] = {}
        for tid, cost, k in session.exec(
            select(Trip.id, cost_expr, link_key)
            .join(link, col(link.trip_id) == col(Trip.id))
            .where(cost_expr.is_not(None), *trip_filter)
            .distinct()
            .order_by(col(Trip.id), link_key)
        ).all():
            assert tid is not None
            shared.setdefault(tid, (int(cost), []))[1].append(k)
        for cost, keys in shared.values():
            for k, part in zip(keys, _split(cost, len(keys)), strict=True):
                costs[k] += part

    if by == "trip":
        groups = session.exec(
            _query(Trip.id, Trip.month, Squad.name)
            .join(Squad, col(Squad.id) == col(Trip.squad_id))
            .where(*trip_filter)
            .order_by(col(Trip.month), col(Trip.id))
        ).all()
        labels: list[tuple[Any, dict[str, Any]]] = [
            (tid, {"trip_id": tid, "month": m, "squad": name}) for tid, m, name in groups
        ]
    else:
        present = set(visit_counts) | set(lead_sums) | set(costs)
        entity: Any = {"squad": Squad, "region": Region, "industry": Industry}[by]
        names = dict(
            session.exec(
                select(entity.id, entity.name).where(col(entity.id).in_([k for k in present if k is not None]))
            ).all()
        )
        ordered = sorted(present, key=lambda k: (k is None, k or 0))
        labels = [(k, {by: names.get(k) if k is not None else None}) for k in ordered]

    rows = []
    for k, label in labels:
        leads, signed, contracted, arrived_total = lead_sums.get(k, (0, 0, 0, 0))
        group_cost: int | None = costs.get(k)
        per_signed = (
            int((Decimal(group_cost) / signed).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            if group_cost is not None and signed
            else None
        )
        rows.append(
            {
                **label,
                "visits": int(visit_counts.get(k, 0)),
                "leads": int(leads),
                "signed": int(signed),
                "contracted_yuan": int(contracted),
                "arrived_yuan": int(arrived_total),
                "cost_yuan": group_cost,
                "cost_per_signed_yuan": per_signed,
            }
        )
    group_columns = ["trip_id", "month", "squad"] if by == "trip" else [by]
    columns = [
        *group_columns,
        "visits",
        "leads",
        "signed",
        "contracted_yuan",
        "arrived_yuan",
        "cost_yuan",
        "cost_per_signed_yuan",
    ]
    df = pd.DataFrame(rows, columns=columns)
    for name in ("visits", "leads", "signed", "contracted_yuan", "arrived_yuan"):
        df[name] = df[name].astype("int64")
    df["cost_yuan"] = df["cost_yuan"].astype("Int64")
    df["cost_per_signed_yuan"] = df["cost_per_signed_yuan"].astype("Int64")
    return df


def _reserve_target(session: Session, as_of: date) -> int | None:
    """The county's reserve (项目储备) target for the year of `as_of`, if one is set."""
    return session.exec(
        select(Target.amount).where(
            Target.metric == TargetMetric.reserve_yuan.value,
            Target.scope_kind == ScopeKind.county.value,
            Target.period_kind == PeriodKind.year.value,
            Target.period_start == date(as_of.year, 1, 1),
        )
    ).first()


def reserve(session: Session, *, target_yuan: int | str | None = None, as_of: date | None = None) -> pd.DataFrame:
    """The project reserve (项目储备): open leads and planned projects by category, against a target.

    Open means neither signed nor dropped (and received by `as_of` when given). `target_yuan`
    (e.g. ``"350亿"``) defaults to the county's reserve_yuan year target for `as_of`'s year.
    Columns: category, leads, planned_yuan, target_yuan, share (planned ÷ target, None without
    a target). ``df.attrs`` holds total_yuan, target_yuan and gap_yuan (target − total).
    """
    target = (
        _yuan(target_yuan, "target_yuan")
        if target_yuan is not None
        else _reserve_target(session, as_of or date.today())
    )
    category = func.coalesce(col(Lead.category), NO_CATEGORY)
    query = (
        select(category, func.count(col(Lead.id)), func.coalesce(func.sum(col(Lead.planned_yuan)), 0))
        .where(col(Lead.stage).in_([s.value for s in _OPEN_STAGES]))
        .group_by(category)
        .order_by(func.coalesce(func.sum(col(Lead.planned_yuan)), 0).desc(), category)
    )
    if as_of is not None:
        query = query.where(col(Lead.received_on) <= as_of)
    rows = session.exec(query).all()
    df = pd.DataFrame(rows, columns=["category", "leads", "planned_yuan"])
    df["leads"] = df["leads"].astype("int64")
    df["planned_yuan"] = df["planned_yuan"].astype("int64")
    df["target_yuan"] = pd.array([target] * len(df), dtype="Int64")
    df["share"] = [float(p) / target if target else None for p in df["planned_yuan"]]
    df["share"] = df["share"].astype("float64")
    total = int(df["planned_yuan"].sum())
    df.attrs.update(
        {"total_yuan": total, "target_yuan": target, "gap_yuan": (target - total) if target is not None else None}
    )
    return df


# ---------------------------------------------------------------- listings for people


def squads(session: Session) -> pd.DataFrame:
    """Every squad: squad, leader, members, unit, trips."""
    rows = session.exec(
        select(Squad.id, Squad.name, Person.name, Unit.name)
        .outerjoin(Person, col(Person.id) == col(Squad.leader_id))
        .outerjoin(Unit, col(Unit.id) == col(Squad.unit_id))
        .order_by(col(Squad.id))
    ).all()
    members: dict[int, list[str]] = defaultdict(list)
    for sid, name in session.exec(
        select(SquadMember.squad_id, Person.name)
        .join(Person, col(Person.id) == col(SquadMember.person_id))
        .order_by(col(SquadMember.squad_id), col(Person.id))
    ).all():
        members[sid].append(name)
    trip_counts = dict(session.exec(select(Trip.squad_id, func.count(col(Trip.id))).group_by(col(Trip.squad_id))).all())
    data = [
        {
            "squad": name,
            "leader": leader,
            "members": "、".join(members.get(sid or 0, [])),
            "unit": unit,
            "trips": int(trip_counts.get(sid or 0, 0)),
        }
        for sid, name, leader, unit in rows
    ]
    return pd.DataFrame(data, columns=["squad", "leader", "members", "unit", "trips"])


def trips_in_month(session: Session, *, month: date | str) -> pd.DataFrame:
    """The trips of one month: trip_id, squad, starts_on, ends_on, destinations, industries, members,
    budget_yuan, spent_yuan, visits_planned, visits_done."""
    first = month_start(month)
    trips = session.exec(
        _query(Trip.id, Squad.name, Trip.starts_on, Trip.ends_on, Trip.budget_yuan, Trip.spent_yuan)
        .join(Squad, col(Squad.id) == col(Trip.squad_id))
        .where(Trip.month == first)
        .order_by(col(Squad.id), col(Trip.id))
    ).all()
    ids = [t[0] for t in trips if t[0] is not None]
    places, industries = _trip_texts(session, ids)
    people: dict[int, list[str]] = defaultdict(list)
    visit_counts: dict[tuple[int, str], int] = {}
    if ids:
        for tid, name in session.exec(
            select(TripMember.trip_id, Person.name)
            .join(Person, col(Person.id) == col(TripMember.person_id))
            .where(col(TripMember.trip_id).in_(ids))
            .order_by(col(Person.id))
        ).all():
            people[tid].append(name)
        for visit_trip, status, n in session.exec(
            select(Visit.trip_id, Visit.status, func.count(col(Visit.id)))
            .where(col(Visit.trip_id).in_(ids))
            .group_by(col(Visit.trip_id), col(Visit.status))
        ).all():
            assert visit_trip is not None
            visit_counts[(visit_trip, status)] = n
    rows = [
        {
            "trip_id": tid,
            "squad": squad,
            "starts_on": start,
            "ends_on": end,
            "destinations": "、".join(places[tid]),
            "industries": "、".join(industries[tid]),
            "members": "、".join(people[tid]),
            "budget_yuan": budget,
            "spent_yuan": spent,
            "visits_planned": visit_counts.get((tid, VisitStatus.planned.value), 0),
            "visits_done": visit_counts.get((tid, VisitStatus.done.value), 0),
        }
        for tid, squad, start, end, budget, spent in trips
        if tid is not None
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "trip_id",
            "squad",
            "starts_on",
            "ends_on",
            "destinations",
            "industries",
            "members",
            "budget_yuan",
            "spent_yuan",
            "visits_planned",
            "visits_done",
        ],
    )
    df["budget_yuan"] = df["budget_yuan"].astype("Int64")
    df["spent_yuan"] = df["spent_yuan"].astype("Int64")
    return df


VISIT_LIST_COLUMNS = ["visit_id", "trip_id", "squad", "month", "status", "visited_on", "counterpart", "region", "city"]


def list_visits(
    session: Session,
    *,
    trip_id: int | None = None,
    month: date | str | None = None,
    squad: str | None = None,
    status: str | None = None,
) -> pd.DataFrame:
    """Visits with their ids (to record one as held or cancel it), by trip, then planned order.

    Filters: the trip, the trips' `month`, the `squad` (a name that must exist) and the
    `status` (planned, done, cancelled). Columns: VISIT_LIST_COLUMNS.
    """
    query = (
        _query(
            Visit.id,
            Visit.trip_id,
            Squad.name,
            Trip.month,
            Visit.status,
            Visit.visited_on,
            Visit.counterpart,
            Region.name,
            Visit.city,
        )
        .outerjoin(Trip, col(Trip.id) == col(Visit.trip_id))
        .outerjoin(Squad, col(Squad.id) == col(Trip.squad_id))
        .outerjoin(Region, col(Region.id) == col(Visit.region_id))
        .order_by(col(Trip.month), col(Visit.trip_id), col(Visit.id))
    )
    if trip_id is not None:
        query = query.where(col(Visit.trip_id) == trip_id)
    if month is not None:
        query = query.where(col(Trip.month) == month_start(month))
    if squad is not None and squad.strip():
        query = query.where(col(Trip.squad_id) == names.resolve_id(session, "squad", squad))
    if status is not None and status.strip():
        if status.strip() not in VisitStatus.__members__:
            raise InvalidValue("status", status, f"use one of {', '.join(VisitStatus)}")
        query = query.where(col(Visit.status) == status.strip())
    return pd.DataFrame([tuple(r) for r in session.exec(query).all()], columns=VISIT_LIST_COLUMNS)
