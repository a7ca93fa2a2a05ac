"""``crm deal ...`` (the lifecycle of a signed deal) and ``crm report unstarted``.

Amounts are text read by ``crm.parse_yuan`` with 万元 as the unit of a bare number
(``--amount 3000`` is 3000万元; ``3000万``, ``1.5亿`` and ``30000000元`` say their unit).
Dates are YYYY-MM-DD.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crm.cli.common import (
    ActorOption,
    AsOfOption,
    CreditedUnitOption,
    DealArgument,
    ForceOption,
    Format,
    FormatOption,
    IntroducerOption,
    LeaderOption,
    MaxAmountOption,
    MinAmountOption,
    OutOption,
    UnitOption,
    amount_bound,
    deal_option,
    emit,
    name_option,
    parse_date,
    session_for,
)
from crm.cli.reports import register_report
from crm.money import parse_yuan, wan

if TYPE_CHECKING:
    from crm.models import Deal

AMOUNT_UNIT = "万元"
# crm.deals.DEFAULT_THRESHOLDS (days until yellow, red), written out so that --help does not load
# the library (tests/test_cli_startup.py holds the two equal)
DEFAULT_THRESHOLDS = (90, 180)

deal_app = typer.Typer(
    rich_markup_mode=None,
    help="Sign a deal and move it through its lifecycle: start, complete, terminate, reassign; "
    "record stalls, procedures and follow-ups.\n\n"
    "Example: crm deal sign --project 100MW光伏发电项目 --investor 甘肃示例能源有限公司 --signed-on 2026-03-01 "
    "--amount 50000",
    no_args_is_help=True,
)


def _say(deal: Deal) -> None:
    from crm.models import DEAL_STATE_LABELS, DealState

    state = DealState(deal.state)
    typer.echo(f"deal {deal.id} {state.value} ({DEAL_STATE_LABELS[state]}): {deal.project_name}")


@deal_app.command("show")
def show_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
) -> None:
    """Show a deal: where it stands, its procedures, what is missing, and its history (who changed what).

    Example: crm deal show 12
    """
    from crm import deals
    from crm.models import PROCEDURE_LABELS, ProcedureKind

    with session_for(ctx) as session:
        deal = deals.get_deal(session, deal_id)
        _say(deal)
        typer.echo(
            f"  signed {deal.signed_on}, contracted {wan(deal.contracted_yuan)}"
            + (f", started {deal.started_on}" if deal.started_on else "")
            + (f", in production {deal.completed_on}" if deal.completed_on else "")
            + (f", terminated {deal.terminated_on}: {deal.termination_reason}" if deal.terminated_on else "")
        )
        missing = [PROCEDURE_LABELS[ProcedureKind(k)] for k in deals.missing_procedures(session, deal_id)]
        typer.echo(f"  missing procedures (缺少手续): {'、'.join(missing) if missing else 'none'}")
        typer.echo("")
        history = deals.history(session, deal_id)  # ids shown as the names they denote
        history["at"] = history["at"].astype(str).str[:19]
        emit(history, Format.table, None, title="history (audit log)")


@deal_app.command("sign")
def sign_command(
    ctx: typer.Context,
    project: str = typer.Option(..., "--project", help="Project name (项目名称)."),
    investor: str = typer.Option(..., "--investor", help="Investor name (投资方); found or created."),
    signed_on: str = typer.Option(..., "--signed-on", help="Signing date, YYYY-MM-DD."),
    amount: str = typer.Option(..., "--amount", help="Contracted investment; a bare number is 万元 (3000 = 3000万元)."),
    industry: str | None = name_option("industry", "--industry", "Industry (产业), e.g. 光伏发电."),
    origin: str | None = name_option("origin", "--origin", "Investor's province, e.g. 浙江."),
    origin_city: str | None = typer.Option(None, "--origin-city", help="Investor's city."),
    unit: str | None = UnitOption,
    leader: str | None = LeaderOption,
    introducer: str | None = IntroducerOption,
    credited_unit: str | None = CreditedUnitOption,
    event: str | None = name_option("signing_event", "--event", "Signing event (签约活动)."),
    signer: str | None = typer.Option(None, "--signer", help="Who signed for the county."),
    credit_code: str | None = typer.Option(None, "--credit-code", help="Investor's unified social credit code."),
    increases: int | None = deal_option("--increases", "Parent deal: this is a capital increase (增资)."),
    note: str | None = typer.Option(None, "--note", help="Note for the audit log."),
    actor: str = ActorOption,
) -> None:
    """Record a signed deal (签约); prints its id and state.

    Example: crm deal sign --project 100MW光伏发电项目 --investor 甘肃示例能源有限公司 --signed-on 2026-03-01 --amount 3000万
    """
    from crm import deals

    day = parse_date(signed_on, "--signed-on")
    assert day is not None
    with session_for(ctx) as session:
        deal = deals.sign(
            session,
            actor=actor,
            project_name=project,
            investor=investor,
            signed_on=day,
            contracted_yuan=parse_yuan(amount, AMOUNT_UNIT, field="--amount"),
            industry=industry,
            origin=origin,
            origin_city=origin_city,
            unit=unit,
            leader=leader,
            introducer=introducer,
            credited_unit=credited_unit,
            signing_event=event,
            signer=signer,
            credit_code=credit_code,
            increases=increases,
            note=note,
        )
        _say(deal)


@deal_app.command("start")
def start_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    on: str = typer.Option(..., "--on", help="Start date (开工), YYYY-MM-DD."),
    note: str | None = typer.Option(None, "--note", help="Note for the audit log."),
    actor: str = ActorOption,
) -> None:
    """Construction began (开工).

    Example: crm deal start 12 --on 2026-05-10 --actor 张三
    """
    from crm import deals

    day = parse_date(on, "--on")
    assert day is not None
    with session_for(ctx) as session:
        _say(deals.start(session, deal_id, on=day, actor=actor, note=note))


@deal_app.command("register")
def register_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    on: str = typer.Option(..., "--on", help="Date entered in the fixed-asset-investment statistics, YYYY-MM-DD."),
    note: str | None = typer.Option(None, "--note", help="Note for the audit log."),
    force: bool = typer.Option(False, "--force", help="Register although 入库材料 are missing (needs --reason)."),
    reason: str | None = typer.Option(None, "--reason", help="Why it is forced; kept in the audit log."),
    actor: str = ActorOption,
) -> None:
    """A started project entered the fixed-asset-investment statistics (入库).

    Refused while a required document (审批/核准/备案文件, 施工许可证, 主体工程施工合同) is
    missing; `crm major document` records them.

    Example: crm deal register 12 --on 2026-06-30 --actor 张三
    """
    from crm import deals

    day = parse_date(on, "--on")
    assert day is not None
    with session_for(ctx) as session:
        deal = deals.register(session, deal_id, on=day, actor=actor, note=note, force=force, reason=reason)
        typer.echo(f"deal {deal.id} registered (入库) on {deal.registered_on}: {deal.project_name}")


@deal_app.command("complete")
def complete_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    on: str = typer.Option(..., "--on", help="Completion date (竣工投产), YYYY-MM-DD."),
    note: str | None = typer.Option(None, "--note", help="Note for the audit log."),
    actor: str = ActorOption,
) -> None:
    """Completed and producing (竣工投产).

    Example: crm deal complete 12 --on 2027-06-30
    """
    from crm import deals

    day = parse_date(on, "--on")
    assert day is not None
    with session_for(ctx) as session:
        _say(deals.complete(session, deal_id, on=day, actor=actor, note=note))


@deal_app.command("terminate")
def terminate_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    on: str = typer.Option(..., "--on", help="Termination date (终止), YYYY-MM-DD."),
    reason: str = typer.Option(..., "--reason", help="Why the investor cannot perform."),
    actor: str = ActorOption,
) -> None:
    """The investor cannot perform (终止 / 无法履约).

    Example: crm deal terminate 12 --on 2026-09-01 --reason 投资方资金链断裂
    """
    from crm import deals

    day = parse_date(on, "--on")
    assert day is not None
    with session_for(ctx) as session:
        _say(deals.terminate(session, deal_id, on=day, reason=reason, actor=actor))


@deal_app.command("reassign")
def reassign_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    investor: str = typer.Option(..., "--investor", help="The new investor's name."),
    signed_on: str = typer.Option(..., "--signed-on", help="New signing date, YYYY-MM-DD."),
    amount: str | None = typer.Option(
        None, "--amount", help="Contracted investment (万元 when bare); default: the old."
    ),
    credit_code: str | None = typer.Option(None, "--credit-code", help="The new investor's credit code."),
    origin: str | None = typer.Option(None, "--origin", help="The new investor's province."),
    note: str | None = typer.Option(None, "--note", help="Note for the audit log."),
    actor: str = ActorOption,
) -> None:
    """Hand a terminated deal's project to a new investor; prints the new deal.

    Example: crm deal reassign 12 --investor 浙江新投资方有限公司 --signed-on 2026-10-01
    """
    from crm import deals

    day = parse_date(signed_on, "--signed-on")
    assert day is not None
    with session_for(ctx) as session:
        new = deals.reassign(
            session,
            deal_id,
            investor=investor,
            signed_on=day,
            actor=actor,
            contracted_yuan=None if amount is None else parse_yuan(amount, AMOUNT_UNIT, field="--amount"),
            credit_code=credit_code,
            origin=origin,
            note=note,
        )
        _say(new)
        typer.echo(f"replaces deal {new.replaces_id}")


@deal_app.command("follow-up")
def follow_up_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    on: str = typer.Option(..., "--on", help="Date of the follow-up, YYYY-MM-DD."),
    action: str = typer.Option(..., "--action", help="What was done."),
    next_step: str | None = typer.Option(None, "--next-step", "--next", help="The next step."),
    due: str | None = typer.Option(None, "--due", help="When the next step is due, YYYY-MM-DD."),
    owner: str | None = typer.Option(None, "--owner", help="Who followed up (default: the deal's owner)."),
    actor: str = ActorOption,
) -> None:
    """Record a dated follow-up (跟踪记录) with the next step and its due date.

    Example: crm deal follow-up 12 --on 2026-06-01 --action 约谈投资方 --next 落实用地 --due 2026-06-15
    """
    from crm import deals

    day = parse_date(on, "--on")
    assert day is not None
    due_day = parse_date(due, "--due")
    with session_for(ctx) as session:
        row = deals.add_follow_up(
            session, deal_id, on=day, action=action, next_step=next_step, due_on=due_day, owner=owner, actor=actor
        )
        typer.echo(f"follow-up {row.id} on deal {deal_id}" + (f", next due {row.due_on}" if row.due_on else ""))


@deal_app.command("stall")
def stall_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    reason: str = typer.Option(..., "--reason", help="Stall reason code or label, e.g. funding or 资金未落实."),
    owner: str | None = typer.Option(None, "--owner", help="Who follows the deal up (专人跟踪)."),
    note: str | None = typer.Option(None, "--note", help="Details."),
    actor: str = ActorOption,
) -> None:
    """Record why a signed deal has not started, and who follows it up.

    Example: crm deal stall 12 --reason 资金未落实 --owner 李四
    """
    from crm import deals

    with session_for(ctx) as session:
        _say(deals.set_stall(session, deal_id, reason=reason, owner=owner, note=note, actor=actor))


@deal_app.command("procedure")
def procedure_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    kind: str = typer.Argument(..., help="approval|land|environment|planning|construction_permit or 立项/用地/..."),
    state: str = typer.Option(..., "--state", help="not_started, in_progress or done."),
    started_on: str | None = typer.Option(None, "--started-on", help="YYYY-MM-DD."),
    done_on: str | None = typer.Option(None, "--done-on", help="YYYY-MM-DD."),
    note: str | None = typer.Option(None, "--note", help="Details."),
    actor: str = ActorOption,
) -> None:
    """Set a pre-construction procedure (前期手续) and print what is still missing.

    Example: crm deal procedure 12 用地 --state done --done-on 2026-04-20
    """
    from crm import deals
    from crm.models import PROCEDURE_LABELS, ProcedureKind

    start_day = parse_date(started_on, "--started-on")
    done_day = parse_date(done_on, "--done-on")
    with session_for(ctx) as session:
        row = deals.set_procedure(
            session, deal_id, kind, state=state, started_on=start_day, done_on=done_day, note=note, actor=actor
        )
        missing = deals.missing_procedures(session, deal_id)
        typer.echo(f"deal {deal_id} procedure {row.kind}: {row.state}")
        labels = "、".join(PROCEDURE_LABELS[ProcedureKind(k)] for k in missing)
        typer.echo(f"missing: {labels or 'none'}")


@register_report("unstarted")
def unstarted_report(
    ctx: typer.Context,
    as_of: str | None = AsOfOption,
    since: str | None = typer.Option(None, "--since", help="Only deals signed on or after this date."),
    unit: str | None = UnitOption,
    leader: str | None = LeaderOption,
    industry: str | None = name_option("industry", "--industry", "Industry (产业)."),
    level: str | None = typer.Option(None, "--level", help="green, yellow or red."),
    yellow_days: int = typer.Option(DEFAULT_THRESHOLDS[0], "--yellow-days", help="Days until yellow."),
    red_days: int = typer.Option(DEFAULT_THRESHOLDS[1], "--red-days", help="Days until red."),
    min_amount: str | None = MinAmountOption,
    max_amount: str | None = MaxAmountOption,
    rules: str | None = typer.Option(None, "--rules", help="Counting-rule set (default: the default)."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """Signed-but-unstarted deals (签约未开工) on the --as-of date, from the deals' dates: age, level, reason, owner.

    Example: crm report unstarted --as-of 2026-06-30 --level red --format csv
    """
    from crm import deals

    day = parse_date(as_of, "--as-of") or date.today()
    since_day = parse_date(since, "--since")
    with session_for(ctx) as session:
        df = deals.unstarted(
            session,
            signed_since=since_day,
            as_of=day,
            unit=unit,
            leader=leader,
            industry=industry,
            level=level,
            thresholds=(yellow_days, red_days),
            min_amount=amount_bound(min_amount, "--min-amount"),
            max_amount=amount_bound(max_amount, "--max-amount"),
            rules=rules,
        )
    emit(df, fmt, out, title=f"签约未开工 unstarted deals as of {day}: {len(df)}", force=force)


def register(app: typer.Typer) -> None:
    """Attach ``crm deal``; ``crm report unstarted`` is registered when this module is imported."""
    app.add_typer(deal_app, name="deal")
