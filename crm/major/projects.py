"""The year's list of major projects (重点项目清单), zones (园区), and the major-project rules.

A deal goes on the list for a year with its source (市责任书 / 县级包抓 / ...), its
category (续建 / 新开工 / 前期), its responsible unit and leaders (三包一联); the first
leader is the lead (包抓) leader. Every write is audited and is one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from crm.audit import record, record_changes, record_creation
from crm.db import core_select, unit_of_work
from crm.errors import Duplicate, InvalidValue, NotFound, Refused
from crm.major import common
from crm.models import (
    MAJOR_CATEGORY_LABELS,
    CountingRules,
    Deal,
    DealState,
    DealZone,
    Investor,
    MajorCategory,
    MajorProject,
    MajorProjectLeader,
    Person,
    ScoringWeights,
    Unit,
    Zone,
)
from crm.targets import get_rules, save_rules

__all__ = [
    "LIST_COLUMNS",
    "add_major_project",
    "add_zone",
    "get_weights",
    "leaders_of",
    "major_projects",
    "save_weights",
    "set_deal_zone",
    "set_progress_rules",
    "weights_label",
]

LIST_COLUMNS = [
    "major_project_id",
    "deal_id",
    "year",
    "project_name",
    "investor",
    "source",
    "category",
    "unit",
    "leaders",
    "contracted_yuan",
    "planned_yuan",
    "state",
    "started_on",
    "zone",
    "content",
]
_DEADLINE_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def add_major_project(
    session: Session,
    deal_id: int,
    *,
    year: int,
    source: str,
    category: str,
    actor: str,
    unit: str | None = None,
    leaders: Sequence[str] = (),
    planned_yuan: int | None = None,
    content: str | None = None,
    create_names: bool = False,
    import_batch: str | None = None,
    commit: bool = True,
) -> MajorProject:
    """Put deal `deal_id` on `year`'s major-project list.

    `unit` and `leaders` default to the deal's responsible unit and leader; names must exist
    unless `create_names` (a ledger brings new ones). `planned_yuan` is the list's 年度计划投资
    until a construction plan's months replace it. A terminated deal is refused, and so is a
    deal already on the year's list (Duplicate).
    """
    actor = common.actor_name(actor)
    year = common.year("year", year)
    source_text = common.required_text("source", source, 32)
    category_value = common.category(category)
    planned = None if planned_yuan is None else common.yuan("planned_yuan", planned_yuan)
    content_text = common.text("content", content, 10_000)
    deal = session.get(Deal, deal_id) if isinstance(deal_id, int) and not isinstance(deal_id, bool) else None
    if deal is None:
        raise NotFound("deal", deal_id)
    if deal.state == DealState.terminated:
        raise Refused(f"deal {deal.id} ({deal.project_name}) is terminated; it cannot go on the major-project list")
    existing = session.exec(
        select(MajorProject.id).where(MajorProject.deal_id == deal.id, MajorProject.year == year)
    ).first()
    if existing is not None:
        raise Duplicate(
            f"deal {deal.id} ({deal.project_name}) is already on the {year} list as major project {existing}"
        )
    names = [common.required_text("leaders", n, 64) for n in leaders]
    if len(set(names)) != len(names):
        raise InvalidValue("leaders", list(leaders), "a leader is named twice")
    with unit_of_work(session, commit=commit):
        unit_id = common.unit(session, unit, actor=actor, create=create_names).id if unit else deal.unit_id
        people = [common.person(session, n, actor=actor, create=create_names) for n in names]
        if not people and deal.leader_id is not None:
            lead = session.get(Person, deal.leader_id)
            people = [lead] if lead is not None else []
        project = MajorProject(
            deal_id=common.ident(deal),
            year=year,
            source=source_text,
            category=category_value,
            unit_id=unit_id,
            planned_yuan=planned,
            content=content_text,
            import_batch=import_batch,
        )
        session.add(project)
        session.flush()
        record_creation(session, project, actor=actor)
        for position, p in enumerate(people):
            session.add(
                MajorProjectLeader(major_project_id=common.ident(project), person_id=common.ident(p), position=position)
            )
            record(
                session,
                actor=actor,
                action="create",
                entity="major_project_leader",
                entity_id=project.id,
                field="leader",
                new=p.name,
            )
        session.flush()
    return project


def leaders_of(session: Session, major_project_ids: Sequence[int] | None = None) -> dict[int, list[str]]:
    """Major project id -> its leaders' names, the lead leader first."""
    statement = (
        select(MajorProjectLeader.major_project_id, Person.name)
        .join(Person, col(Person.id) == MajorProjectLeader.person_id)
        .order_by(col(MajorProjectLeader.major_project_id), col(MajorProjectLeader.position))
    )
    if major_project_ids is not None:
        statement = statement.where(col(MajorProjectLeader.major_project_id).in_(list(major_project_ids)))
    out: dict[int, list[str]] = {}
    for project_id, name in session.exec(statement).all():
        out.setdefault(int(project_id), []).append(str(name))
    return out


def major_projects(
    session: Session,
    *,
    year: int | None = None,
    unit: str | None = None,
    leader: str | None = None,
    category: str | None = None,
) -> pd.DataFrame:
    """The major-project list: one row per project (LIST_COLUMNS), leaders joined with 、.

    `leader` keeps projects where that person is any of the responsible leaders.
    """
    statement = (
        core_select(MajorProject, Deal, Investor.name, Unit.name, Zone.name)
        .join(Deal, col(Deal.id) == MajorProject.deal_id)
        .join(Investor, col(Investor.id) == Deal.investor_id)
        .join(Unit, col(Unit.id) == MajorProject.unit_id, isouter=True)
        .join(DealZone, col(DealZone.deal_id) == Deal.id, isouter=True)
        .join(Zone, col(Zone.id) == DealZone.zone_id, isouter=True)
        .order_by(col(MajorProject.year), col(MajorProject.id))
    )
    if year is not None:
        statement = statement.where(MajorProject.year == common.year("year", year))
    if unit is not None:
        statement = statement.where(col(MajorProject.unit_id) == common.unit(session, unit, actor="").id)
    if category is not None:
        statement = statement.where(MajorProject.category == common.category(category))
    rows = session.execute(statement).all()
    leaders = leaders_of(session, [int(p.id) for p, *_ in rows if p.id is not None])
    if leader is not None:
        common.person(session, leader, actor="")
    records = []
    for project, deal, investor, unit_name, zone_name in rows:
        names = leaders.get(int(project.id or 0), [])
        if leader is not None and leader not in names:
            continue
        records.append(
            {
                "major_project_id": project.id,
                "deal_id": deal.id,
                "year": project.year,
                "project_name": deal.project_name,
                "investor": investor,
                "source": project.source,
                "category": MAJOR_CATEGORY_LABELS[MajorCategory(project.category)],
                "unit": unit_name,
                "leaders": "、".join(names),
                "contracted_yuan": deal.contracted_yuan,
                "planned_yuan": project.planned_yuan,
                "state": deal.state,
                "started_on": deal.started_on,
                "zone": zone_name,
                "content": project.content,
            }
        )
    df = pd.DataFrame.from_records(records, columns=LIST_COLUMNS)
    for column in ("contracted_yuan", "planned_yuan"):
        df[column] = df[column].astype("Int64")
    return df


# ---------------------------------------------------------------- zones (园区)


def add_zone(session: Session, name: str, *, actor: str, kind: str | None = None, commit: bool = True) -> Zone:
    """Add a zone (园区) to the reference list; Duplicate if the name exists."""
    actor = common.actor_name(actor)
    zone_name = common.required_text("name", name, 64)
    kind_text = common.text("kind", kind, 24)
    if session.exec(select(Zone.id).where(Zone.name == zone_name)).first() is not None:
        raise Duplicate(f"zone {zone_name!r} already exists")
    with unit_of_work(session, commit=commit):
        zone = Zone(name=zone_name, kind=kind_text)
        session.add(zone)
        session.flush()
        record_creation(session, zone, actor=actor)
    return zone


def set_deal_zone(session: Session, deal_id: int, zone: str, *, actor: str, commit: bool = True) -> DealZone:
    """Put deal `deal_id` in zone `zone` (which must exist); a change is audited with both names."""
    actor = common.actor_name(actor)
    deal = session.get(Deal, deal_id) if isinstance(deal_id, int) and not isinstance(deal_id, bool) else None
    if deal is None:
        raise NotFound("deal", deal_id)
    target = common.zone(session, zone)
    with unit_of_work(session, commit=commit):
        link = session.get(DealZone, deal.id)
        old = None
        if link is None:
            link = DealZone(deal_id=common.ident(deal), zone_id=common.ident(target))
        else:
            before = session.get(Zone, link.zone_id)
            old = before.name if before else None
            link.zone_id = int(target.id or 0)
        session.add(link)
        if old != target.name:
            record(
                session,
                actor=actor,
                action="update",
                entity="deal",
                entity_id=deal.id,
                field="zone",
                old=old,
                new=target.name,
            )
        session.flush()
    return link


# ---------------------------------------------------------------- rules: tolerance, deadline, weights


def set_progress_rules(
    session: Session,
    name: str | None = None,
    *,
    actor: str,
    tolerance: float | None = None,
    deadline_weekday: int | None = None,
    deadline_time: str | None = None,
    commit: bool = True,
) -> CountingRules:
    """Save a new version of counting rules `name` (default: the default set) with the major
    projects' tolerance (a fraction of plan, 0.1 = 10%) and weekly report deadline (ISO
    weekday 1-7 and HH:MM; Friday 12:00 by default). Arguments left None keep their value."""
    actor = common.actor_name(actor)
    base = get_rules(session, name)
    values = {
        "progress_tolerance": base.progress_tolerance if tolerance is None else tolerance,
        "report_deadline_weekday": base.report_deadline_weekday if deadline_weekday is None else deadline_weekday,
        "report_deadline_time": base.report_deadline_time if deadline_time is None else deadline_time,
    }
    tol = values["progress_tolerance"]
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 <= tol < 1:
        raise InvalidValue("tolerance", tolerance, "a fraction of the plan from 0 to below 1 (0.1 = 10%)")
    weekday = values["report_deadline_weekday"]
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 1 <= weekday <= 7:
        raise InvalidValue("deadline_weekday", deadline_weekday, "an ISO weekday from 1 (Monday) to 7 (Sunday)")
    if not isinstance(values["report_deadline_time"], str) or not _DEADLINE_TIME.match(values["report_deadline_time"]):
        raise InvalidValue("deadline_time", deadline_time, "a time of day as HH:MM (12:00)")
    with unit_of_work(session, commit=commit):
        rules = save_rules(session, base.name, actor=actor, commit=False)
        record_changes(session, rules, {**values, "progress_tolerance": float(tol)}, actor=actor, action="update")
        session.flush()
    return rules


def weights_label(weights: ScoringWeights) -> str:
    """How the scoring names its weights: ``default v1`` (v0: the built-in weights, never saved)."""
    return f"{weights.name} v{weights.version}"


def get_weights(session: Session, name: str | None = None) -> ScoringWeights:
    """The newest version of scoring weights `name`; None: the newest default, else the built-in
    40/20/20/20 weights (``default v0``)."""
    statement = select(ScoringWeights).order_by(col(ScoringWeights.version).desc(), col(ScoringWeights.id).desc())
    if name is None:
        found = session.exec(statement.where(col(ScoringWeights.is_default).is_(True))).first()
        return found if found is not None else ScoringWeights(name="default", version=0)
    found = session.exec(statement.where(ScoringWeights.name == name.strip())).first()
    if found is None:
        raise NotFound("scoring weights", name)
    return found


def save_weights(
    session: Session,
    name: str,
    *,
    actor: str,
    plan_points: int,
    start_points: int,
    milestone_points: int,
    report_points: int,
    default: bool = False,
    commit: bool = True,
) -> ScoringWeights:
    """Save a NEW version of scoring weights `name` (points out of their sum, e.g. 40/20/20/20)."""
    actor = common.actor_name(actor)
    weights_name = common.required_text("name", name, 64)
    points = {
        "plan_points": plan_points,
        "start_points": start_points,
        "milestone_points": milestone_points,
        "report_points": report_points,
    }
    for field, value in points.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidValue(field, value, "points are a whole number, 0 or more")
    if sum(points.values()) == 0:
        raise InvalidValue("points", points, "at least one weight must be above 0")
    latest = session.exec(select(func.max(ScoringWeights.version)).where(ScoringWeights.name == weights_name)).one()
    with unit_of_work(session, commit=commit):
        weights = ScoringWeights(
            name=weights_name,
            version=int(latest or 0) + 1,
            is_default=default,
            plan_points=plan_points,
            start_points=start_points,
            milestone_points=milestone_points,
            report_points=report_points,
        )
        session.add(weights)
        session.flush()
        record_creation(session, weights, actor=actor)
    return weights
