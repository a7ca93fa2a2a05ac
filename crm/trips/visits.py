"""Trips (外出招商行程) and visits: plan a trip and its visits, record held visits and spending; the date rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from crm import audit, names
from crm.db import unit_of_work
from crm.errors import InvalidValue, Refused
from crm.models import (
    CounterpartKind,
    Person,
    Region,
    Squad,
    SquadMember,
    Trip,
    TripDestination,
    TripIndustry,
    TripMember,
    Visit,
    VisitStatus,
)
from crm.reference import find_region
from crm.trips.common import (
    _counterpart_kind,
    _destinations,
    _industries,
    _month_end,
    _month_text,
    _names,
    _person,
    _query,
    _squad,
    _text,
    _trip,
    _visit,
    _yuan,
    month_start,
)
from crm.trips.plans import _trip_texts


def check_trip_dates(month: date, starts_on: date | None, ends_on: date | None) -> None:
    """A trip of `month` starts in that month, ends on or after its start, and has a start if it has an end."""
    if starts_on is not None and not month <= starts_on <= _month_end(month):
        raise InvalidValue("starts_on", starts_on, f"a trip of {_month_text(month)} must start in that month")
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise InvalidValue("ends_on", ends_on, f"the trip ends before it starts ({starts_on})")
    if ends_on is not None and starts_on is None:
        raise InvalidValue("starts_on", None, "give the start date when giving the end date")


def check_visit_date(
    visited_on: date, starts_on: date | None, ends_on: date | None, *, trip_id: int | None = None
) -> None:
    """A held visit falls within its trip's dates (start to end, or the start day alone) when they are known."""
    if starts_on is None:
        return
    last = ends_on or starts_on
    if not starts_on <= visited_on <= last:
        trip = f"trip {trip_id}'s" if trip_id is not None else "the trip's"
        raise InvalidValue("visited_on", visited_on, f"outside {trip} dates {starts_on} to {last}")


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
    check_trip_dates(first, starts_on, ends_on)
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
    if trip is not None:
        check_visit_date(visited_on, trip.starts_on, trip.ends_on, trip_id=trip.id)
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
