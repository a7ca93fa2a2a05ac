"""The demo county's major projects (重点项目): the year's list, plans and months of weekly reports.

Deterministic (no randomness, fixed report times): the largest started deals of 1亿 and more
go on the list (续建 when started before the year, else 新开工), with two unstarted ones as
前期; each gets a plan, and weekly reports for the last four months — some projects keep
pace, some fall behind (滞后, with an overdue milestone), one runs ahead, one stops reporting,
one reports late. Registration documents are recorded for the new starts, one complete.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from crm.major.plans import set_plan
from crm.major.progress import Problem, report_progress, resolve_problem
from crm.major.projects import add_major_project, add_zone, set_deal_zone
from crm.major.registration import record_document
from crm.metrics.major import plan_to_date
from crm.models import Deal, DealState, MajorProject, ProgressProblem, Unit
from crm.targets import set_target

__all__ = ["build_major_demo"]

ACTOR = "demo"
WAN = 10_000
MONTH_WEIGHTS = (2, 3, 7, 9, 10, 11, 11, 11, 10, 10, 9, 7)  # % of the year's plan by month
# how each project keeps pace with its plan (100 = on plan); below 90 falls behind, above 110 runs ahead
PACE = (100, 96, 70, 102, 62, 130, 92, 100, 98, 85)  # percent
ZONES = (("工业园区", "工业园区"), ("光电园区", "工业园区"), ("经济技术开发区", "经开区"))
REPORT_WEEKS = 17  # about four months of weekly reports


def _share_wan(yuan: int, percent: int) -> int:
    """`percent`% of `yuan`, rounded half up to the 万元 (integers only: money never passes through float)."""
    return (yuan * percent * 2 // (100 * WAN) + 1) // 2 * WAN


def _months(year: int, planned: int) -> dict[date, int]:
    months = {date(year, m, 1): _share_wan(planned, w) for m, w in enumerate(MONTH_WEIGHTS, start=1)}
    months[date(year, 12, 1)] += planned - sum(months.values())
    return months


def _milestones(year: int, index: int, new_start: bool, deal: Deal) -> dict[str, date]:
    out = {}
    if new_start and deal.started_on is not None:
        out["开工"] = min(deal.started_on, date(year, 4, 30))
    out.update(
        {
            "主体完工": date(year, 6, 20) + timedelta(days=7 * (index % 3)),
            "设备安装": date(year, 9, 15) + timedelta(days=7 * (index % 2)),
            "竣工": date(year, 11, 30),
            "投产": date(year, 12, 20),
        }
    )
    return out


def build_major_demo(session: Session, *, as_of: date) -> int:
    """Add the year's major projects of the demo county with plans and weekly reports; returns
    how many projects. Needs the demo's deals; adds nothing when the year's list exists."""
    year = as_of.year
    if session.exec(select(func.count()).select_from(MajorProject).where(MajorProject.year == year)).one():
        return 0
    started = session.exec(
        select(Deal)
        .where(
            Deal.state == DealState.started,
            col(Deal.increases_id).is_(None),
            Deal.contracted_yuan >= 100_000_000,
            col(Deal.started_on) <= as_of,
        )
        .order_by(col(Deal.contracted_yuan).desc(), col(Deal.id))
        .limit(8)
    ).all()
    waiting = session.exec(
        select(Deal)
        .where(Deal.state == DealState.signed, col(Deal.increases_id).is_(None), Deal.contracted_yuan >= 100_000_000)
        .order_by(col(Deal.contracted_yuan).desc(), col(Deal.id))
        .limit(2)
    ).all()
    for name, kind in ZONES:
        add_zone(session, name, kind=kind, actor=ACTOR, commit=False)
    fallback_unit = session.exec(select(Unit.name).order_by(col(Unit.id))).first()
    projects: list[tuple[MajorProject, Deal, int]] = []
    for index, deal in enumerate([*started, *waiting]):
        assert deal.id is not None
        category = "前期" if deal.started_on is None else ("新开工" if deal.started_on.year == year else "续建")
        planned = 0 if category == "前期" else _share_wan(deal.contracted_yuan, 30)
        project = add_major_project(
            session,
            deal.id,
            year=year,
            source="市责任书" if index % 2 == 0 else "县级包抓",
            category=category,
            unit=None if deal.unit_id else fallback_unit,
            content=deal.description,
            actor=ACTOR,
            commit=False,
        )
        set_deal_zone(session, deal.id, ZONES[index % len(ZONES)][0], actor=ACTOR, commit=False)
        assert project.id is not None
        milestones = (
            {"开工": date(year + 1, 3, 31)}
            if category == "前期"
            else _milestones(year, index, category == "新开工", deal)
        )
        set_plan(
            session,
            project.id,
            milestones=milestones,
            months=_months(year, planned) if planned else None,
            actor=ACTOR,
            commit=False,
        )
        if category != "前期":
            projects.append((project, deal, PACE[index % len(PACE)]))
        if category == "新开工":
            record_document(
                session,
                deal.id,
                kind="approval",
                number=f"县发改备〔{year}〕{index + 1}号",
                issued_on=deal.signed_on,
                actor=ACTOR,
                commit=False,
            )
            record_document(
                session,
                deal.id,
                kind="construction_permit",
                number=f"62{year}{index + 1:04d}",
                issued_on=deal.started_on or deal.signed_on,
                evidence_ref="县住建局",
                actor=ACTOR,
                commit=False,
            )
            if index == 0 or len(projects) == 1:
                record_document(
                    session,
                    deal.id,
                    kind="main_contract",
                    number=f"SG-{year}-{index + 1:03d}",
                    issued_on=deal.started_on or deal.signed_on,
                    actor=ACTOR,
                    commit=False,
                )
    _weekly_reports(session, projects, as_of)
    total_plan = sum(p.planned_yuan or 0 for p, _, _ in projects)
    if total_plan:
        set_target(
            session,
            metric="completed_investment_yuan",
            period=year,
            amount_yuan=total_plan,
            actor=ACTOR,
            commit=False,
        )
    session.flush()
    return len(projects) + len(waiting)


def _weekly_reports(session: Session, projects: list[tuple[MajorProject, Deal, int]], as_of: date) -> None:
    last_monday = as_of - timedelta(days=as_of.weekday() + (7 if as_of.weekday() < 4 else 0))
    first_monday = last_monday - timedelta(weeks=REPORT_WEEKS - 1)
    year = as_of.year
    for index, (project, deal, pace) in enumerate(projects):
        assert project.id is not None and deal.started_on is not None
        months = _months(year, project.planned_yuan or 0)
        start = max(first_monday, deal.started_on - timedelta(days=deal.started_on.weekday()))
        reached: set[str] = set()
        plans = _milestones(year, index, project.category == "new_start", deal)
        monday = start
        week_number = 0
        while monday <= last_monday:
            friday = monday + timedelta(days=4)
            week_number += 1
            silent = (index == 3 and monday >= last_monday - timedelta(weeks=1)) or (
                index == 6 and week_number % 5 == 0
            )
            if friday.year != year or silent:
                monday += timedelta(weeks=1)
                continue
            due = plan_to_date(months, project.planned_yuan, year, friday) or 0
            cumulative = _share_wan(due, pace)
            hour = 15 if (index == 1 and monday == last_monday) else 10  # China time; 15:00 is late
            at = datetime.combine(friday, time(hour - 8), tzinfo=UTC)
            sunday = monday + timedelta(days=6)
            hits = {}
            for name, planned_on in plans.items():
                # projects on pace reach their milestones two days early; those behind only start
                on = deal.started_on if name == "开工" else planned_on - timedelta(days=2)
                if name not in reached and on <= sunday and (pace >= 90 or name == "开工"):
                    hits[name] = on
                    reached.add(name)
            problems = []
            if pace < 90 and week_number == 4:
                problems.append(Problem("用地手续未办结，影响施工进度", None, None))
            if pace < 90 and week_number == 6:
                problems.append(Problem("施工用电未接入", None, None))
            report = report_progress(
                session,
                project.id,
                week=monday,
                cumulative_yuan=cumulative,
                progress=f"第{week_number}周：按计划推进" if pace >= 90 else f"第{week_number}周：进度滞后，正在协调",
                milestones_reached=hits,
                problems=problems,
                reported_at=at,
                actor=ACTOR,
                commit=False,
            )
            if problems and week_number == 6:
                session.flush()
                for problem in session.exec(
                    select(ProgressProblem).where(ProgressProblem.report_id == report.id)
                ).all():
                    assert problem.id is not None
                    resolve_problem(
                        session,
                        problem.id,
                        resolution="已协调县供电公司接入",
                        on=friday + timedelta(days=7),
                        actor=ACTOR,
                        commit=False,
                    )
            monday += timedelta(weeks=1)
