"""``crm ref list|add|rename KIND ...`` and ``crm investor duplicates|merge``: the lists a bureau keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crm.cli.common import ActorOption, ForceOption, Format, FormatOption, OutOption, emit, session_for

# crm.reference.REFERENCE_KINDS, written out so that --help does not load the database layer
# (tests/test_cli_startup.py holds the two equal)
KINDS = ("industry", "unit", "person", "stall_reason", "region_alias", "signing_event")
KINDS_HELP = f"One of {', '.join(KINDS)} (plurals and industries/units/people are accepted)."

ref_app = typer.Typer(
    rich_markup_mode=None,
    help="The reference lists: industries, units, people, stall reasons, region aliases.\n\n"
    "Example: crm ref add industry 新型储能 --category 新能源",
    no_args_is_help=True,
)
investor_app = typer.Typer(
    rich_markup_mode=None,
    help="Investors recorded twice: list the likely duplicates, merge them.\n\n"
    "Example: crm investor merge 12 15 --actor 张三",
    no_args_is_help=True,
)


@ref_app.command("list")
def list_command(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help=KINDS_HELP),
    fmt: Format = FormatOption,
    out: Path | None = OutOption,
    force: bool = ForceOption,
) -> None:
    """List a reference list with ids.

    Example: crm ref list units
    """
    from crm.reference import list_reference, reference_kind

    with session_for(ctx) as session:
        df = list_reference(session, kind)
    emit(df.astype(object).where(df.notna(), ""), fmt, out, title=f"{reference_kind(kind)}: {len(df)}", force=force)


@ref_app.command("add")
def add_command(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help=KINDS_HELP),
    name: str = typer.Argument(..., help="The new name (for region_alias: the alias)."),
    category: str | None = typer.Option(None, "--category", help="industry: its category (产业大类)."),
    code: str | None = typer.Option(None, "--code", help="stall_reason: a short code (lower case)."),
    region: str | None = typer.Option(None, "--region", help="region_alias: the province it stands for."),
    title: str | None = typer.Option(None, "--title", help="person: title (副县长 ...)."),
    unit: str | None = typer.Option(None, "--unit", help="person: their unit (must exist)."),
    actor: str = ActorOption,
) -> None:
    """Add a name to a reference list (audited); refused when it exists.

    Example: crm ref add region_alias 内蒙 --region 内蒙古
    """
    from crm.reference import add_reference, reference_kind

    with session_for(ctx) as session:
        row = add_reference(
            session, kind, name, actor=actor, category=category, code=code, region=region, title=title, unit=unit
        )
        typer.echo(f"added {reference_kind(kind)} {row.id}: {name.strip()}")


@ref_app.command("rename")
def rename_command(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help=KINDS_HELP),
    old: str = typer.Argument(..., help="The name now."),
    new: str = typer.Argument(..., help="The new name."),
    actor: str = ActorOption,
) -> None:
    """Rename a reference row (audited); every deal keeps pointing at it.

    Example: crm ref rename unit 县商务局 县商务和经济合作局
    """
    from crm.reference import reference_kind, rename_reference

    with session_for(ctx) as session:
        row = rename_reference(session, kind, old, new, actor=actor)
        typer.echo(f"renamed {reference_kind(kind)} {row.id}: {old.strip()} → {new.strip()}")


@investor_app.command("duplicates")
def duplicates_command(
    ctx: typer.Context, fmt: Format = FormatOption, out: Path | None = OutOption, force: bool = ForceOption
) -> None:
    """Investors that are probably one enterprise: names equal once normalised, or very similar.

    Example: crm investor duplicates --format csv
    """
    from crm import investors

    with session_for(ctx) as session:
        df = investors.duplicates(session)
    emit(df.astype(object).where(df.notna(), ""), fmt, out, title=f"likely duplicate investors: {len(df)}", force=force)


@investor_app.command("merge")
def merge_command(
    ctx: typer.Context,
    keep: Annotated[int, typer.Argument(help="Id of the investor to keep.")],
    others: Annotated[list[int], typer.Argument(help="Ids of the investors merged into it.")],
    actor: str = ActorOption,
) -> None:
    """Merge investors into one: their deals move (audited per deal), the emptied rows go.

    Example: crm investor merge 12 15 16
    """
    from crm import investors

    with session_for(ctx) as session:
        kept = investors.merge(session, keep, others, actor=actor)
        typer.echo(f"merged {', '.join(str(o) for o in others)} into investor {kept.id} ({kept.name})")


def register(app: typer.Typer) -> None:
    """Attach ``crm ref`` and ``crm investor``."""
    app.add_typer(ref_app, name="ref")
    app.add_typer(investor_app, name="investor")
