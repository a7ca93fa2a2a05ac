"""``crm check``: the data-quality audit (查漏补缺), one finding per row."""

from __future__ import annotations

from pathlib import Path

import typer

from crm.cli.common import AsOfOption, ForceOption, Format, FormatOption, OutOption, emit, parse_date, session_for


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(
        ctx: typer.Context,
        as_of: str | None = AsOfOption,
        rules: str | None = typer.Option(None, "--rules", help="Counting rules holding the arrival tolerance."),
        registration_days: int = typer.Option(90, "--registration-days", help="Days after the start to 入库."),
        follow_up_days: int = typer.Option(30, "--follow-up-days", help="Days an unstarted deal may go unfollowed."),
        fmt: Format = FormatOption,
        out: Path | None = OutOption,
        force: bool = ForceOption,
    ) -> None:
        """Audit the ledger: impossible, missing or suspicious records, one finding per row.

        Kinds: arrivals over the contracted amount, in the future or after termination, duplicate
        arrivals, production without a start, started without 立项/用地/施工许可, not registered,
        unstarted deals without an owner or a follow-up, incomplete deals, near-duplicate investors,
        units or people used once, targets above their year. The counts by kind go to stderr.

        Example: crm check --as-of 2026-09-30 --format csv --out findings.csv
        """
        from crm import metrics

        with session_for(ctx) as session:
            df = metrics.quality(
                session,
                as_of=parse_date(as_of, "--as-of"),
                rules=rules,
                registration_days=registration_days,
                follow_up_days=follow_up_days,
            )
        counts = metrics.quality_counts(df)
        emit(df, fmt, out, title=f"数据质量 as of {df.attrs['as_of']} ({len(df)} findings)", force=force)
        found = counts[counts["findings"] > 0]
        summary = ", ".join(f"{k} {n}" for k, n in zip(found["kind"], found["findings"], strict=True))
        typer.echo(f"{len(df)} findings" + (f": {summary}" if summary else ""), err=True)
