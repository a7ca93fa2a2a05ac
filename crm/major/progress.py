"""Weekly progress reports (周调度): 实体进度, completed investment (完成投资), milestones, problems.

"于每周五12点之前，将项目实体进度和完成投资额汇报": one report per major project and ISO
week (``2026-W26``), stored under the week's Monday; its investment counts on the
week's Friday. A report gives the investment completed this week, or the cumulative for
the list year, or both (they must agree): the other is derived from the previous
report. A cumulative that goes down is refused. Reports go in week order: the latest
week may be reported again (a correction, audited), an earlier week may not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlmodel import Session, col, select

from crm.audit import record_changes, record_creation
from crm.db import core_select, unit_of_work
from crm.errors import InvalidValue, NotFound, Refused
from crm.major import common
from crm.major.plans import get_plan
from crm.models import PlanMilestone, ProgressProblem, ProgressReport, Unit

__all__ = [
    "Problem",
    "iso_week",
    "parse_week",
    "problems",
    "report_progress",
    "reports",
    "resolve_problem",
    "week_label",
]

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """A problem needing coordination (问题), its responsible unit (责任单位) and result (协调结果)."""

    problem: str
    unit: str | None = None
    resolution: str | None = None


def parse_week(value: object) -> date:
    """The Monday of an ISO week written ``2026-W26`` / ``2026W26``, or of the week a date falls in."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value - timedelta(days=value.weekday())
    m = _WEEK.match(str(value).strip()) if isinstance(value, str) else None
    if m is None:
        raise InvalidValue("week", value, "write an ISO week such as 2026-W26, or a date in the week")
    try:
        return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise InvalidValue("week", value, "no such week in that year") from None


def week_label(monday: date) -> str:
    """``2026-W26`` for the Monday of that week."""
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def iso_week(monday: date) -> tuple[int, int]:
    iso = monday.isocalendar()
    return iso.year, iso.week


def _previous(session: Session, project_id: int, monday: date) -> ProgressReport | None:
    return session.exec(
        select(ProgressReport)
        .where(ProgressReport.major_project_id == project_id, col(ProgressReport.week_start) < monday)
        .order_by(col(ProgressReport.week_start).desc())
    ).first()


def _derive(
    week: str, previous_cumulative: int, week_yuan: int | None, cumulative_yuan: int | None, previous: str
) -> tuple[int, int]:
    """(this week, cumulative) from what was given and the previous report's cumulative."""
    if week_yuan is not None and cumulative_yuan is not None:
        if cumulative_yuan != previous_cumulative + week_yuan:
            raise InvalidValue(
                "cumulative_yuan",
                cumulative_yuan,
                f"{week}: 本年累计 must be {previous}'s {previous_cumulative} + 本周 {week_yuan} = "
                f"{previous_cumulative + week_yuan} yuan",
            )
        return week_yuan, cumulative_yuan
    if cumulative_yuan is not None:
        if cumulative_yuan < previous_cumulative:
            raise Refused(
                f"{week}: the cumulative completed investment {cumulative_yuan} yuan is below "
                f"{previous}'s {previous_cumulative} yuan; a cumulative cannot go down"
            )
        return cumulative_yuan - previous_cumulative, cumulative_yuan
    week_value = week_yuan or 0
    return week_value, previous_cumulative + week_value


def report_progress(
    session: Session,
    major_project_id: int,
    *,
    week: str | date,
    actor: str,
    progress: str | None = None,
    week_yuan: int | None = None,
    cumulative_yuan: int | None = None,
    milestones_reached: Mapping[str, date] | None = None,
    problems: Sequence[Problem] = (),
    reported_at: datetime | None = None,
    create_names: bool = False,
    import_batch: str | None = None,
    commit: bool = True,
) -> ProgressReport:
    """Record (or correct) the weekly report of a major project for `week`.

    `week_yuan` is the investment completed this week, `cumulative_yuan` the list year's
    total to this week, in yuan; give either or both. `milestones_reached` maps a plan
    milestone to the date it was reached (not after the week's Sunday). `problems` are
    added to the report. `reported_at` (default now; naive means UTC) decides whether it came
    in by the deadline. A week outside the list year, an earlier week than the latest report, a
    cumulative below the previous one and an unknown milestone are refused.
    """
    actor = common.actor_name(actor)
    project = common.get_major_project(session, major_project_id, for_update=True)
    monday = parse_week(week)
    name = week_label(monday)
    friday = monday + timedelta(days=4)
    if friday.year != project.year:
        raise InvalidValue("week", week, f"{common.label(project)} is on the {project.year} list; {name} is not")
    given_week = None if week_yuan is None else common.yuan("week_yuan", week_yuan)
    given_cumulative = None if cumulative_yuan is None else common.yuan("cumulative_yuan", cumulative_yuan)
    progress_text = common.text("progress", progress, 10_000)
    at = reported_at or datetime.now(UTC)
    if not isinstance(at, datetime):
        raise InvalidValue("reported_at", reported_at, "expected a date and time")
    # stored as UTC: SQLite keeps the wall time only, so another offset would shift on reading
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    project_id = int(project.id or 0)
    later = session.exec(
        select(col(ProgressReport.week_start))
        .where(ProgressReport.major_project_id == project_id, col(ProgressReport.week_start) > monday)
        .order_by(col(ProgressReport.week_start).desc())
    ).first()
    if later is not None:
        raise Refused(f"{common.label(project)}: {week_label(later)} is already reported; {name} comes before it")
    previous = _previous(session, project_id, monday)
    this_week, cumulative = _derive(
        name,
        previous.cumulative_yuan if previous else 0,
        given_week,
        given_cumulative,
        week_label(previous.week_start) if previous else "the start of the year",
    )
    plan = get_plan(session, project_id)
    known = (
        {
            m.name: m
            for m in session.exec(
                select(PlanMilestone)
                .where(PlanMilestone.plan_id == plan.id)
                .order_by(col(PlanMilestone.planned_on), col(PlanMilestone.id))
            ).all()
        }
        if plan
        else {}
    )
    reached: dict[str, date] = {}
    for milestone, on in (milestones_reached or {}).items():
        if milestone not in known:
            shown = "、".join(known) or "none (set a construction plan first)"
            raise InvalidValue("milestone", milestone, f"not a milestone of the plan; its milestones: {shown}")
        reached_on = common.day(f"date {milestone} was reached", on)
        if reached_on > monday + timedelta(days=6):
            raise InvalidValue("milestone", f"{milestone} {reached_on}", f"a date after {name}")
        reached[milestone] = reached_on
    checked = [
        (
            common.required_text("problem", p.problem, 10_000),
            common.text("unit", p.unit, 64),
            common.text("resolution", p.resolution, 10_000),
        )
        for p in problems
    ]
    with unit_of_work(session, commit=commit):
        report = session.exec(
            select(ProgressReport).where(
                ProgressReport.major_project_id == project_id, ProgressReport.week_start == monday
            )
        ).first()
        values: dict[str, object] = {
            "progress": progress_text,
            "week_yuan": this_week,
            "cumulative_yuan": cumulative,
            "reported_at": at,
        }
        if report is None:
            report = ProgressReport(
                major_project_id=project_id,
                week_start=monday,
                progress=progress_text,
                week_yuan=this_week,
                cumulative_yuan=cumulative,
                reported_at=at,
                import_batch=import_batch,
            )
            session.add(report)
            session.flush()
            record_creation(session, report, actor=actor)
        else:
            if progress_text is None:
                values["progress"] = report.progress
            if reported_at is None:  # a correction keeps the time the report first came in
                values["reported_at"] = report.reported_at
            record_changes(session, report, values, actor=actor, action="correct", note=name)
        for milestone, on in reached.items():
            record_changes(
                session,
                known[milestone],
                {"reached_on": on, "reached_report_id": report.id},
                actor=actor,
                action="reach",
                note=name,
            )
        for text, unit_name, resolution in checked:
            unit = common.unit(session, unit_name, actor=actor, create=create_names) if unit_name else None
            row = ProgressProblem(
                report_id=common.ident(report),
                problem=text,
                unit_id=unit.id if unit else None,
                resolution=resolution,
                resolved_on=monday + timedelta(days=4) if resolution else None,
            )
            session.add(row)
            session.flush()
            record_creation(session, row, actor=actor)
        session.flush()
    return report


def resolve_problem(
    session: Session, problem_id: int, *, resolution: str, on: date, actor: str, commit: bool = True
) -> ProgressProblem:
    """Record the coordination result (协调结果) of a problem raised in a weekly report."""
    actor = common.actor_name(actor)
    text = common.required_text("resolution", resolution, 10_000)
    day = common.day("on", on)
    problem = session.get(ProgressProblem, problem_id)
    if problem is None:
        raise NotFound("problem", problem_id)
    with unit_of_work(session, commit=commit):
        record_changes(session, problem, {"resolution": text, "resolved_on": day}, actor=actor, action="resolve")
    return problem


def reports(session: Session, major_project_id: int) -> pd.DataFrame:
    """A project's weekly reports: week, week_start, progress, week_yuan, cumulative_yuan, reported_at, problems."""
    rows = session.exec(
        select(ProgressReport)
        .where(ProgressReport.major_project_id == major_project_id)
        .order_by(col(ProgressReport.week_start))
    ).all()
    problems: dict[int, list[str]] = {}
    for report_id, text, unit_name, resolution in session.exec(
        select(ProgressProblem.report_id, ProgressProblem.problem, Unit.name, ProgressProblem.resolution)
        .join(Unit, col(Unit.id) == ProgressProblem.unit_id, isouter=True)
        .where(col(ProgressProblem.report_id).in_([r.id for r in rows]))
        .order_by(col(ProgressProblem.id))
    ).all():
        shown = text + (f"（{unit_name}）" if unit_name else "") + (f"：{resolution}" if resolution else "")
        problems.setdefault(int(report_id), []).append(shown)
    return pd.DataFrame(
        [
            {
                "week": week_label(r.week_start),
                "week_start": r.week_start,
                "progress": r.progress,
                "week_yuan": r.week_yuan,
                "cumulative_yuan": r.cumulative_yuan,
                "reported_at": r.reported_at,
                "problems": "；".join(problems.get(int(r.id or 0), [])),
            }
            for r in rows
        ],
        columns=["week", "week_start", "progress", "week_yuan", "cumulative_yuan", "reported_at", "problems"],
    )


def problems(session: Session, major_project_id: int) -> pd.DataFrame:
    """A project's problems: problem_id, week, problem, unit, resolution, resolved_on (open ones have none)."""
    rows = session.execute(
        core_select(
            ProgressProblem.id,
            ProgressReport.week_start,
            ProgressProblem.problem,
            Unit.name,
            ProgressProblem.resolution,
            ProgressProblem.resolved_on,
        )
        .join(ProgressReport, col(ProgressReport.id) == ProgressProblem.report_id)
        .join(Unit, col(Unit.id) == ProgressProblem.unit_id, isouter=True)
        .where(ProgressReport.major_project_id == major_project_id)
        .order_by(col(ProgressProblem.id))
    ).all()
    return pd.DataFrame(
        [(i, week_label(w), p, u, r, d) for i, w, p, u, r, d in rows],
        columns=["problem_id", "week", "problem", "unit", "resolution", "resolved_on"],
    )
