"""``crm demo`` and ``crm report weekly``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from crm.cli.common import AsOfOption, OutOption, engine_from, handled, parse_date, session_for
from crm.cli.reports import register_report


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        seed: int = typer.Option(1, "--seed", help="Random seed: the same seed gives the same county."),
        as_of: str = typer.Option(None, "--as-of", help="The demo's 'today' (YYYY-MM-DD); default today."),
    ) -> None:
        """Fill an empty database with the demo county (creates or upgrades the schema first).

        Example: crm --db demo.db demo --seed 1
        """
        from crm.db import init_db
        from crm.demo import build_demo

        day = parse_date(as_of, "--as-of") or date.today()
        engine = engine_from(ctx)
        with handled():
            init_db(engine)
        with session_for(ctx) as session:
            summary = build_demo(
                session, seed=seed, as_of=day, progress=lambda step: typer.echo(f"  demo: {step}", err=True)
            )
        typer.echo(
            f"demo county (seed {seed}, as of {day}): {summary.deals} deals, {summary.arrivals} capital "
            f"arrivals, {summary.targets} targets, {summary.trips} trips, {summary.visits} visits, "
            f"{summary.leads} leads"
        )

    @register_report("weekly")
    def weekly(ctx: typer.Context, as_of: str = AsOfOption, out: Path | None = OutOption) -> None:
        """The short dashboard: county targets, the three rates, unstarted deals by warning level.

        With --out FILE.xlsx it writes a workbook to forward (one sheet per table); other files get the text.

        Example: crm report weekly --as-of 2026-11-30 --out 周报.xlsx
        """
        from crm.dashboard import dashboard, format_dashboard, write_dashboard

        day = parse_date(as_of, "--as-of") or date.today()
        with session_for(ctx) as session:
            figures = dashboard(session, as_of=day)
        if out is None:
            typer.echo(format_dashboard(figures, as_of=day))
        else:
            typer.echo(f"wrote {write_dashboard(figures, out, as_of=day)}", err=True)
