"""Squads (招商小分队) and monthly campaign plans: create, plan, copy, check (``check_plan``) and the itinerary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from crm import audit
from crm.db import unit_of_work
from crm.errors import Duplicate, InvalidValue, NotFound
from crm.models import (
    CampaignIndustry,
    CampaignMonth,
    CampaignRegion,
    Industry,
    Person,
    Region,
    Squad,
    SquadMember,
    Trip,
    TripDestination,
    TripIndustry,
    TripMember,
    Unit,
    Visit,
    VisitStatus,
)
from crm.reference import find_industry, find_region
from crm.trips.common import _add_months, _industries, _month_text, _names, _person, _query, _text, _unit, month_start

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


def _scope_months(session: Session, months: Iterable[date | str] | date | str | None) -> list[date]:
    if months is None:
        planned = set(session.exec(_query(CampaignMonth.month)).all())
        travelled = set(session.exec(_query(Trip.month).distinct()).all())
        return sorted(planned | travelled)
    if isinstance(months, date | str):
        months = [months]
    return sorted({month_start(m) for m in months})


@dataclass
class _PlanScope:
    """What every plan check reads once: the months, squads, trips and each month's plan."""

    months: list[date]
    squad_names: dict[int | None, str]
    trip_squad: dict[int, str | None]
    by_squad_month: dict[tuple[int | None, date], list[int]]
    plan_ids: dict[date, int]
    planned_regions: dict[date, dict[int, str]]
    planned_industries: dict[date, set[int]]


def _plan_scope(session: Session, scope: list[date]) -> _PlanScope:
    squad_names = dict(session.exec(select(Squad.id, Squad.name)).all())
    trips = session.exec(
        _query(Trip.id, Trip.squad_id, Trip.month).where(col(Trip.month).in_(scope)).order_by(col(Trip.id))
    ).all()
    by_squad_month: dict[tuple[int | None, date], list[int]] = defaultdict(list)
    for tid, sid, m in trips:
        assert tid is not None
        by_squad_month[(sid, m)].append(tid)
    plan_ids = dict(
        session.exec(_query(CampaignMonth.month, CampaignMonth.id).where(col(CampaignMonth.month).in_(scope))).all()
    )
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
    return _PlanScope(
        scope,
        squad_names,
        {tid: squad_names.get(sid) for tid, sid, _ in trips},
        by_squad_month,
        plan_ids,
        planned_regions,
        planned_industries,
    )


def _checked_months(ps: _PlanScope) -> list[date]:
    """The months with a plan or a trip (a month with neither has nothing to check)."""
    travelled = {m for _, m in ps.by_squad_month}
    return [m for m in ps.months if m in ps.plan_ids or m in travelled]


def _check_squad_without_trip(session: Session, ps: _PlanScope) -> list[Finding]:
    """squad_without_trip: a squad with no trip in a month that has a plan or a trip."""
    return [
        Finding(
            "squad_without_trip", m, name, None, f"{name} 在 {_month_text(m)} 没有外出招商行程 (no trip this month)"
        )
        for m in _checked_months(ps)
        for sid, name in sorted(ps.squad_names.items(), key=lambda item: item[0] or 0)
        if not ps.by_squad_month.get((sid, m))
    ]


def _check_squad_two_trips(session: Session, ps: _PlanScope) -> list[Finding]:
    """squad_two_trips: a squad with two or more trips in one month."""
    findings: list[Finding] = []
    for m in _checked_months(ps):
        for sid, name in sorted(ps.squad_names.items(), key=lambda item: item[0] or 0):
            ids = ps.by_squad_month.get((sid, m), [])
            if len(ids) > 1:
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
    return findings


def _check_double_booked(session: Session, ps: _PlanScope) -> list[Finding]:
    """person_double_booked: one person on two trips whose dates overlap (ends inclusive; no end: one day)."""
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
        .where(or_(col(ta.month).in_(ps.months), col(tb.month).in_(ps.months)))
        .order_by(tb.id, ta.id, Person.name)
    ).all()
    return [
        Finding(
            "person_double_booked",
            b_month,
            ps.squad_names.get(b_squad),
            b_id,
            f"{person} 同时在行程 {a_id} ({a_start}～{a_end}) 和行程 {b_id} ({b_start}～{b_end}) 上 (dates overlap)",
        )
        for person, a_id, a_start, a_end, b_id, b_start, b_end, b_month, b_squad in overlaps
    ]


def _destinations_of(session: Session, ps: _PlanScope) -> list[Any]:
    return list(
        session.exec(
            _query(Trip.id, Trip.month, Region.id, Region.name, TripDestination.city)
            .join(TripDestination, col(TripDestination.trip_id) == col(Trip.id))
            .join(Region, col(Region.id) == col(TripDestination.region_id))
            .where(col(Trip.month).in_(ps.months))
            .order_by(col(Trip.id), col(TripDestination.id))
        ).all()
    )


def _check_destinations(session: Session, ps: _PlanScope) -> list[Finding]:
    """destination_outside_plan: a trip goes to a province its month's plan does not name."""
    findings: list[Finding] = []
    for tid, m, rid, rname, city in _destinations_of(session, ps):
        if rid in ps.planned_regions[m]:
            continue
        place = rname + (f"({city})" if city else "")
        if m not in ps.plan_ids:
            why = f"{_month_text(m)} 没有月度计划 (month not planned)"
        else:
            why = f"不在 {_month_text(m)} 计划的 {'、'.join(ps.planned_regions[m].values())} 之内"
        findings.append(
            Finding("destination_outside_plan", m, ps.trip_squad.get(tid), tid, f"行程 {tid} 去 {place}，{why}")
        )
    return findings


def _check_industries(session: Session, ps: _PlanScope) -> list[Finding]:
    """industry_outside_plan: a trip targets an industry its month's plan does not name."""
    findings: list[Finding] = []
    for tid, m, iid, iname in session.exec(
        _query(Trip.id, Trip.month, Industry.id, Industry.name)
        .join(TripIndustry, col(TripIndustry.trip_id) == col(Trip.id))
        .join(Industry, col(Industry.id) == col(TripIndustry.industry_id))
        .where(col(Trip.month).in_(ps.months))
        .order_by(col(Trip.id), col(Industry.id))
    ).all():
        if iid in ps.planned_industries[m]:
            continue
        why = f"{_month_text(m)} 没有月度计划" if m not in ps.plan_ids else f"不是 {_month_text(m)} 计划的目标产业"
        findings.append(
            Finding(
                "industry_outside_plan",
                m,
                ps.trip_squad.get(tid),
                tid,
                f"行程 {tid} 的产业 {iname} {why} (industry outside plan)",
            )
        )
    return findings


def _check_unvisited(session: Session, ps: _PlanScope) -> list[Finding]:
    """region_unvisited: a planned province no trip of the month goes to."""
    visited: dict[date, set[int]] = defaultdict(set)
    for _tid, m, rid, _rname, _city in _destinations_of(session, ps):
        visited[m].add(rid)
    return [
        Finding(
            "region_unvisited",
            m,
            None,
            None,
            f"{_month_text(m)} 计划去 {rname}，但没有小分队前往 (planned region unvisited)",
        )
        for m in ps.months
        for rid, rname in ps.planned_regions[m].items()
        if rid not in visited[m]
    ]


def _check_counterparts(session: Session, ps: _PlanScope) -> list[Finding]:
    """visit_without_counterpart: a planned or held visit that names nobody."""
    return [
        Finding(
            "visit_without_counterpart",
            m,
            ps.trip_squad.get(tid),
            tid,
            f"行程 {tid} 的拜访 {vid} 没有写明拜访对象 (visit without counterpart)",
        )
        for vid, tid, m in session.exec(
            _query(Visit.id, Trip.id, Trip.month)
            .join(Trip, col(Trip.id) == col(Visit.trip_id))
            .where(col(Trip.month).in_(ps.months), Visit.status != VisitStatus.cancelled.value)
            .where(or_(col(Visit.counterpart).is_(None), func.trim(col(Visit.counterpart)) == ""))
            .order_by(col(Visit.id))
        ).all()
    ]


# one check per finding kind, in FINDING_KINDS' order
_PLAN_CHECKS = (
    _check_squad_without_trip,
    _check_squad_two_trips,
    _check_double_booked,
    _check_destinations,
    _check_industries,
    _check_unvisited,
    _check_counterparts,
)


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
    ps = _plan_scope(session, scope)
    findings = [finding for check in _PLAN_CHECKS for finding in check(session, ps)]
    order = {kind: i for i, kind in enumerate(FINDING_KINDS)}
    findings.sort(key=lambda f: (f.month or date.min, order[f.kind], f.squad or "", f.trip_id or 0))
    return findings


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
