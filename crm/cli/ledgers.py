"""``crm import KIND FILE`` and ``crm export KIND FILE``: ledgers (台账) in and out."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from crm.cli.common import (
    ActorOption,
    ForceOption,
    MaxAmountOption,
    MinAmountOption,
    amount_bound,
    check_out,
    fail,
    parse_date,
    session_for,
)
from crm.errors import CrmError, InvalidValue, LedgerError


class Kind(StrEnum):
    deals = "deals"
    arrivals = "arrivals"
    trips = "trips"
    visits = "visits"
    leads = "leads"
    targets = "targets"


class ImportKind(StrEnum):
    deals = "deals"
    arrivals = "arrivals"
    trips = "trips"
    visits = "visits"
    leads = "leads"
    targets = "targets"
    undo = "undo"  # crm import undo BATCH: not a ledger kind
    batches = "batches"  # crm import batches: the import batches


KindArgument = typer.Argument(..., help="Ledger kind: deals, arrivals, trips, visits, leads or targets.")
ImportKindArgument = typer.Argument(
    ..., help="Ledger kind: deals, arrivals, trips, visits, leads or targets; or undo BATCH, or batches."
)
InFileArgument = typer.Argument(..., help="The ledger: .xlsx, .xls, .ods or .csv (UTF-8 or GB18030), Chinese headers.")
ImportFileArgument = typer.Argument(
    None,
    help="The ledger: .xlsx, .xls, .ods or .csv (UTF-8 or GB18030), Chinese headers (for undo: the batch id).",
    show_default=False,
)
OutFileArgument = typer.Argument(..., help="Where to write: .xlsx or .csv.")


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_command(
        ctx: typer.Context,
        kind: ImportKind = ImportKindArgument,
        file: Path | None = ImportFileArgument,
        partial: bool = typer.Option(
            False,
            "--partial",
            help="Write the good rows and report the bad ones (default: write nothing unless every row is good).",
        ),
        update: bool = typer.Option(
            False, "--update", help="Apply the differences from stored records as audited edits."
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
        no_new_names: bool = typer.Option(
            False, "--no-new-names", help="Refuse units, people, events the database does not have yet."
        ),
        actor: str = ActorOption,
        explain: bool = typer.Option(
            False,
            "--explain",
            help="Print how each column was understood and which rows are skipped, and why; write nothing.",
        ),
        reason: str | None = typer.Option(None, "--reason", help="undo: why the import is reversed (audited)."),
    ) -> None:
        """Import a ledger; every bad row is reported with its Excel row number, column and reason.

        Rows that are stored deals (by 项目编号, or investor, project and signing date) but differ
        from them are listed and nothing is written, unless --update applies them (audited).
        Arrivals rows are matched the same way by 到位编号 (the arrival's id, which exports carry).

        Money columns are read in the unit of their header (元/万元/亿元), else 万元.
        Re-importing a ledger adds nothing already present. Exit 1 on bad rows (nothing written).

        Every import that writes is an import batch (file, hash, time, actor, account) whose id each
        created record carries. `crm import batches` lists them; `crm import undo BATCH --reason …`
        reverses one nothing was built on (arrivals voided, created records removed; audited).

        Example: crm import deals 2026年签约项目台账.xlsx --actor 张三
        """
        from crm.ledgers import import_ledger, undo_import
        from crm.ledgers.batches import list_batches
        from crm.ledgers.explain import explain_ledger

        if kind is ImportKind.batches:
            with session_for(ctx) as session:
                typer.echo(_batches_text(list_batches(session)))
            return
        if file is None:
            raise typer.BadParameter("missing: the batch id" if kind is ImportKind.undo else "missing: the ledger file")
        if kind is ImportKind.undo:
            try:
                batch_id = int(str(file))
            except ValueError:
                raise typer.BadParameter(f"{file}: a batch id is a number (crm import batches lists them)") from None
            with session_for(ctx) as session:
                try:
                    done = undo_import(session, batch_id, actor=actor, reason=reason)
                except CrmError as exc:
                    raise fail(str(exc)) from None
            typer.echo(done.summary())
            return
        if explain:
            try:
                typer.echo(explain_ledger(kind.value, file).text())
            except (LedgerError, InvalidValue) as exc:
                for line in str(exc).splitlines():
                    typer.echo(f"error: {line}", err=True)
                raise typer.Exit(1) from None
            return
        with session_for(ctx) as session:
            try:
                result = import_ledger(
                    session,
                    kind.value,
                    file,
                    actor=actor,
                    partial=partial,
                    update=update,
                    dry_run=dry_run,
                    new_names=not no_new_names,
                )
            except LedgerError as exc:
                for line in str(exc).splitlines():
                    typer.echo(f"error: {line}", err=True)
                raise typer.Exit(1) from None
        for warning in result.warnings:
            typer.echo(f"warning: {warning}", err=True)
        for error in result.errors:
            typer.echo(f"skipped: {error}", err=True)
        typer.echo(result.summary())

    @app.command("export")
    def export_command(
        ctx: typer.Context,
        kind: Kind = KindArgument,
        file: Path = OutFileArgument,
        since: str | None = typer.Option(None, "--since", help="From this date (YYYY-MM-DD)."),
        until: str | None = typer.Option(None, "--until", help="Up to this date (YYYY-MM-DD)."),
        unit: str | None = typer.Option(None, "--unit", help="Only this unit, on the field --unit-field names."),
        unit_field: str = typer.Option(
            "responsible",
            "--unit-field",
            help="What --unit filters on: responsible (责任单位) or, for deals and arrivals, credited "
            "(招引单位, else 责任单位, as rankings and target actuals credit a unit).",
        ),
        industry: str | None = typer.Option(None, "--industry", help="Only this industry."),
        min_amount: str | None = MinAmountOption,
        max_amount: str | None = MaxAmountOption,
        force: bool = ForceOption,
    ) -> None:
        """Export a ledger with Chinese headers, money in 万元; it imports back unchanged.

        Example: crm export arrivals 到位资金.xlsx --since 2026-01-01 --unit 县商务局 --unit-field credited
        """
        from crm.ledgers import export_ledger
        from crm.ledgers.export import UNIT_FIELDS

        start, end = parse_date(since, "--since"), parse_date(until, "--until")
        if start and end and end < start:
            raise fail(f"--until {end} is before --since {start}")
        check_out(file, force=force, option="FILE")
        with session_for(ctx) as session:
            count = export_ledger(
                session,
                kind.value,
                file,
                since=start,
                until=end,
                unit=unit,
                industry=industry,
                unit_field=unit_field,
                min_amount=amount_bound(min_amount, "--min-amount"),
                max_amount=amount_bound(max_amount, "--max-amount"),
            )
        filtered = f" of unit {unit} by {UNIT_FIELDS.get(unit_field, unit_field)}" if unit else ""
        typer.echo(f"wrote {count} {kind.value} rows{filtered} to {file}")


def _batches_text(frame: object) -> str:
    """The import batches, one line each (newest first)."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    if frame.empty:
        return "no import batches"
    lines = []
    for row in frame.itertuples(index=False):
        when = f"{row.started_at:%Y-%m-%d %H:%M}"
        who = row.actor + (f" ({row.account})" if isinstance(row.account, str) else "")
        undone = f"  undone {row.undone_at:%Y-%m-%d %H:%M} by {row.undone_by}" if isinstance(row.undone_by, str) else ""
        lines.append(
            f"{row.id}\t{row.kind}\t{row.file_name}\t{when}\t{who}\t{row.inserted} inserted, "
            f"{row.updated} updated, {row.already_present} present\tsha256 {row.file_hash[:12]}{undone}"
        )
    return "\n".join(lines)
