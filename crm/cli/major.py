"""``crm major ...`` (the major-project list, plans, weekly reports, 入库 documents, scoring)
and ``crm report major`` / ``crm report registration``.

Amounts are text read by ``crm.parse_yuan`` with 万元 as the unit of a bare number.
Dates are YYYY-MM-DD; weeks are ISO weeks (2026-W26); months YYYY-MM.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from crm.cli.common import (
    ActorOption,
    AsOfOption,
    ForceOption,
    Format,
    FormatOption,
    LeaderOption,
    OutOption,
    UnitOption,
    check_out,
    emit,
    fail,
    parse_date,
    session_for,
)
from crm.cli.reports import register_report
from crm.money import parse_yuan, wan

AMOUNT_UNIT = "万元"
InFileArgument = typer.Argument(..., help="The ledger: .xlsx or .csv.")
OutFileArgument = typer.Argument(..., help="Where to write: .xlsx or .csv.")

major_app = typer.Typer(
    rich_markup_mode=None,
    help="Major projects (重点项目): the year's list, construction plans, weekly reports, 入库 documents, "
    "missing reports and the quarterly score.\n\n"
    "Example: crm major add 12 --year 2026 --source 市责任书 --category 新开工 --leader 王建国",
    no_args_is_help=True,
)
zone_app = typer.Typer(
    rich_markup_mode=None,
    help="Zones (园区): a reference list.\n\nExample: crm major zone add 光电园区",
    no_args_is_help=True,
)
major_app.add_typer(zone_app, name="zone")


def _amount(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    return parse_yuan(text, AMOUNT_UNIT, field=option)


def _pairs(values: list[str], option: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise fail(f"{option}: {value!r} is not NAME=VALUE")
        out.append((name.strip(), rest.strip()))
    return out


def _on(text: str, option: str) -> date:
    day = parse_date(text, option)
    assert day is not None
    return day


@major_app.command("add")
def add_command(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help="Deal id."),
    year: int = typer.Option(..., "--year", help="The list year."),
    source: str = typer.Option(..., "--source", help="市责任书, 县级包抓, ..."),
    category: str = typer.Option(..., "--category", help="续建, 新开工 or 前期."),
    unit: str | None = UnitOption,
    leader: Annotated[
        list[str] | None, typer.Option("--leader", help="Responsible leader (repeat; the first is the lead).")
    ] = None,
    planned: str | None = typer.Option(None, "--planned", help="年度计划投资 (万元 unless a unit is written)."),
    content: str | None = typer.Option(None, "--content", help="建设内容及规模."),
    actor: str = ActorOption,
) -> None:
    """Put a deal on the year's major-project list (重点项目清单).

    Example: crm major add 12 --year 2026 --source 市责任书 --category 新开工 --unit 县工信局 --leader 王建国
    """
    from crm import major

    with session_for(ctx) as session:
        project = major.add_major_project(
            session,
            deal_id,
            year=year,
            source=source,
            category=category,
            unit=unit,
            leaders=leader or [],
            planned_yuan=_amount(planned, "--planned"),
            content=content,
            actor=actor,
        )
        typer.echo(f"major project {project.id}: deal {project.deal_id} on the {project.year} list")


@major_app.command("list")
def list_command(
    ctx: typer.Context,
    year: int | None = typer.Option(None, "--year", help="The list year."),
    unit: str | None = UnitOption,
    leader: str | None = LeaderOption,
    category: str | None = typer.Option(None, "--category", help="续建, 新开工 or 前期."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """The major-project list.

    Example: crm major list --year 2026 --category 新开工 --format csv
    """
    from crm import major

    with session_for(ctx) as session:
        df = major.major_projects(session, year=year, unit=unit, leader=leader, category=category)
    emit(df, fmt, out, title=f"重点项目清单 major projects: {len(df)}", force=force)


@major_app.command("import")
def import_command(
    ctx: typer.Context,
    file: Path = InFileArgument,
    year: int = typer.Option(..., "--year", help="The list year (a 年度 column wins)."),
    source: str = typer.Option("市责任书", "--source", help="Source of rows without 项目来源."),
    actor: str = ActorOption,
) -> None:
    """Import the city's 责任清单: each row's deal goes on the year's list; nothing is written if a row is bad.

    Example: crm major import 2026年重点项目责任清单.xlsx --year 2026 --actor 张三
    """
    from crm.major.ledgers import import_major_list

    with session_for(ctx) as session:
        result = import_major_list(session, file, year=year, actor=actor, source=source)
    typer.echo(f"{result.rows} rows: {result.written} added to the list, {result.unchanged} already on it")


@major_app.command("export")
def export_command(
    ctx: typer.Context,
    file: Path = OutFileArgument,
    year: int = typer.Option(..., "--year", help="The list year."),
    force: bool = ForceOption,
) -> None:
    """Export the year's list in the 责任清单 layout (money in 万元), which `crm major import` reads back.

    Example: crm major export 责任清单.xlsx --year 2026
    """
    from crm.major.ledgers import export_major_list

    check_out(file, force=force, option="FILE")
    with session_for(ctx) as session:
        n = export_major_list(session, file, year=year)
    typer.echo(f"wrote {n} projects to {file}")


@major_app.command("plan")
def plan_command(
    ctx: typer.Context,
    project_id: int = typer.Argument(..., help="Major project id."),
    milestone: Annotated[
        list[str] | None,
        typer.Option("--milestone", help="NAME=YYYY-MM-DD (开工, 主体完工, 设备安装, 竣工, 投产 or your own)."),
    ] = None,
    month: Annotated[
        list[str] | None,
        typer.Option(
            "--month", help="YYYY-MM=AMOUNT planned completed investment (万元); all months replace the plan."
        ),
    ] = None,
    note: str | None = typer.Option(None, "--note", help="Note on the plan."),
    actor: str = ActorOption,
) -> None:
    """Set a major project's construction plan (推进计划表): milestones and planned investment by month.

    Example: crm major plan 3 --milestone 开工=2026-03-01 --milestone 竣工=2026-11-30 --month 2026-03=500 --month 2026-04=800
    """
    from crm import major

    milestones = {name: _on(value, "--milestone") for name, value in _pairs(milestone or [], "--milestone")}
    months: dict[date, int] | None = None
    if month:
        months = {}
        for name, value in _pairs(month, "--month"):
            first = parse_date(f"{name}-01", "--month")
            assert first is not None
            months[first] = parse_yuan(value, AMOUNT_UNIT, field=f"--month {name}")
    with session_for(ctx) as session:
        major.set_plan(session, project_id, milestones=milestones, months=months, note=note, actor=actor)
        project = major.get_major_project(session, project_id)
        shown = wan(project.planned_yuan) if project.planned_yuan is not None else "not set"
        typer.echo(f"major project {project_id}: plan saved; planned for {project.year}: {shown}")


@major_app.command("report")
def report_command(
    ctx: typer.Context,
    project_id: int = typer.Argument(..., help="Major project id."),
    week: str = typer.Option(..., "--week", help="ISO week, e.g. 2026-W26."),
    progress: str | None = typer.Option(None, "--progress", help="实体进度 (text)."),
    week_amount: str | None = typer.Option(None, "--week-amount", help="本周完成投资 (万元)."),
    cumulative: str | None = typer.Option(None, "--cumulative", help="本年累计完成投资 (万元)."),
    reached: Annotated[
        list[str] | None, typer.Option("--reached", help="MILESTONE=YYYY-MM-DD reached (repeat).")
    ] = None,
    problem: Annotated[
        list[str] | None, typer.Option("--problem", help="A problem needing coordination (repeat).")
    ] = None,
    problem_unit: Annotated[
        list[str] | None, typer.Option("--problem-unit", help="责任单位 of each --problem, in order.")
    ] = None,
    resolution: Annotated[
        list[str] | None, typer.Option("--resolution", help="协调结果 of each --problem, in order.")
    ] = None,
    reported_at: str | None = typer.Option(
        None, "--reported-at", help="When it came in (YYYY-MM-DDTHH:MM, China time); default now."
    ),
    actor: str = ActorOption,
) -> None:
    """Record a weekly progress report (周调度): give 本周 or 本年累计 (the other is derived), or both.

    Example: crm major report 3 --week 2026-W26 --progress 主体结构封顶 --cumulative 5200 --reached 主体完工=2026-06-24
    """
    from crm import major
    from crm.major.common import LOCAL

    problem, problem_unit, resolution = problem or [], problem_unit or [], resolution or []
    if len(problem_unit) > len(problem) or len(resolution) > len(problem):
        raise fail("--problem-unit and --resolution follow a --problem each")
    problems = [
        major.Problem(
            text,
            problem_unit[i] if i < len(problem_unit) else None,
            resolution[i] if i < len(resolution) else None,
        )
        for i, text in enumerate(problem)
    ]
    at = None
    if reported_at is not None:
        try:
            at = datetime.fromisoformat(reported_at)
        except ValueError:
            raise fail(f"--reported-at: {reported_at!r} is not a date and time (2026-06-26T03:30)") from None
        at = at if at.tzinfo else at.replace(tzinfo=LOCAL)  # people write China time
    with session_for(ctx) as session:
        report = major.report_progress(
            session,
            project_id,
            week=week,
            progress=progress,
            week_yuan=_amount(week_amount, "--week-amount"),
            cumulative_yuan=_amount(cumulative, "--cumulative"),
            milestones_reached={name: _on(v, "--reached") for name, v in _pairs(reached or [], "--reached")},
            problems=problems,
            reported_at=at,
            actor=actor,
        )
        typer.echo(
            f"major project {project_id} {major.week_label(report.week_start)}: 本周 {wan(report.week_yuan)}, "
            f"本年累计 {wan(report.cumulative_yuan)}"
        )


@major_app.command("show")
def show_command(
    ctx: typer.Context,
    project_id: int = typer.Argument(..., help="Major project id."),
) -> None:
    """Show a major project's plan (milestones, months), weekly reports and problems (with their ids).

    Example: crm major show 3
    """
    from crm import major

    with session_for(ctx) as session:
        project = major.get_major_project(session, project_id)
        typer.echo(f"major project {project.id}: deal {project.deal_id}, {project.year}, {project.source}")
        emit(major.milestones(session, project_id), Format.table, title="节点 milestones")
        emit(major.plan_months(session, project_id), Format.table, title="计划完成投资 monthly plan (yuan)")
        emit(major.reports(session, project_id), Format.table, title="周调度 weekly reports (yuan)")
        emit(major.problems(session, project_id), Format.table, title="问题 problems")


@major_app.command("resolve")
def resolve_command(
    ctx: typer.Context,
    problem_id: int = typer.Argument(..., help="Problem id (see crm major show)."),
    resolution: str = typer.Option(..., "--resolution", help="协调结果."),
    on: str = typer.Option(..., "--on", help="Date it was resolved, YYYY-MM-DD."),
    actor: str = ActorOption,
) -> None:
    """Record the coordination result (协调结果) of a problem raised in a weekly report.

    Example: crm major resolve 7 --resolution 已协调县供电公司接入 --on 2026-07-03
    """
    from crm import major

    with session_for(ctx) as session:
        major.resolve_problem(session, problem_id, resolution=resolution, on=_on(on, "--on"), actor=actor)
        typer.echo(f"problem {problem_id} resolved")


@major_app.command("investment")
def investment_command(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="Last day, YYYY-MM-DD."),
    by: Annotated[
        list[str] | None, typer.Option("--by", help="industry, unit, leader, zone, size_class, category (repeat).")
    ] = None,
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """完成投资 of the major projects in a period with the same days a year earlier (同比).

    Example: crm major investment --from 2026-01-01 --to 2026-06-30 --by zone
    """
    from crm.metrics import major as metrics_major

    lo, hi = _on(start, "--from"), _on(end, "--to")
    with session_for(ctx) as session:
        df = metrics_major.completed_investment(session, start=lo, end=hi, by=by or None)
    emit(df, fmt, out, title=f"完成投资 completed investment {lo} – {hi}", force=force)


@major_app.command("progress")
def progress_command(
    ctx: typer.Context,
    file: Path = InFileArgument,
    week: str | None = typer.Option(None, "--week", help="ISO week of every row without 周次."),
    actor: str = ActorOption,
) -> None:
    """Import a weekly 调度表 (one row per project, 本周 / 本年累计 columns); nothing is written if a row is bad.

    Example: crm major progress 第26周调度表.xlsx --week 2026-W26 --actor 张三
    """
    from crm.major.ledgers import import_progress_ledger

    with session_for(ctx) as session:
        result = import_progress_ledger(session, file, week=week, actor=actor)
    typer.echo(f"{result.rows} rows: {result.written} weekly reports recorded")


@major_app.command("document")
def document_command(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help="Deal id."),
    kind: str = typer.Option(..., "--kind", help="审批/核准/备案文件 (approval), 施工许可证, 主体工程施工合同."),
    number: str = typer.Option(..., "--number", help="文号 / 证号 / 合同编号."),
    on: str = typer.Option(..., "--on", help="Date of the document, YYYY-MM-DD."),
    evidence: str | None = typer.Option(None, "--evidence", help="Where the evidence is kept."),
    actor: str = ActorOption,
) -> None:
    """Record a 入库 document of a deal and print what is still missing.

    Example: crm major document 12 --kind 施工许可证 --number 620123202606010101 --on 2026-06-01
    """
    from crm import major

    with session_for(ctx) as session:
        major.record_document(
            session, deal_id, kind=kind, number=number, issued_on=_on(on, "--on"), evidence_ref=evidence, actor=actor
        )
        missing = major.missing_documents(session, deal_id)
        typer.echo(f"deal {deal_id}: missing for 入库: {major.missing_labels(missing) or 'none'}")


@major_app.command("missing")
def missing_command(
    ctx: typer.Context,
    week: str = typer.Option(..., "--week", help="ISO week, e.g. 2026-W26."),
    rules: str | None = typer.Option(None, "--rules", help="Counting rules (default: the default set)."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Projects with no weekly report by the deadline (Friday 12:00 unless the rules say otherwise).

    Example: crm major missing --week 2026-W26 --format csv
    """
    from crm.metrics import major as metrics_major

    with session_for(ctx) as session:
        df = metrics_major.missing_reports(session, week=week, rules=rules)
    emit(df, fmt, out, title=f"未按时报送 missing weekly reports {week}: {len(df)}", force=force)


@major_app.command("score")
def score_command(
    ctx: typer.Context,
    quarter: str = typer.Option(..., "--quarter", help="e.g. 2026Q2."),
    by: str = typer.Option("unit", "--by", help="unit or leader."),
    as_of: str | None = AsOfOption,
    weights: str | None = typer.Option(None, "--weights", help="Scoring weights by name (default: the default)."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """The quarterly league table (季评比) of units or leaders over their major projects, in points.

    Example: crm major score --quarter 2026Q2 --by leader
    """
    from crm.metrics import major as metrics_major

    day = parse_date(as_of, "--as-of")
    with session_for(ctx) as session:
        df = metrics_major.quarterly_scores(session, quarter=quarter, by=by, as_of=day, weights=weights)
    title = f"季评比 {quarter} by {by} (weights {df.attrs.get('weights', '')})"
    emit(df, fmt, out, title=title, force=force)


@major_app.command("rules")
def rules_command(
    ctx: typer.Context,
    name: str | None = typer.Option(None, "--name", help="Counting rules to version (default: the default set)."),
    tolerance: float | None = typer.Option(None, "--tolerance", help="滞后/超前 beyond this share of plan (0.1)."),
    deadline_weekday: int | None = typer.Option(None, "--deadline-weekday", help="1 Monday .. 7 Sunday (5)."),
    deadline_time: str | None = typer.Option(None, "--deadline-time", help="HH:MM China time (12:00)."),
    actor: str = ActorOption,
) -> None:
    """Save a new version of the counting rules with the major projects' tolerance and report deadline.

    Example: crm major rules --tolerance 0.05 --deadline-weekday 5 --deadline-time 12:00
    """
    from crm import major

    with session_for(ctx) as session:
        rules = major.set_progress_rules(
            session,
            name,
            tolerance=tolerance,
            deadline_weekday=deadline_weekday,
            deadline_time=deadline_time,
            actor=actor,
        )
        typer.echo(
            f"{rules.name} v{rules.version}: tolerance {rules.progress_tolerance}, reports due weekday "
            f"{rules.report_deadline_weekday} {rules.report_deadline_time}"
        )


@major_app.command("weights")
def weights_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name of the weights."),
    plan: int = typer.Option(40, "--plan", help="Points for investment against plan."),
    start: int = typer.Option(20, "--start", help="Points for starts of 新开工 projects."),
    milestone: int = typer.Option(20, "--milestone", help="Points for milestones on time."),
    report: int = typer.Option(20, "--report", help="Points for weekly reports on time."),
    default: bool = typer.Option(False, "--default", help="Make these the weights `crm major score` uses."),
    actor: str = ActorOption,
) -> None:
    """Save a new version of the quarterly scoring weights (季评比), in points.

    Example: crm major weights 县委督查 --plan 50 --start 20 --milestone 15 --report 15 --default
    """
    from crm import major

    with session_for(ctx) as session:
        w = major.save_weights(
            session,
            name,
            plan_points=plan,
            start_points=start,
            milestone_points=milestone,
            report_points=report,
            default=default,
            actor=actor,
        )
        typer.echo(f"weights {major.weights_label(w)} saved")


@zone_app.command("add")
def zone_add_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Zone name, e.g. 光电园区."),
    kind: str | None = typer.Option(None, "--kind", help="工业园区, 经开区 ..."),
    actor: str = ActorOption,
) -> None:
    """Add a zone (园区) to the reference list.

    Example: crm major zone add 光电园区 --kind 工业园区
    """
    from crm import major

    with session_for(ctx) as session:
        zone = major.add_zone(session, name, kind=kind, actor=actor)
        typer.echo(f"zone {zone.id}: {zone.name}")


@zone_app.command("set")
def zone_set_command(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help="Deal id."),
    zone: str = typer.Argument(..., help="Zone name."),
    actor: str = ActorOption,
) -> None:
    """Put a deal in a zone (园区).

    Example: crm major zone set 12 光电园区
    """
    from crm import major

    with session_for(ctx) as session:
        major.set_deal_zone(session, deal_id, zone, actor=actor)
        typer.echo(f"deal {deal_id} in zone {zone}")


@register_report("major")
def major_report(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    by: str | None = typer.Option(None, "--by", help="leader, unit or category."),
    year: int | None = typer.Option(None, "--year", help="List year (default: the as-of year)."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Major projects: plan, done, % of plan, 正常/超前/滞后, last report, overdue milestones, open problems.

    Example: crm report major --as-of 2026-06-30 --by unit
    """
    from crm.metrics import major as metrics_major

    day = parse_date(as_of, "--as-of") or date.today()
    with session_for(ctx) as session:
        df = metrics_major.major_status(session, as_of=day, year=year, by=by)
    emit(df, fmt, out, title=f"重点项目推进 major projects as of {day} ({df.attrs.get('rules', '')})", force=force)


@register_report("registration")
def registration_report(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Started deals not yet registered (入库) and the documents each still lacks.

    Example: crm report registration --format csv
    """
    from crm.metrics import major as metrics_major

    day = parse_date(as_of, "--as-of")
    with session_for(ctx) as session:
        df = metrics_major.registration_readiness(session, as_of=day)
    emit(df, fmt, out, title=f"入库材料 started deals not registered: {len(df)}", force=force)


def register(app: typer.Typer) -> None:
    """Attach ``crm major``; ``crm report major`` and ``registration`` are registered on import."""
    app.add_typer(major_app, name="major")
