"""``crm arrival list|verify|void``: find recorded money, verify it, void what was recorded in error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crm.cli.common import (
    ActorOption,
    ForceOption,
    Format,
    FormatOption,
    OutOption,
    emit,
    fail,
    parse_date,
    session_for,
)
from crm.cli.figures import arrival_app
from crm.money import wan


def list_command(
    ctx: typer.Context,
    deal: str | None = typer.Option(None, "--deal", help="Deal id or project name (a unique part)."),
    since: str | None = typer.Option(None, "--since", help="Arrived on or after, YYYY-MM-DD."),
    until: str | None = typer.Option(None, "--until", help="Arrived on or before, YYYY-MM-DD."),
    unit: str | None = typer.Option(None, "--unit", help="The deals' responsible unit (must exist)."),
    verified: bool | None = typer.Option(None, "--verified/--unverified", help="Only verified, or only reported."),
    voided: bool = typer.Option(False, "--voided", help="Show the voided arrivals instead."),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """List capital arrivals with their ids: by deal, period, unit, verified or not.

    Example: crm arrival list --deal 100MW光伏 --since 2026-01-01 --unverified
    """
    from crm import arrivals
    from crm.deals import find_deal

    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    with session_for(ctx) as session:
        deal_id = None if deal is None else find_deal(session, deal).id
        df = arrivals.list_arrivals(
            session, deal_id=deal_id, start=start, end=end, unit=unit, verified=verified, voided=voided
        )
    if fmt is Format.table:
        df = df.assign(arrived_yuan=[wan(v) for v in df["arrived_yuan"]]).rename(columns={"arrived_yuan": "arrived"})
    emit(df.astype(object).where(df.notna(), ""), fmt, out, title=f"到位资金 arrivals: {len(df)}", force=force)


def verify_command(
    ctx: typer.Context,
    arrival_ids: Annotated[list[int], typer.Argument(help="Arrival ids (crm arrival list shows them).")],
    on: str | None = typer.Option(None, "--on", help="Verified on, YYYY-MM-DD (default today)."),
    evidence: str | None = typer.Option(None, "--evidence", help="Evidence kind: 银行进账单, 验资报告 ..."),
    evidence_ref: str | None = typer.Option(None, "--evidence-ref", help="Number of the evidence."),
    actor: str = ActorOption,
) -> None:
    """Mark reported arrivals verified, with their evidence; all or none.

    Example: crm arrival verify 31 32 --evidence 银行进账单 --evidence-ref 2026-0612-01
    """
    from crm import arrivals

    with session_for(ctx) as session:
        rows = arrivals.verify(
            session,
            arrival_ids,
            actor=actor,
            on=parse_date(on, "--on"),
            evidence_kind=evidence,
            evidence_ref=evidence_ref,
        )
        for row in rows:
            typer.echo(f"arrival {row.id} verified on {row.verified_on}: {wan(row.arrived_yuan)}")


def void_command(
    ctx: typer.Context,
    arrival_id: int = typer.Argument(..., help="Arrival id (crm arrival list shows them)."),
    reason: str = typer.Option(..., "--reason", help="Why the arrival is void (recorded twice, wrong deal ...)."),
    on: str | None = typer.Option(None, "--on", help="Voided on, YYYY-MM-DD (default today)."),
    actor: str = ActorOption,
) -> None:
    """Void an arrival recorded in error: it stays in the history and leaves every figure.

    Example: crm arrival void 31 --reason 重复录入
    """
    if not reason.strip():
        raise fail("--reason: say why the arrival is void")
    from crm import arrivals

    with session_for(ctx) as session:
        row = arrivals.void(session, arrival_id, reason=reason, actor=actor, on=parse_date(on, "--on"))
        typer.echo(f"arrival {row.id} voided on {row.voided_on}: {wan(row.arrived_yuan)} ({row.void_reason})")


def register(app: typer.Typer) -> None:
    """Add ``list``, ``verify`` and ``void`` to ``crm arrival``."""
    arrival_app.command("list")(list_command)
    arrival_app.command("verify")(verify_command)
    arrival_app.command("void")(void_command)
