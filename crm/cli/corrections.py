"""``crm deal list|edit|correct``: find deals by name, correct what was recorded (audited)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from crm.cli.common import (
    ActorOption,
    DealArgument,
    ForceOption,
    Format,
    FormatOption,
    OutOption,
    emit,
    parse_date,
    session_for,
)
from crm.cli.deals import AMOUNT_UNIT, deal_app
from crm.money import parse_yuan, wan


def _shown(field: str, value: Any) -> str:
    if value is None:
        return "—"
    return wan(value) if field == "contracted_yuan" else str(value)


def _report(deal_id: int, changed: dict[str, tuple[Any, Any]]) -> None:
    if not changed:
        typer.echo(f"deal {deal_id}: nothing changed")
        return
    for field, (old, new) in changed.items():
        typer.echo(f"deal {deal_id} {field}: {_shown(field, old)} → {_shown(field, new)}")


def list_command(
    ctx: typer.Context,
    search: str | None = typer.Option(None, "--search", help="Text in the project or investor name."),
    state: str | None = typer.Option(
        None, "--state", help="signed, started, in_production, terminated (or 已签约 ...)."
    ),
    unit: str | None = typer.Option(None, "--unit", help="Responsible unit (must exist)."),
    industry: str | None = typer.Option(None, "--industry", help="Industry (must exist)."),
    min_amount: str | None = typer.Option(None, "--min-amount", help="Smallest contracted amount; bare = 万元."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """List deals with their ids; filter by text, state, unit, industry, amount.

    Example: crm deal list --search 光伏 --state signed --min-amount 1亿
    """
    from crm import deals

    with session_for(ctx) as session:
        df = deals.list_deals(
            session,
            search=search,
            state=state,
            unit=unit,
            industry=industry,
            min_amount_yuan=None if min_amount is None else parse_yuan(min_amount, AMOUNT_UNIT, field="--min-amount"),
        )
    emit(df, fmt, out, title=f"deals: {len(df)}", force=force)  # money in 万元/亿元 and blanks by crm.display


def edit_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    amount: str | None = typer.Option(None, "--amount", help="Contracted investment; bare = 万元 (6000 = 6000万元)."),
    project: str | None = typer.Option(None, "--project", help="Project name (项目名称)."),
    unit: str | None = typer.Option(None, "--unit", help="Responsible unit (责任单位); must exist."),
    leader: str | None = typer.Option(None, "--leader", help="Accountable leader (包抓领导); must exist."),
    introducer: str | None = typer.Option(None, "--introducer", help="First introducer (第一引资人); must exist."),
    credited_unit: str | None = typer.Option(None, "--credited-unit", help="Credited unit (招引单位); must exist."),
    industry: str | None = typer.Option(None, "--industry", help="Industry (产业); must exist."),
    origin: str | None = typer.Option(None, "--origin", help="Investor's province at signing."),
    origin_city: str | None = typer.Option(None, "--origin-city", help="Investor's city."),
    signing_event: str | None = typer.Option(None, "--signing-event", "--event", help="Signing event; must exist."),
    signer: str | None = typer.Option(None, "--signer", help="Who signed for the county."),
    location: str | None = typer.Option(None, "--location", help="建设地点."),
    note: str | None = typer.Option(None, "--note", help="Why: kept with every audit row of this edit."),
    actor: str = ActorOption,
) -> None:
    """Correct what was recorded about a deal; prints each change (old → new), one audit row each.

    Example: crm deal edit 100MW光伏 --amount 6000万 --unit 县发改局 --note 合同补充协议
    """
    from crm import deals

    given: dict[str, Any] = {
        "project_name": project,
        "unit": unit,
        "leader": leader,
        "introducer": introducer,
        "credited_unit": credited_unit,
        "industry": industry,
        "origin": origin,
        "origin_city": origin_city,
        "signing_event": signing_event,
        "signer": signer,
        "location": location,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if amount is not None:
        changes["contracted_yuan"] = parse_yuan(amount, AMOUNT_UNIT, field="--amount")
    if not changes:
        typer.echo("error: give at least one field to change (see --help)", err=True)
        raise typer.Exit(1)
    with session_for(ctx) as session:
        _report(deal_id, deals.edit(session, deal_id, actor=actor, note=note, **changes))


def correct_command(
    ctx: typer.Context,
    deal_id: int = DealArgument,
    started_on: str | None = typer.Option(None, "--started-on", help="The right start date (开工), YYYY-MM-DD."),
    completed_on: str | None = typer.Option(None, "--completed-on", help="The right completion date, YYYY-MM-DD."),
    terminated_on: str | None = typer.Option(None, "--terminated-on", help="The right termination date."),
    note: str | None = typer.Option(None, "--note", help="Why the date was wrong."),
    actor: str = ActorOption,
) -> None:
    """Correct a lifecycle date recorded wrongly, keeping the lifecycle's order; audited.

    Example: crm deal correct 12 --started-on 2026-05-12 --note 以施工许可证为准
    """
    from crm import deals

    with session_for(ctx) as session:
        changed = deals.correct(
            session,
            deal_id,
            actor=actor,
            started_on=parse_date(started_on, "--started-on"),
            completed_on=parse_date(completed_on, "--completed-on"),
            terminated_on=parse_date(terminated_on, "--terminated-on"),
            note=note,
        )
        _report(deal_id, changed)


def register(app: typer.Typer) -> None:
    """Add ``list``, ``edit`` and ``correct`` to ``crm deal``."""
    deal_app.command("list")(list_command)
    deal_app.command("edit")(edit_command)
    deal_app.command("correct")(correct_command)
