"""Figures of the major projects (重点项目): status, 完成投资, missing weekly reports, 季评比.

To move to ``crm/metrics/major.py`` when crm.metrics becomes a package. Every figure is a
DataFrame, one row per project or group, money in integer yuan, shares as fractions,
scores in points (分). Definitions:

- plan to date (序时计划) = the plan's months that have ended by as_of plus the elapsed share
  (by days) of the month containing as_of; with no monthly plan, the year's planned_yuan ×
  the year's time progress.
- completed (完成投资) = the cumulative of the latest weekly report whose Friday is on or
  before as_of; a week's investment counts on its Friday.
- progress_status: ``behind`` (滞后) when completed < plan to date × (1 − tolerance) or a
  milestone is overdue (planned before as_of, not reached by then); ``ahead`` (超前) when
  completed > plan to date × (1 + tolerance); else ``normal`` (正常). The tolerance is the
  counting rules' progress_tolerance, named in every report.
- a project is expected to report for a week when its deal started by the week's Friday
  and was neither terminated nor in production before its Monday; the report is due by the
  rules' weekday and time (Friday 12:00) in China Standard Time (UTC+8).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Select, and_, case, cast, func, select
from sqlmodel import Session, SQLModel

from crm.errors import InvalidValue
from crm.major.common import LOCAL
from crm.major.progress import parse_week, week_label
from crm.major.projects import get_weights, leaders_of, weights_label
from crm.models import (
    MAJOR_CATEGORY_LABELS,
    REGISTRATION_DOCUMENT_LABELS,
    CountingRules,
    DealState,
    MajorCategory,
    RegistrationDocumentKind,
    ScoringWeights,
)
from crm.rules import size_class_labels, size_classes
from crm.targets import Period, get_rules, parse_period, rules_label, same_day_last_year

__all__ = [
    "MAJOR_BY",
    "MAJOR_COLUMNS",
    "STATUS_LABELS",
    "completed_investment",
    "completed_investment_sums",
    "completed_per_deal",
    "major_status",
    "missing_reports",
    "plan_to_date",
    "progress_status",
    "quarterly_scores",
    "registration_readiness",
    "report_deadline",
]

STATUS_LABELS = {"normal": "正常", "ahead": "超前", "behind": "滞后", "no_plan": "无计划"}
MAJOR_BY = ("leader", "unit", "category")
MAJOR_COLUMNS = [
    "major_project_id",
    "deal_id",
    "project_name",
    "source",
    "category",
    "unit",
    "leader",
    "leaders",
    "planned_yuan",
    "plan_to_date_yuan",
    "completed_yuan",
    "plan_share",
    "year_share",
    "progress_status",
    "status_label",
    "last_report",
    "last_reported_on",
    "overdue_milestones",
    "open_problems",
    "rules",
]
GROUP_COLUMNS = [
    "projects",
    "planned_yuan",
    "plan_to_date_yuan",
    "completed_yuan",
    "plan_share",
    "behind",
    "ahead",
    "normal",
    "overdue_milestones",
    "open_problems",
    "rules",
]
SCORE_COLUMNS = [
    "rank",
    "name",
    "projects",
    "plan_score",
    "start_score",
    "milestone_score",
    "report_score",
    "score",
    "last",
    "note",
    "weights",
    "rules",
]

_T = SQLModel.metadata.tables
DEAL, MP, MPL = _T["deal"], _T["major_project"], _T["major_project_leader"]
REPORT, PLAN, MONTH, MILESTONE, PROBLEM = (
    _T["progress_report"],
    _T["construction_plan"],
    _T["plan_month"],
    _T["plan_milestone"],
    _T["progress_problem"],
)
UNIT, PERSON, INDUSTRY, ZONE, DEAL_ZONE, INVESTOR = (
    _T["unit"],
    _T["person"],
    _T["industry"],
    _T["zone"],
    _T["deal_zone"],
    _T["investor"],
)
DOCUMENT = _T["registration_document"]


# A deal's size by contracted amount with increases (500万以上 / 亿元以上 / 10亿元以上).
def plan_to_date(months: dict[date, int], planned_yuan: int | None, year: int, as_of: date) -> int | None:
    """Planned completed investment due by `as_of` (yuan): ended months in full, the current
    month by the share of its days elapsed (as_of counts), rounded half up to the yuan.
    With no months, planned_yuan × the share of the year elapsed; None without either."""
    if as_of < date(year, 1, 1):
        return 0 if months or planned_yuan is not None else None
    if months:
        total = 0
        for month, amount in months.items():
            last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
            if last <= as_of:
                total += amount
            elif month <= as_of:
                days = calendar.monthrange(month.year, month.month)[1]
                total += (2 * amount * as_of.day + days) // (2 * days)
        return total
    if planned_yuan is None:
        return None
    year_days = 366 if calendar.isleap(year) else 365
    elapsed = min(year_days, (as_of - date(year, 1, 1)).days + 1)
    return (2 * planned_yuan * elapsed + year_days) // (2 * year_days)


def progress_status(completed: int, planned: int | None, tolerance: float, overdue: int = 0) -> str:
    """normal / ahead / behind (正常 / 超前 / 滞后), or no_plan, from completed and plan to date (yuan)."""
    if overdue:
        return "behind"
    if planned is None:
        return "no_plan"
    if completed < planned * (1 - tolerance):
        return "behind"
    if completed > planned * (1 + tolerance):
        return "ahead"
    return "normal"


def report_deadline(monday: date, rules: CountingRules) -> datetime:
    """When the report of the week starting `monday` is due (aware; China Standard Time)."""
    hours, minutes = (int(x) for x in rules.report_deadline_time.split(":"))
    day = monday + timedelta(days=rules.report_deadline_weekday - 1)
    return datetime.combine(day, time(hours, minutes), tzinfo=LOCAL)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite returns naive UTC


def _expected(deal: dict[str, Any], monday: date) -> bool:
    friday = monday + timedelta(days=4)
    started = deal["started_on"]
    if started is None or started > friday:
        return False
    if deal["terminated_on"] is not None and deal["terminated_on"] < monday:
        return False
    return not (deal["completed_on"] is not None and deal["completed_on"] < monday)


# ---------------------------------------------------------------- loading


@dataclass
class _Book:
    """Everything about one year's major projects, loaded in a few queries."""

    projects: pd.DataFrame  # one row per project
    leaders: dict[int, list[str]]
    months: dict[int, dict[date, int]]
    milestones: pd.DataFrame  # major_project_id, name, planned_on, reached_on
    reports: pd.DataFrame  # major_project_id, week_start, week_yuan, cumulative_yuan, reported_at
    problems: pd.DataFrame  # major_project_id, week_start, problem, unit, resolution

    def __post_init__(self) -> None:
        # split once by project: the figures look each project up, never scan every row per project
        self._split: dict[str, dict[int, list[Any]]] = {}
        for name, frame in (("reports", self.reports), ("milestones", self.milestones), ("problems", self.problems)):
            rows: dict[int, list[Any]] = {}
            for row in frame.itertuples(index=False):
                rows.setdefault(int(row.major_project_id), []).append(row)
            self._split[name] = rows
        self.reported_at = {
            (int(p), w): _aware(at)
            for p, w, at in zip(
                self.reports["major_project_id"], self.reports["week_start"], self.reports["reported_at"], strict=True
            )
        }

    def of(self, name: str, project_id: int) -> list[Any]:
        """The rows (named tuples) of `name` (reports, milestones, problems) of one project, in load order."""
        return self._split[name].get(project_id, [])


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NaT


def _rows(session: Session, statement: Select) -> pd.DataFrame:
    result = session.connection().execute(statement)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _load(session: Session, year: int) -> _Book:
    projects = _rows(
        session,
        select(
            MP.c.id.label("major_project_id"),
            MP.c.deal_id,
            MP.c.year,
            MP.c.source,
            MP.c.category,
            MP.c.planned_yuan,
            UNIT.c.name.label("unit"),
            DEAL.c.project_name,
            DEAL.c.state,
            DEAL.c.started_on,
            DEAL.c.completed_on,
            DEAL.c.terminated_on,
        )
        .select_from(MP.join(DEAL, DEAL.c.id == MP.c.deal_id).outerjoin(UNIT, UNIT.c.id == MP.c.unit_id))
        .where(MP.c.year == year)
        .order_by(MP.c.id),
    )
    ids = [int(i) for i in projects["major_project_id"]]
    months: dict[int, dict[date, int]] = {}
    for project_id, month, amount in session.connection().execute(
        select(PLAN.c.major_project_id, MONTH.c.month, MONTH.c.planned_yuan)
        .select_from(MONTH.join(PLAN, PLAN.c.id == MONTH.c.plan_id))
        .where(PLAN.c.major_project_id.in_(ids))
    ):
        months.setdefault(int(project_id), {})[month] = int(amount)
    milestones = _rows(
        session,
        select(PLAN.c.major_project_id, MILESTONE.c.name, MILESTONE.c.planned_on, MILESTONE.c.reached_on)
        .select_from(MILESTONE.join(PLAN, PLAN.c.id == MILESTONE.c.plan_id))
        .where(PLAN.c.major_project_id.in_(ids))
        .order_by(MILESTONE.c.planned_on, MILESTONE.c.id),
    )
    reports = _rows(
        session,
        select(
            REPORT.c.major_project_id,
            REPORT.c.week_start,
            REPORT.c.week_yuan,
            REPORT.c.cumulative_yuan,
            REPORT.c.reported_at,
        )
        .where(REPORT.c.major_project_id.in_(ids))
        .order_by(REPORT.c.major_project_id, REPORT.c.week_start),
    )
    problems = _rows(
        session,
        select(
            REPORT.c.major_project_id,
            REPORT.c.week_start,
            PROBLEM.c.problem,
            UNIT.c.name.label("unit"),
            PROBLEM.c.resolution,
            PROBLEM.c.resolved_on,
        )
        .select_from(
            PROBLEM.join(REPORT, REPORT.c.id == PROBLEM.c.report_id).outerjoin(UNIT, UNIT.c.id == PROBLEM.c.unit_id)
        )
        .where(REPORT.c.major_project_id.in_(ids))
        .order_by(PROBLEM.c.id),
    )
    return _Book(projects, leaders_of(session, ids), months, milestones, reports, problems)


def _year(year: int | None, as_of: date) -> int:
    if year is None:
        return as_of.year
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2999:
        raise InvalidValue("year", year, "expected a year such as 2026")
    return year


# ---------------------------------------------------------------- status (crm report major)


def _overdue(milestones: list[Any], as_of: date) -> list[str]:
    return [
        f"{m.name}({m.planned_on})"
        for m in milestones
        if m.planned_on < as_of and (_missing(m.reached_on) or m.reached_on > as_of)
    ]


def major_status(
    session: Session,
    *,
    as_of: date,
    year: int | None = None,
    by: str | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """Where each major project of `year` (default as_of's) stands as of `as_of` (MAJOR_COLUMNS):
    plan, plan to date, completed, shares, status, last report, overdue milestones and open
    problems. `by` leader (every responsible leader), unit or category: one row per group
    (GROUP_COLUMNS) with the counts of behind / ahead / normal projects."""
    if by is not None and by not in MAJOR_BY:
        raise InvalidValue("by", by, f"use one of {', '.join(MAJOR_BY)}")
    rs = get_rules(session, rules)
    label = rules_label(rs)
    book = _load(session, _year(year, as_of))
    records = []
    for p in book.projects.to_dict(orient="records"):
        pid = int(p["major_project_id"])
        reports = book.of("reports", pid)
        counted = [r for r in reports if r.week_start + timedelta(days=4) <= as_of]
        completed = int(counted[-1].cumulative_yuan) if counted else 0
        planned = None if pd.isna(p["planned_yuan"]) else int(p["planned_yuan"])
        due = plan_to_date(book.months.get(pid, {}), planned, int(p["year"]), as_of)
        overdue = _overdue(book.of("milestones", pid), as_of)
        status = progress_status(completed, due, rs.progress_tolerance, len(overdue))
        raised = book.of("problems", pid)
        problems = [r for r in raised if _missing(r.resolution) and r.week_start <= as_of]
        leaders = book.leaders.get(pid, [])
        last = counted[-1] if counted else None
        records.append(
            {
                "major_project_id": pid,
                "deal_id": int(p["deal_id"]),
                "project_name": p["project_name"],
                "source": p["source"],
                "category": MAJOR_CATEGORY_LABELS[MajorCategory(p["category"])],
                "unit": p["unit"],
                "leader": leaders[0] if leaders else None,
                "leaders": "、".join(leaders),
                "planned_yuan": planned,
                "plan_to_date_yuan": due,
                "completed_yuan": completed,
                "plan_share": completed / due if due else None,
                "year_share": completed / planned if planned else None,
                "progress_status": status,
                "status_label": STATUS_LABELS[status],
                "last_report": week_label(last.week_start) if last is not None else None,
                "last_reported_on": _aware(last.reported_at).astimezone(LOCAL).date() if last is not None else None,
                "overdue_milestones": "、".join(overdue),
                "open_problems": "；".join(
                    str(r.problem) + (f"（{r.unit}）" if isinstance(r.unit, str) else "") for r in problems
                ),
                "_overdue": len(overdue),
                "_open": len(problems),
                "_leaders": leaders,
            }
        )
    df = pd.DataFrame.from_records(records, columns=[*MAJOR_COLUMNS, "_overdue", "_open", "_leaders"])
    df["rules"] = label
    if by is None:
        out = df[MAJOR_COLUMNS].copy()
        for column in ("planned_yuan", "plan_to_date_yuan", "completed_yuan"):
            out[column] = out[column].astype("Int64")
        out["plan_share"] = out["plan_share"].astype("float64")
        out["year_share"] = out["year_share"].astype("float64")
        out.attrs["rules"] = label
        return out
    if by == "leader":
        df = df.assign(leader=df["_leaders"]).explode("leader")
    groups = []
    for name, g in df.groupby(by, sort=True, dropna=False):
        planned_sum = int(g["planned_yuan"].fillna(0).sum())
        due_sum = int(g["plan_to_date_yuan"].fillna(0).sum())
        done = int(g["completed_yuan"].sum())
        groups.append(
            {
                by: None if pd.isna(name) else name,
                "projects": len(g),
                "planned_yuan": planned_sum,
                "plan_to_date_yuan": due_sum,
                "completed_yuan": done,
                "plan_share": done / due_sum if due_sum else None,
                "behind": int((g["progress_status"] == "behind").sum()),
                "ahead": int((g["progress_status"] == "ahead").sum()),
                "normal": int((g["progress_status"] == "normal").sum()),
                "overdue_milestones": int(g["_overdue"].sum()),
                "open_problems": int(g["_open"].sum()),
                "rules": label,
            }
        )
    out = pd.DataFrame.from_records(groups, columns=[by, *GROUP_COLUMNS])
    out["plan_share"] = out["plan_share"].astype("float64")
    out.attrs["rules"] = label
    return out


# ---------------------------------------------------------------- missing weekly reports


def missing_reports(session: Session, *, week: str | date, rules: str | CountingRules | None = None) -> pd.DataFrame:
    """The major projects expected to report for `week` (2026-W26 or a date in it) that had no
    report by the deadline: major_project_id, project_name, unit, leader, leaders, week,
    deadline (CST), reported_at (CST, when it came late), status (missing / late)."""
    rs = get_rules(session, rules)
    monday = parse_week(week)
    friday = monday + timedelta(days=4)
    deadline = report_deadline(monday, rs)
    book = _load(session, friday.year)
    columns = [
        "major_project_id",
        "project_name",
        "unit",
        "leader",
        "leaders",
        "week",
        "deadline",
        "reported_at",
        "status",
        "rules",
    ]
    records = []
    for p in book.projects.to_dict(orient="records"):
        if not _expected(p, monday):
            continue
        pid = int(p["major_project_id"])
        at = book.reported_at.get((pid, monday))
        if at is not None and at <= deadline:
            continue
        leaders = book.leaders.get(pid, [])
        records.append(
            {
                "major_project_id": pid,
                "project_name": p["project_name"],
                "unit": p["unit"],
                "leader": leaders[0] if leaders else None,
                "leaders": "、".join(leaders),
                "week": week_label(monday),
                "deadline": deadline.strftime("%Y-%m-%d %H:%M"),
                "reported_at": at.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M") if at else None,
                "status": "late" if at else "missing",
                "rules": rules_label(rs),
            }
        )
    out = pd.DataFrame.from_records(records, columns=columns)
    out.attrs["rules"] = rules_label(rs)
    return out


# ---------------------------------------------------------------- 季评比 (quarterly scoring)


def _quarter(quarter: str | Period) -> Period:
    period = quarter if isinstance(quarter, Period) else parse_period(quarter)
    if period.kind != "quarter":
        raise InvalidValue("quarter", quarter, "write a quarter such as 2026Q2")
    return period


def _share(done: int, due: int) -> float:
    return 1.0 if due == 0 else done / due


def quarterly_scores(
    session: Session,
    *,
    quarter: str,
    by: str = "unit",
    as_of: date | None = None,
    weights: str | ScoringWeights | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """The quarterly league table (季评比) of units or leaders over their major projects, in points.

    For each unit (the project's responsible unit) or leader (every responsible leader), up to
    the quarter's end or `as_of` if earlier:
    plan_score = plan_points × min(1, Σ completed ÷ Σ plan to date);
    start_score = start_points × 新开工 projects started ÷ those whose 开工 milestone was due
    (every 新开工 project when it has no 开工 milestone);
    milestone_score = milestone_points × milestones due in the quarter reached on time ÷ due;
    report_score = report_points × weekly reports on time ÷ reports expected (weeks whose
    deadline passed). A part with nothing due scores in full (said in `note`); a unit or leader
    with nothing due at all is not ranked. score = the sum,
    to one decimal; rank by score, then plan_score; the last place is flagged (`last`).
    """
    if by not in ("unit", "leader"):
        raise InvalidValue("by", by, "use unit or leader")
    period = _quarter(quarter)
    rs = get_rules(session, rules)
    w = weights if isinstance(weights, ScoringWeights) else get_weights(session, weights)
    end = min(period.end, as_of) if as_of is not None else period.end
    book = _load(session, period.start.year)
    members: dict[str, list[dict[str, Any]]] = {}
    for p in book.projects.to_dict(orient="records"):
        pid = int(p["major_project_id"])
        names = book.leaders.get(pid, []) if by == "leader" else ([p["unit"]] if isinstance(p["unit"], str) else [])
        for name in names:
            members.setdefault(name, []).append(p)
    records = []
    weeks = []
    monday = period.start - timedelta(days=period.start.weekday())
    while monday + timedelta(days=4) <= end:
        if monday + timedelta(days=4) >= period.start and report_deadline(monday, rs).date() <= end:
            weeks.append(monday)
        monday += timedelta(days=7)
    for name, projects in members.items():
        done = due = starts_due = starts_done = ms_due = ms_ok = rep_due = rep_ok = 0
        for p in projects:
            pid = int(p["major_project_id"])
            reports = book.of("reports", pid)
            counted = [r for r in reports if r.week_start + timedelta(days=4) <= end]
            done += int(counted[-1].cumulative_yuan) if counted else 0
            planned = None if pd.isna(p["planned_yuan"]) else int(p["planned_yuan"])
            due += plan_to_date(book.months.get(pid, {}), planned, int(p["year"]), end) or 0
            ms = book.of("milestones", pid)
            if p["category"] == MajorCategory.new_start:
                start_ms = [m for m in ms if m.name == "开工"]
                if not start_ms or start_ms[0].planned_on <= end:
                    starts_due += 1
                    starts_done += int(p["started_on"] is not None and p["started_on"] <= end)
            for m in ms:
                if period.start <= m.planned_on <= end:
                    ms_due += 1
                    ms_ok += int(not _missing(m.reached_on) and m.reached_on <= m.planned_on)
            for monday in weeks:
                if _expected(p, monday):
                    rep_due += 1
                    at = book.reported_at.get((pid, monday))
                    rep_ok += int(at is not None and at <= report_deadline(monday, rs))
        if due == starts_due == ms_due == rep_due == 0:
            continue  # nothing due yet (only 前期 projects): not ranked
        notes = [
            part
            for part, count in (("投资", due), ("开工", starts_due), ("节点", ms_due), ("报送", rep_due))
            if count == 0
        ]
        parts = {
            "plan_score": w.plan_points * min(1.0, _share(done, due)),
            "start_score": w.start_points * _share(starts_done, starts_due),
            "milestone_score": w.milestone_points * _share(ms_ok, ms_due),
            "report_score": w.report_points * _share(rep_ok, rep_due),
        }
        records.append(
            {
                "name": name,
                "projects": len(projects),
                **{k: round(v, 1) for k, v in parts.items()},
                "score": round(sum(parts.values()), 1),
                "note": ("nothing due, full points: " + "、".join(notes)) if notes else "",
            }
        )
    df = pd.DataFrame.from_records(
        records, columns=[c for c in SCORE_COLUMNS if c not in ("rank", "last", "weights", "rules")]
    )
    df = df.sort_values(["score", "plan_score", "name"], ascending=[False, False, True], kind="stable").reset_index(
        drop=True
    )
    df.insert(0, "rank", range(1, len(df) + 1))
    df["last"] = df["rank"] == len(df)
    df["weights"] = weights_label(w)
    df["rules"] = rules_label(rs)
    df = df[SCORE_COLUMNS]
    df.attrs["weights"] = weights_label(w)
    return df


# ---------------------------------------------------------------- 完成投资 as a figure


def _size_class(amount: int, rules: CountingRules) -> str:
    """The size class (crm.rules, stored with the counting rules) of a deal of `amount` yuan."""
    labels = size_class_labels(rules)
    index = 0
    for i, (_, floor) in enumerate(size_classes(rules), start=1):
        if amount >= floor:
            index = i
    return labels[index]


def completed_per_deal(start: date, end: date) -> Select:
    """Completed investment per deal in [start, end] (a week counts on its Friday), across list years:
    columns deal_id, completed. The one definition of 完成投资 in a window (also period_figures')."""
    friday = REPORT.c.week_start
    return (
        select(MP.c.deal_id, func.sum(cast(REPORT.c.week_yuan, BigInteger)).label("completed"))
        .select_from(REPORT.join(MP, MP.c.id == REPORT.c.major_project_id))
        .where(friday >= start - timedelta(days=4), friday <= end - timedelta(days=4))
        .group_by(MP.c.deal_id)
    )


_BY = ("industry", "unit", "leader", "zone", "size_class", "category")


def completed_investment(
    session: Session,
    *,
    start: date,
    end: date,
    by: str | Sequence[str] | None = None,
    rules: str | CountingRules | None = None,
) -> pd.DataFrame:
    """完成投资 of major projects in [start, end] with the same days a year earlier.

    Columns: the `by` dimensions (industry, unit — the project's responsible unit —, leader
    — the lead leader —, zone 园区, size_class, category), completed_investment_yuan,
    completed_investment_yuan_last_year, _diff, _yoy (None when last year is 0). Size classes
    are the counting rules' (`rules`, default the default rule set).
    """
    rs = get_rules(session, rules)
    dims = [by] if isinstance(by, str) else list(by or [])
    for d in dims:
        if d not in _BY:
            raise InvalidValue("by", d, f"use one of {', '.join(_BY)}")
    if end < start:
        raise InvalidValue("end", end, f"before the start {start}")
    frames = []
    for label, lo, hi in (("now", start, end), ("last", same_day_last_year(start), same_day_last_year(end))):
        sums = _rows(session, completed_per_deal(lo, hi))
        sums["which"] = label
        frames.append(sums)
    sums = pd.concat(frames, ignore_index=True)
    lead = select(MPL.c.major_project_id, MPL.c.person_id).where(MPL.c.position == 0).subquery()
    increases = (
        select(DEAL.c.increases_id.label("deal_id"), func.sum(DEAL.c.contracted_yuan).label("increase"))
        .where(DEAL.c.increases_id.is_not(None))
        .group_by(DEAL.c.increases_id)
        .subquery()
    )
    facts = _rows(
        session,
        select(
            DEAL.c.id.label("deal_id"),
            MP.c.year,
            INDUSTRY.c.name.label("industry"),
            UNIT.c.name.label("unit"),
            PERSON.c.name.label("leader"),
            ZONE.c.name.label("zone"),
            MP.c.category,
            (DEAL.c.contracted_yuan + func.coalesce(increases.c.increase, 0)).label("size_yuan"),
        )
        .select_from(
            MP.join(DEAL, DEAL.c.id == MP.c.deal_id)
            .outerjoin(INDUSTRY, INDUSTRY.c.id == DEAL.c.industry_id)
            .outerjoin(UNIT, UNIT.c.id == MP.c.unit_id)
            .outerjoin(lead, lead.c.major_project_id == MP.c.id)
            .outerjoin(PERSON, PERSON.c.id == lead.c.person_id)
            .outerjoin(DEAL_ZONE, DEAL_ZONE.c.deal_id == DEAL.c.id)
            .outerjoin(ZONE, ZONE.c.id == DEAL_ZONE.c.zone_id)
            .outerjoin(increases, increases.c.deal_id == DEAL.c.id)
        )
        .order_by(MP.c.year.desc()),
    ).drop_duplicates("deal_id")  # a deal listed in several years: its newest listing's unit and leader
    facts["size_class"] = [_size_class(int(v), rs) for v in facts["size_yuan"]]
    facts["category"] = [MAJOR_CATEGORY_LABELS[MajorCategory(c)] for c in facts["category"]]
    merged = sums.merge(facts, on="deal_id", how="left")
    merged["completed"] = merged["completed"].astype("int64")
    now = merged[merged["which"] == "now"]
    last = merged[merged["which"] == "last"]
    if dims:
        a = now.groupby(dims, dropna=False)["completed"].sum()
        b = last.groupby(dims, dropna=False)["completed"].sum()
        out = (
            pd.concat([a.rename("completed_investment_yuan"), b.rename("completed_investment_yuan_last_year")], axis=1)
            .fillna(0)
            .astype("int64")
            .reset_index()
        )
        out = out.sort_values(dims, kind="stable", na_position="last").reset_index(drop=True)
    else:
        out = pd.DataFrame(
            {
                "completed_investment_yuan": [int(now["completed"].sum())],
                "completed_investment_yuan_last_year": [int(last["completed"].sum())],
            }
        )
    out["completed_investment_yuan_diff"] = (
        out["completed_investment_yuan"] - out["completed_investment_yuan_last_year"]
    )
    out["completed_investment_yuan_yoy"] = [
        (d / lastv) if lastv else None
        for d, lastv in zip(
            out["completed_investment_yuan_diff"], out["completed_investment_yuan_last_year"], strict=True
        )
    ]
    out["completed_investment_yuan_yoy"] = out["completed_investment_yuan_yoy"].astype("float64")
    return out


def completed_investment_sums(windows: Sequence[tuple[date, date]], key: str | None = None) -> Select:
    """The target hook of crm.metrics: completed investment summed per window [start, end],
    as columns ``completed_investment_yuan__<i>``, grouped (when `key`) by ``unit_key`` (the
    project's responsible unit, else the deal's) or ``leader_id`` (the lead leader, else the
    deal's). A week counts on its Friday; the caller adds the GROUP BY."""
    lead = select(MPL.c.major_project_id, MPL.c.person_id).where(MPL.c.position == 0).subquery()
    sums = [
        func.coalesce(
            func.sum(
                case(
                    (
                        and_(
                            REPORT.c.week_start >= lo - timedelta(days=4), REPORT.c.week_start <= hi - timedelta(days=4)
                        ),
                        cast(REPORT.c.week_yuan, BigInteger),
                    ),
                    else_=0,
                )
            ),
            0,
        ).label(f"completed_investment_yuan__{i}")
        for i, (lo, hi) in enumerate(windows)
    ]
    keys = []
    if key == "unit_key":
        keys = [func.coalesce(MP.c.unit_id, DEAL.c.unit_id).label("unit_key")]
    elif key == "leader_id":
        keys = [func.coalesce(lead.c.person_id, DEAL.c.leader_id).label("leader_id")]
    elif key is not None:
        keys = [DEAL.c[key].label(key)]
    return select(*keys, *sums).select_from(
        REPORT.join(MP, MP.c.id == REPORT.c.major_project_id)
        .join(DEAL, DEAL.c.id == MP.c.deal_id)
        .outerjoin(lead, lead.c.major_project_id == MP.c.id)
    )


# ---------------------------------------------------------------- 入库 readiness


def registration_readiness(session: Session, *, as_of: date | None = None) -> pd.DataFrame:
    """Started deals not yet registered (入库) with the documents each still lacks.

    Columns: deal_id, project_name, investor, unit, started_on, approval, construction_permit,
    main_contract (the document number, None when missing), missing (labels joined with 、),
    ready (nothing missing). `as_of` keeps deals started by then.
    """
    statement = (
        select(
            DEAL.c.id.label("deal_id"),
            DEAL.c.project_name,
            INVESTOR.c.name.label("investor"),
            UNIT.c.name.label("unit"),
            DEAL.c.started_on,
        )
        .select_from(
            DEAL.join(INVESTOR, INVESTOR.c.id == DEAL.c.investor_id).outerjoin(UNIT, UNIT.c.id == DEAL.c.unit_id)
        )
        .where(
            DEAL.c.state.in_([DealState.started.value, DealState.in_production.value]),
            DEAL.c.registered_on.is_(None),
            DEAL.c.increases_id.is_(None),
        )
        .order_by(DEAL.c.started_on, DEAL.c.id)
    )
    if as_of is not None:
        statement = statement.where(DEAL.c.started_on <= as_of)
    deals = _rows(session, statement)
    docs: dict[int, dict[str, str]] = {}
    for deal_id, kind, number in session.connection().execute(
        select(DOCUMENT.c.deal_id, DOCUMENT.c.kind, DOCUMENT.c.number).where(
            DOCUMENT.c.deal_id.in_([int(i) for i in deals["deal_id"]])
        )
    ):
        docs.setdefault(int(deal_id), {})[str(kind)] = str(number)
    kinds = [k.value for k in RegistrationDocumentKind]
    for kind in kinds:
        deals[kind] = [docs.get(int(i), {}).get(kind) for i in deals["deal_id"]]
    deals["missing"] = [
        "、".join(
            REGISTRATION_DOCUMENT_LABELS[RegistrationDocumentKind(k)] for k in kinds if k not in docs.get(int(i), {})
        )
        for i in deals["deal_id"]
    ]
    deals["ready"] = deals["missing"] == ""
    return deals
