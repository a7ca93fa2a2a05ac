"""Construction plans (推进计划表): milestones with planned dates and planned investment by month.

倒排工期、挂图作战: each major project gets one plan. Milestones are the standard five
(开工, 主体完工, 设备安装, 竣工, 投产) or a bureau's own names; months are the first day of
each month of the list year, in whole yuan, and their sum is the project's planned
completed investment for the year (MajorProject.planned_yuan).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd
from sqlmodel import Session, col, select

from crm.audit import record, record_changes, record_creation
from crm.db import unit_of_work
from crm.errors import InvalidValue
from crm.major import common
from crm.models import ConstructionPlan, MajorProject, PlanMilestone, PlanMonth

__all__ = ["get_plan", "milestones", "plan_months", "set_plan"]


def get_plan(session: Session, major_project_id: int) -> ConstructionPlan | None:
    """The construction plan of a major project, or None when it has none yet."""
    return session.exec(select(ConstructionPlan).where(ConstructionPlan.major_project_id == major_project_id)).first()


def _months(project: MajorProject, months: Mapping[date, int]) -> dict[date, int]:
    out: dict[date, int] = {}
    for month, amount in months.items():
        first = common.day("month", month)
        if first.day != 1:
            first = first.replace(day=1)
        if first.year != project.year:
            raise InvalidValue("month", month, f"the plan is for {project.year}; a month of another year")
        if first in out:
            raise InvalidValue("month", month, "the month is given twice")
        out[first] = common.yuan(f"planned investment of {first:%Y-%m}", amount)
    return out


def _milestones(entries: Mapping[str, date]) -> dict[str, date]:
    out: dict[str, date] = {}
    for name, planned_on in entries.items():
        out[common.required_text("milestone", name, 32)] = common.day(f"planned date of {name}", planned_on)
    return out


def set_plan(
    session: Session,
    major_project_id: int,
    *,
    actor: str,
    milestones: Mapping[str, date] | None = None,
    months: Mapping[date, int] | None = None,
    note: str | None = None,
    commit: bool = True,
) -> ConstructionPlan:
    """Create or change the construction plan of a major project.

    `milestones` maps a milestone name to its planned date: a new name is added, a known one
    moves to the new date (audited). `months` maps a month (any day of it) to the planned
    completed investment in yuan and replaces the whole monthly plan; the project's
    planned_yuan becomes their sum. Months must fall in the list year.
    """
    actor = common.actor_name(actor)
    project = common.get_major_project(session, major_project_id, for_update=True)
    wanted_milestones = _milestones(milestones or {})
    wanted_months = None if months is None else _months(project, months)
    note_text = common.text("note", note, 10_000)
    with unit_of_work(session, commit=commit):
        plan = get_plan(session, int(project.id or 0))
        if plan is None:
            plan = ConstructionPlan(major_project_id=common.ident(project), note=note_text)
            session.add(plan)
            session.flush()
            record_creation(session, plan, actor=actor)
        elif note_text is not None:
            record_changes(session, plan, {"note": note_text}, actor=actor, action="update")
        known = {m.name: m for m in session.exec(select(PlanMilestone).where(PlanMilestone.plan_id == plan.id)).all()}
        for name, planned_on in wanted_milestones.items():
            if name in known:
                record_changes(session, known[name], {"planned_on": planned_on}, actor=actor, action="update")
            else:
                milestone = PlanMilestone(plan_id=common.ident(plan), name=name, planned_on=planned_on)
                session.add(milestone)
                session.flush()
                record_creation(session, milestone, actor=actor)
        if wanted_months is not None:
            old = {m.month: m for m in session.exec(select(PlanMonth).where(PlanMonth.plan_id == plan.id)).all()}
            for month in sorted(set(old) | set(wanted_months)):
                before = old[month].planned_yuan if month in old else None
                after = wanted_months.get(month)
                if before == after:
                    continue
                if month in old and after is None:
                    session.delete(old[month])
                elif month in old and after is not None:
                    old[month].planned_yuan = after
                    session.add(old[month])
                elif after is not None:
                    session.add(PlanMonth(plan_id=common.ident(plan), month=month, planned_yuan=after))
                record(
                    session,
                    actor=actor,
                    action="update",
                    entity="plan_month",
                    entity_id=plan.id,
                    field=f"{month:%Y-%m}",
                    old=before,
                    new=after,
                )
            record_changes(
                session, project, {"planned_yuan": sum(wanted_months.values())}, actor=actor, action="update"
            )
        session.flush()
    return plan


def milestones(session: Session, major_project_id: int) -> pd.DataFrame:
    """The plan's milestones: milestone, planned_on, reached_on, in planned order."""
    statement = (
        select(col(PlanMilestone.name), col(PlanMilestone.planned_on), col(PlanMilestone.reached_on))
        .join(ConstructionPlan, col(ConstructionPlan.id) == PlanMilestone.plan_id)
        .where(ConstructionPlan.major_project_id == major_project_id)
        .order_by(col(PlanMilestone.planned_on), col(PlanMilestone.id))
    )
    return pd.DataFrame(session.exec(statement).all(), columns=["milestone", "planned_on", "reached_on"])


def plan_months(session: Session, major_project_id: int) -> pd.DataFrame:
    """The monthly plan: month (first day), planned_yuan, cumulative_yuan."""
    statement = (
        select(col(PlanMonth.month), col(PlanMonth.planned_yuan))
        .join(ConstructionPlan, col(ConstructionPlan.id) == PlanMonth.plan_id)
        .where(ConstructionPlan.major_project_id == major_project_id)
        .order_by(col(PlanMonth.month))
    )
    df = pd.DataFrame(session.exec(statement).all(), columns=["month", "planned_yuan"])
    df["planned_yuan"] = df["planned_yuan"].astype("int64")
    df["cumulative_yuan"] = df["planned_yuan"].cumsum()
    return df
