"""``crm trips ...`` (squads, monthly plans, trips, visits, leads) and ``crm report trips``.

Amounts are text read by ``crm.parse_yuan`` with 万元 as the unit of a bare number
(``--budget 5`` is 5万元; ``5万``, ``1.5亿`` and ``50000元`` say their unit), as in the
ledgers. Dates are YYYY-MM-DD, months YYYY-MM. Options that take several names accept
them repeated or separated by commas (``--region 北京,天津``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from crm.cli.common import (
    ActorOption,
    AsOfOption,
    CreditedUnitOption,
    ForceOption,
    Format,
    FormatOption,
    IntroducerOption,
    LeaderOption,
    OutOption,
    UnitOption,
    emit,
    fail,
    parse_date,
    session_for,
)
from crm.cli.reports import register_report
from crm.errors import InvalidValue
from crm.money import format_yuan, parse_yuan

AMOUNT_UNIT = "万元"

trips_app = typer.Typer(
    rich_markup_mode=None,
    help="Promotion trips (外出招商): squads, monthly plans, trips, visits, leads and plan checks.\n\n"
    "Example: crm trips plan --month 2026-06",
    no_args_is_help=True,
)
squad_app = typer.Typer(
    rich_markup_mode=None,
    help="Promotion squads (招商小分队).\n\nExample: crm trips squad add 第一小分队 --leader 王县长 --member 李科长",
    no_args_is_help=True,
)
lead_app = typer.Typer(
    rich_markup_mode=None,
    help="Leads (洽谈项目): add, advance, record responses, sign, list missed deadlines.\n\n"
    "Example: crm trips lead overdue --as-of 2026-06-30",
    no_args_is_help=True,
)
trips_app.add_typer(squad_app, name="squad")
trips_app.add_typer(lead_app, name="lead")


def _amount(text: str | None, option: str) -> int | None:
    return None if text is None else parse_yuan(text, AMOUNT_UNIT, field=option)


def _day(text: str, option: str) -> date:
    day = parse_date(text, option)
    assert day is not None
    return day


def _joined(values: list[str] | None) -> str:
    return ",".join(values or [])


def _month(text: str) -> date:
    from crm import trips

    try:
        return trips.month_start(text)
    except InvalidValue as exc:
        raise fail(str(exc)) from None


# ---------------------------------------------------------------- squads


@squad_app.command("add")
def squad_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Squad name, e.g. 第一小分队."),
    leader: str = typer.Option(..., "--leader", help="Leading county leader (包抓领导); created when missing."),
    member: Annotated[
        list[str] | None, typer.Option("--member", help="A member; repeat or separate by commas.")
    ] = None,
    unit: str | None = typer.Option(None, "--unit", help="The squad's unit."),
    actor: str = ActorOption,
) -> None:
    """Create a squad with its leader and members.

    Example: crm trips squad add 第一小分队 --leader 王县长 --member 李科长,张干事 --unit 县商务局
    """
    from crm import trips

    with session_for(ctx) as session:
        squad = trips.create_squad(session, name=name, leader=leader, members=_joined(member), unit=unit, actor=actor)
        typer.echo(f"squad {squad.id}: {squad.name}")


@squad_app.command("list")
def squad_list(
    ctx: typer.Context, fmt: Format = FormatOption, out: Path | None = OutOption, force: bool = ForceOption
) -> None:
    """List the squads with leader, members, unit and number of trips.

    Example: crm trips squad list --format csv
    """
    from crm import trips

    with session_for(ctx) as session:
        emit(trips.squads(session), fmt, out, title="招商小分队", force=force)


# ---------------------------------------------------------------- plans and trips


@trips_app.command("set-plan")
def set_plan(
    ctx: typer.Context,
    region: Annotated[list[str], typer.Option("--region", help="A destination province (北京 or 北京市); repeatable.")],
    industry: Annotated[list[str], typer.Option("--industry", help="A target industry, e.g. 光伏发电; repeatable.")],
    month: str = typer.Option(..., "--month", help="The month, YYYY-MM."),
    note: str | None = typer.Option(None, "--note", help="Note on the month's plan."),
    actor: str = ActorOption,
) -> None:
    """Set a month's plan: destination provinces and target industries (replaces an existing plan).

    Example: crm trips set-plan --month 2026-06 --region 北京,天津,河北 --industry 光伏发电,装备制造
    """
    from crm import trips

    with session_for(ctx) as session:
        plan = trips.plan_month(
            session, month=_month(month), regions=_joined(region), industries=_joined(industry), note=note, actor=actor
        )
        planned = trips.plan_of(session, month=plan.month)
        assert planned is not None
        typer.echo(f"{plan.month:%Y-%m}: {'、'.join(planned[0])} / {'、'.join(planned[1])}")


@trips_app.command("copy-plan")
def copy_plan(
    ctx: typer.Context,
    to_month: Annotated[list[str], typer.Option("--to", help="A month to copy to, YYYY-MM; repeatable.")],
    from_month: str = typer.Option(..., "--from", help="The template month, YYYY-MM."),
    with_trips: bool = typer.Option(False, "--with-trips", help="Copy the template month's trips too."),
    actor: str = ActorOption,
) -> None:
    """Copy a month's plan (and optionally its trips) to the following months.

    Example: crm trips copy-plan --from 2026-06 --to 2026-07 --to 2026-08
    """
    from crm import trips

    with session_for(ctx) as session:
        plans = trips.copy_plan(
            session,
            from_month=_month(from_month),
            to_months=[_month(m) for m in to_month],
            with_trips=with_trips,
            actor=actor,
        )
        for plan in plans:
            typer.echo(f"planned {plan.month:%Y-%m} from {from_month}")


def _visit_spec(text: str) -> dict[str, Any]:
    parts = [p.strip() for p in text.split("|")]
    if len(parts) > 4:
        raise fail(f"--visit: {text!r} has more than 4 fields; write counterpart|kind|contact|purpose")
    keys = ["counterpart", "counterpart_kind", "contact", "purpose"]
    return {k: (v or None) for k, v in zip(keys, parts, strict=False)}


def _destination(text: str) -> tuple[str, str | None]:
    region, _, city = text.replace("：", ":").partition(":")
    return region.strip(), (city.strip() or None)


@trips_app.command("add")
def add_trip(
    ctx: typer.Context,
    dest: Annotated[list[str], typer.Option("--dest", help="A destination: province or province:city; repeatable.")],
    squad: str = typer.Option(..., "--squad", help="The squad's name."),
    month: str = typer.Option(..., "--month", help="The trip's month, YYYY-MM."),
    industry: Annotated[list[str] | None, typer.Option("--industry", help="A target industry; repeatable.")] = None,
    starts_on: str | None = typer.Option(None, "--starts-on", help="First day, YYYY-MM-DD."),
    ends_on: str | None = typer.Option(None, "--ends-on", help="Last day, YYYY-MM-DD."),
    budget: str | None = typer.Option(None, "--budget", help="Budget; a bare number is 万元."),
    member: Annotated[list[str] | None, typer.Option("--member", help="Who travels (default: the squad).")] = None,
    visit: Annotated[
        list[str] | None,
        typer.Option(
            "--visit", help="A planned visit: counterpart|kind|contact|purpose (kind 企业/商会/其他); repeatable."
        ),
    ] = None,
    note: str | None = typer.Option(None, "--note", help="Note on the trip."),
    actor: str = ActorOption,
) -> None:
    """Plan a squad's trip for a month, with destinations, industries, dates, budget and visits.

    Example: crm trips add --squad 第一小分队 --month 2026-06 --dest 北京:海淀区 --industry 光伏发电 --starts-on 2026-06-10 --ends-on 2026-06-14 --budget 5 --visit "北京某某能源集团|企业|王经理|光伏组件"
    """
    from crm import trips

    destinations = [_destination(d) for item in dest for d in item.split(",") if d.strip()]
    with session_for(ctx) as session:
        trip = trips.plan_trip(
            session,
            squad=squad,
            month=_month(month),
            destinations=destinations,
            industries=_joined(industry),
            starts_on=parse_date(starts_on, "--starts-on"),
            ends_on=parse_date(ends_on, "--ends-on"),
            budget_yuan=_amount(budget, "--budget"),
            members=_joined(member) if member else None,
            visits=[_visit_spec(v) for v in visit or []],
            note=note,
            actor=actor,
        )
        typer.echo(f"trip {trip.id}: {squad} {trip.month:%Y-%m}")


@trips_app.command("visit")
def visit_command(
    ctx: typer.Context,
    what: str | None = typer.Argument(None, metavar="[list]", help="list: show the visits and their ids."),
    on: str | None = typer.Option(None, "--on", help="The day of the visit, YYYY-MM-DD."),
    trip: int | None = typer.Option(None, "--trip", help="The trip id (for a visit that was not planned)."),
    visit: int | None = typer.Option(None, "--visit", help="A planned visit's id, to record it as held."),
    counterpart: str | None = typer.Option(None, "--counterpart", help="Enterprise or chamber met."),
    kind: str | None = typer.Option(None, "--kind", help="enterprise/企业, chamber/商会 or other/其他."),
    attendee: Annotated[list[str] | None, typer.Option("--attendee", help="Who attended; repeatable.")] = None,
    notes: str | None = typer.Option(None, "--notes", help="What happened."),
    region: str | None = typer.Option(None, "--region", help="Province of the visit."),
    city: str | None = typer.Option(None, "--city", help="City of the visit."),
    actor: str = ActorOption,
) -> None:
    """Record a held visit (拜访): a planned one (--visit) or a new one on a trip (--trip).

    Example: crm trips visit --visit 3 --on 2026-06-11 --attendee 王县长 --notes 有意向在县里建组件厂
    (crm trips visit list [--trip ID] lists the visits with their ids)
    """
    from crm import trips

    if what is not None:
        if what != "list":
            raise fail(f"unknown action {what!r}; use `crm trips visit list` or record a visit with --on")
        with session_for(ctx) as session:
            emit(trips.list_visits(session, trip_id=trip), Format.table, None, title="拜访 visits")
        return
    if on is None:
        raise fail("give --on (the day of the visit)")
    if trip is None and visit is None:
        raise fail("give --visit (a planned visit) or --trip (a new visit on that trip)")
    with session_for(ctx) as session:
        row = trips.record_visit(
            session,
            trip_id=trip,
            visit_id=visit,
            visited_on=_day(on, "--on"),
            counterpart=counterpart,
            counterpart_kind=kind,
            attendees=_joined(attendee),
            notes=notes,
            region=region,
            city=city,
            actor=actor,
        )
        typer.echo(f"visit {row.id} held on {row.visited_on}: {row.counterpart}")


@trips_app.command("spend")
def spend(
    ctx: typer.Context,
    trip: int = typer.Argument(..., help="The trip id."),
    amount: str = typer.Option(..., "--amount", help="What the trip cost; a bare number is 万元."),
    actor: str = ActorOption,
) -> None:
    """Record what a trip actually cost (used instead of the budget in cost per signed deal).

    Example: crm trips spend 3 --amount 4.2
    """
    from crm import trips

    with session_for(ctx) as session:
        row = trips.record_spending(session, trip, spent_yuan=_amount(amount, "--amount") or 0, actor=actor)
        typer.echo(f"trip {row.id} spent {format_yuan(row.spent_yuan)}")


@trips_app.command("plan")
def show_plan(
    ctx: typer.Context,
    month: str = typer.Option(..., "--month", help="The month, YYYY-MM."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Print a month's plan (provinces, industries) and its trips.

    Example: crm trips plan --month 2026-06
    """
    from crm import trips

    first = _month(month)
    with session_for(ctx) as session:
        planned = trips.plan_of(session, month=first)
        table = trips.trips_in_month(session, month=first)
    if planned is None:
        head = f"{first:%Y-%m}: no plan (no destinations or industries set)"
    else:
        head = f"{first:%Y-%m} plan: {'、'.join(planned[0])} / {'、'.join(planned[1])}"
    if fmt is Format.table:
        emit(table, fmt, out, title=head, force=force)
    else:
        typer.echo(head, err=True)
        emit(table, fmt, out, force=force)


@trips_app.command("check")
def check(
    ctx: typer.Context,
    month: Annotated[
        list[str] | None, typer.Option("--month", help="A month to check, YYYY-MM; default every month.")
    ] = None,
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Check the plan: squads without a trip or with two, double-booked people, places and industries
    outside the plan, planned provinces nobody visits, visits without a counterpart. Exits 0 with findings.

    Example: crm trips check --month 2026-06
    """
    from crm import trips

    months = [_month(m) for m in month] if month else None
    with session_for(ctx) as session:
        findings = trips.check_plan(session, months=months)
    if fmt is Format.table and out is None:
        for finding in findings:
            typer.echo(str(finding))
        typer.echo(f"{len(findings)} finding(s)" if findings else "no findings: the plan is clean")
        return
    import pandas as pd

    df = pd.DataFrame(
        [
            {"kind": f.kind, "month": f.month, "squad": f.squad, "trip_id": f.trip_id, "detail": f.detail}
            for f in findings
        ],
        columns=["kind", "month", "squad", "trip_id", "detail"],
    )
    df["trip_id"] = df["trip_id"].astype("Int64")
    emit(df, fmt, out, title="plan findings", force=force)


@trips_app.command("itinerary")
def itinerary_command(
    ctx: typer.Context,
    year: int | None = typer.Option(None, "--year", help="Only this year."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Print the month × squad itinerary (destinations / industries per cell).

    Example: crm trips itinerary --year 2026
    """
    from crm import trips

    with session_for(ctx) as session:
        emit(trips.itinerary(session, year=year), fmt, out, title="外出招商行程", force=force)


@trips_app.command("coverage")
def coverage_command(
    ctx: typer.Context,
    year: int | None = typer.Option(None, "--year", help="Only this year."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Print month × province × industry coverage: planned, trips, held visits.

    Example: crm trips coverage --year 2026 --format csv
    """
    from crm import trips

    with session_for(ctx) as session:
        emit(trips.coverage(session, year=year), fmt, out, title="计划覆盖", force=force)


@trips_app.command("reserve")
def reserve_command(
    ctx: typer.Context,
    target: str | None = typer.Option(
        None, "--target", help="Reserve target, e.g. 350亿 (default: the stored county reserve target)."
    ),
    as_of: str | None = AsOfOption,
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Print the project reserve (项目储备): open leads by category against the target.

    Example: crm trips reserve --target 350亿
    """
    from crm import trips

    with session_for(ctx) as session:
        df = trips.reserve(session, target_yuan=_amount(target, "--target"), as_of=parse_date(as_of, "--as-of"))
    total, goal = df.attrs["total_yuan"], df.attrs["target_yuan"]
    title = f"项目储备 {format_yuan(total, '亿元')}" + (f" / 目标 {format_yuan(goal, '亿元')}" if goal else "")
    emit(df, fmt, out, title=title, force=force)


# ---------------------------------------------------------------- leads


@lead_app.command("add")
def lead_add(
    ctx: typer.Context,
    project: str = typer.Option(..., "--project", help="Project name (项目名称)."),
    received_on: str = typer.Option(..., "--received-on", help="When the lead came in, YYYY-MM-DD."),
    investor: str | None = typer.Option(None, "--investor", help="Prospective investor."),
    visit: int | None = typer.Option(None, "--visit", help="The held visit it came from."),
    planned: str | None = typer.Option(None, "--planned", help="Planned investment; a bare number is 万元."),
    industry: str | None = typer.Option(None, "--industry", help="Industry (产业)."),
    category: str | None = typer.Option(None, "--category", help="Reserve category."),
    source: str | None = typer.Option(None, "--source", help="Source, e.g. 以商招商 (default 外出招商 for a visit)."),
    origin: str | None = typer.Option(None, "--origin", help="Investor's province."),
    owner: str | None = typer.Option(None, "--owner", help="Who follows the lead."),
    unit: str | None = typer.Option(None, "--unit", help="Responsible unit."),
    actor: str = ActorOption,
) -> None:
    """Add a lead (洽谈项目), from a visit or from elsewhere.

    Example: crm trips lead add --project 组件厂项目 --investor 北京某某能源集团 --visit 3 --received-on 2026-06-11 --planned 5亿
    """
    from crm import trips

    with session_for(ctx) as session:
        lead = trips.add_lead(
            session,
            project_name=project,
            investor_name=investor,
            visit_id=visit,
            received_on=_day(received_on, "--received-on"),
            planned_yuan=_amount(planned, "--planned"),
            industry=industry,
            category=category,
            source=source,
            origin=origin,
            owner=owner,
            unit=unit,
            actor=actor,
        )
        typer.echo(f"lead {lead.id}: {lead.project_name}")


@lead_app.command("advance")
def lead_advance(
    ctx: typer.Context,
    lead: int = typer.Argument(..., help="The lead id."),
    stage: str = typer.Option(..., "--stage", help="negotiation/洽谈, intent/意向, dropped/放弃."),
    note: str | None = typer.Option(None, "--note", help="Note for the audit log."),
    actor: str = ActorOption,
) -> None:
    """Move a lead to a later stage or drop it.

    Example: crm trips lead advance 4 --stage 洽谈
    """
    from crm import trips
    from crm.models import LEAD_STAGE_LABELS, LeadStage

    with session_for(ctx) as session:
        row = trips.advance_lead(session, lead, stage=stage, note=note, actor=actor)
        typer.echo(f"lead {row.id} is at {row.stage} ({LEAD_STAGE_LABELS[LeadStage(row.stage)]})")


@lead_app.command("respond")
def lead_respond(
    ctx: typer.Context,
    lead: int = typer.Argument(..., help="The lead id."),
    acknowledged_on: str | None = typer.Option(None, "--acknowledged-on", help="Acknowledged (答复), YYYY-MM-DD."),
    assessed_on: str | None = typer.Option(None, "--assessed-on", help="Assessed (研判), YYYY-MM-DD."),
    feedback_on: str | None = typer.Option(None, "--feedback-on", help="Fed back (反馈), YYYY-MM-DD."),
    actor: str = ActorOption,
) -> None:
    """Record when a lead was acknowledged, assessed or fed back.

    Example: crm trips lead respond 4 --acknowledged-on 2026-06-12
    """
    from crm import trips

    with session_for(ctx) as session:
        row = trips.record_lead_response(
            session,
            lead,
            acknowledged_on=parse_date(acknowledged_on, "--acknowledged-on"),
            assessed_on=parse_date(assessed_on, "--assessed-on"),
            feedback_on=parse_date(feedback_on, "--feedback-on"),
            actor=actor,
        )
        typer.echo(
            f"lead {row.id}: acknowledged {row.acknowledged_on or '-'}, assessed {row.assessed_on or '-'}, "
            f"feedback {row.feedback_on or '-'}"
        )


@lead_app.command("sign")
def lead_sign(
    ctx: typer.Context,
    lead: int = typer.Argument(..., help="The lead id."),
    signed_on: str = typer.Option(..., "--signed-on", help="Signing date, YYYY-MM-DD."),
    amount: str = typer.Option(..., "--amount", help="Contracted investment; a bare number is 万元."),
    investor: str | None = typer.Option(None, "--investor", help="Investor (default: the lead's)."),
    unit: str | None = UnitOption,
    leader: str | None = LeaderOption,
    introducer: str | None = IntroducerOption,
    credited_unit: str | None = CreditedUnitOption,
    actor: str = ActorOption,
) -> None:
    """Sign a lead: creates the deal and links it, so its capital is credited to the trip.

    Example: crm trips lead sign 4 --signed-on 2026-07-20 --amount 3亿 --leader 王县长
    """
    from crm import trips

    extra: dict[str, Any] = {
        k: v
        for k, v in {
            "investor": investor,
            "unit": unit,
            "leader": leader,
            "introducer": introducer,
            "credited_unit": credited_unit,
        }.items()
        if v is not None
    }
    with session_for(ctx) as session:
        deal = trips.sign_lead(
            session,
            lead,
            signed_on=_day(signed_on, "--signed-on"),
            contracted_yuan=_amount(amount, "--amount") or 0,
            actor=actor,
            **extra,
        )
        typer.echo(f"lead {lead} signed as deal {deal.id}: {deal.project_name} {format_yuan(deal.contracted_yuan)}")


@lead_app.command("overdue")
def lead_overdue(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    deadlines: str = typer.Option("1,3,7", "--deadlines", help="Days to acknowledge, assess, feed back."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """List missed lead deadlines (acknowledge in 1 day, assess in 3, feed back in 7 by default).

    Example: crm trips lead overdue --as-of 2026-06-30 --deadlines 1,3,7
    """
    from crm import trips

    try:
        days = tuple(int(d) for d in deadlines.split(","))
    except ValueError:
        raise fail(f"--deadlines: {deadlines!r} is not three whole numbers such as 1,3,7") from None
    with session_for(ctx) as session:
        df = trips.overdue_leads(session, as_of=parse_date(as_of, "--as-of"), deadlines=days)
    emit(df, fmt, out, title="逾期未办结线索", force=force)


# ---------------------------------------------------------------- registration


def register(app: typer.Typer) -> None:
    app.add_typer(trips_app, name="trips")

    @register_report("trips")
    def report_trips(
        ctx: typer.Context,
        by: str = typer.Option("trip", "--by", help="trip, squad, region or industry."),
        year: int | None = typer.Option(None, "--year", help="Only the trips of this year."),
        as_of: str | None = AsOfOption,
        rules: str | None = typer.Option(None, "--rules", help="Counting-rule set (default: the default)."),
        rows: str | None = typer.Option(
            None, "--rows", help="List the deals and arrivals behind one group: a trip id, or a squad/region/industry."
        ),
        fmt: Format = FormatOption,
        out: Path | None = OutOption,
        force: bool = ForceOption,
    ) -> None:
        """What the trips produced: visits → leads → signed deals → contracted and arrived capital, and cost.

        Signed deals and their money are counted as in ``crm report kpis --trip`` (the counting rules).

        Example: crm report trips --by squad --format csv
        """
        from crm import trips

        if rows is not None:
            from crm import metrics
            from crm.cli.figures import emit_rows

            with session_for(ctx) as session:
                behind = metrics.funnel_rows(
                    session, rows, by=by, year=year, as_of=parse_date(as_of, "--as-of"), rules=rules
                )
            emit_rows(behind, fmt, out, title=f"Rows behind trips by {by} {rows}", force=force)
            return
        with session_for(ctx) as session:
            df = trips.funnel(session, by=by, year=year, as_of=parse_date(as_of, "--as-of"), rules=rules)
        emit(df, fmt, out, title=f"外出招商成效 (by {by}, counting rules {df.attrs['rules']})", force=force)
