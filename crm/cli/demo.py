"""``crm demo`` and ``crm report weekly``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from crm.cli.common import AsOfOption, ForceOption, OutOption, check_out, engine_from, handled, parse_date, session_for
from crm.cli.reports import register_report

RulesOption = typer.Option(None, "--rules", help="Counting-rule set (default: the default).")
WordingOption = typer.Option(None, "--wording", help="A bureau's own wording.toml for the lead paragraph and headings.")


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

    def bulletin_command(kind: str) -> None:
        words = {"weekly": ("周通报", "周报"), "monthly": ("月通报", "月报")}[kind]

        def command(
            ctx: typer.Context,
            as_of: str = AsOfOption,
            out: Path | None = OutOption,
            force: bool = ForceOption,
            rules: str | None = RulesOption,
            wording: Path | None = WordingOption,
        ) -> None:
            from crm.bulletin import SUFFIXES, bulletin, load_wording, print_bulletin, write_bulletin
            from crm.files import check_suffix

            day = parse_date(as_of, "--as-of") or date.today()
            if out is None:
                with session_for(ctx) as session:
                    report = bulletin(
                        session,
                        kind=kind,
                        as_of=day,
                        rules=rules,
                        wording=None if wording is None else load_wording(wording),
                        charts=False,
                    )
                print_bulletin(report)
                return
            with session_for(ctx) as session:
                check_suffix(out, SUFFIXES)
                check_out(out, force=force)
                report = bulletin(
                    session,
                    kind=kind,
                    as_of=day,
                    rules=rules,
                    wording=None if wording is None else load_wording(wording),
                    charts=out.suffix.lower() in (".docx", ".html"),
                )
                write_bulletin(report, out)
            typer.echo(f"wrote {out}", err=True)

        command.__doc__ = f"""The {kind} 通报 ({words[0]}): lead paragraph, targets, rates, league tables, unstarted deals, trips.

        Without --out it prints the 通报 on the terminal. --out FILE writes what the suffix says: .docx (the
        通报 to forward), .xlsx (one sheet per table), .html (one page with charts) or .json.

        Example: crm report {kind} --as-of 2026-11-30 --out {words[1]}.docx
        """
        register_report(kind)(command)

    bulletin_command("weekly")
    bulletin_command("monthly")
