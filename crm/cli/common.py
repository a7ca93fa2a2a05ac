"""What every CLI command shares: the database option, error handling and output formats.

Only the CLI turns library errors into exit codes: 1 for bad input or a refused
action (a plain message on stderr, the database unchanged), 2 for a malformed
command line (Typer's own usage errors).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from crm.errors import CrmError, NotFound
from crm.money import parse_yuan

if TYPE_CHECKING:  # building the command line (crm --help) imports none of these: each command does
    import pandas as pd
    from sqlalchemy import Engine
    from sqlmodel import Session


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


DbOption = typer.Option(None, "--db", help="Database URL or SQLite file (default: $CRM_DATABASE_URL, else ./crm.db).")
ActorOption = typer.Option("cli", "--actor", help="Who makes the change; written to the audit log.")
FormatOption = typer.Option(Format.table, "--format", help="table for people; csv or json for tools.")
OutOption = typer.Option(
    None,
    "--out",
    help="Write to this file instead: .xlsx (a workbook for people), .csv (UTF-8 with BOM), .json or .html.",
)
ForceOption = typer.Option(False, "--force", help="Overwrite the output file if it exists already.")


def _with_db(ctx: typer.Context, work: Any) -> Any:
    """Run `work(session)` on the command's database while the command line is parsed."""
    from sqlmodel import Session

    engine = engine_from(ctx)
    try:
        with handled(), Session(engine) as session:
            return work(session)
    finally:
        engine.dispose()


def name_check(field: str) -> Any:
    """An option callback: the name given must exist (crm.names), else exit 1 with the closest names."""

    def callback(ctx: typer.Context, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:
            return value
        from crm import names

        given = value if isinstance(value, list | tuple) else [value]
        checked = _with_db(ctx, lambda session: [names.check(session, field, v) for v in given])
        return checked if isinstance(value, list | tuple) else checked[0]

    return callback


def name_option(field: str, flag: str, help: str) -> Any:
    """An option naming a reference row (unit, person, industry, region, squad, signing event) that must exist."""
    return typer.Option(None, flag, help=help + " Must exist (crm ref list).", callback=name_check(field))


def _text(value: Any) -> str:
    return str(value)


def _deal_id(ctx: typer.Context, value: Any) -> Any:
    """A deal's id from its id or its project name (a unique part of it), read while parsing."""
    if value is None or ctx.resilient_parsing:
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    from crm.deals import find_deal

    return int(_with_db(ctx, lambda session: find_deal(session, text).id))


# the text as given (an id or a name) becomes the deal's id in the callback
DealArgument = typer.Argument(
    ..., help="Deal id, or its project name (a unique part of it).", parser=_text, callback=_deal_id
)


def deal_option(flag: str, help: str) -> Any:
    """An option naming a deal by its id or its project name (a unique part of it)."""
    return typer.Option(None, flag, help=help + " Its id or project name.", parser=_text, callback=_deal_id)


# Who a deal is credited to and who answers for it: the same options wherever a deal is signed.
UnitOption = name_option("unit", "--unit", "Responsible unit (责任单位).")
LeaderOption = name_option("leader", "--leader", "Accountable leader (包抓领导).")
IntroducerOption = name_option("introducer", "--introducer", "First introducer (第一引资人).")
CreditedUnitOption = name_option("credited_unit", "--credited-unit", "Credited unit (招引单位).")
AsOfOption = typer.Option(None, "--as-of", help="Report as of this date (YYYY-MM-DD); default today.")
# A deal's size (规模): its contracted amount with its increases; min <= size < max.
MinAmountOption = typer.Option(None, "--min-amount", help="Deals of this size or more (1亿; bare number = 万元).")
MaxAmountOption = typer.Option(None, "--max-amount", help="Deals below this size (10亿; bare number = 万元).")


BUSY_MESSAGE = "another process is writing this database; try again when it has finished"


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def engine_from(ctx: typer.Context) -> Engine:
    """The engine for the ``--db`` given on the root command (or the default)."""
    from crm.db import make_engine

    root = ctx.find_root()
    url = (root.obj or {}).get("db") if isinstance(root.obj, dict) else None
    try:
        return make_engine(url)
    except CrmError as exc:
        raise fail(str(exc)) from None


@contextmanager
def handled(engine: Engine | None = None) -> Iterator[None]:
    """Turn library errors (and the database's refusals, naming the account of `engine`) into a
    message on stderr and exit status 1."""
    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

    from crm.access import hidden_row, refusal
    from crm.db import is_busy

    try:
        yield
    except NotFound as exc:  # on PostgreSQL maybe another unit's row, hidden by row-level security
        raise fail(hidden_row(exc, engine) or str(exc)) from None
    except CrmError as exc:
        raise fail(str(exc)) from None
    except IntegrityError as exc:
        raise fail(f"the database refused the change: {exc.orig}") from None
    except OperationalError as exc:
        if is_busy(exc):
            raise fail(BUSY_MESSAGE) from None
        if "no such table" in str(exc.orig) or "does not exist" in str(exc.orig):
            raise fail(f"database problem: {exc.orig} (is this a crm database? run `crm init`)") from None
        raise fail(f"database problem: {exc.orig}") from None
    except DataError as exc:  # PostgreSQL: a value out of its column's range
        raise fail(f"the database refused a value: {exc.orig}") from None
    except OverflowError:  # pysqlite: an integer beyond 64 bits
        raise fail("a number is too large for the database (the limit is 2^63 - 1)") from None
    except DBAPIError as exc:  # a permission or row-level security refusal names the account (crm.access)
        raise fail(refusal(exc, engine) or f"the database refused the change: {exc.orig}") from None


@contextmanager
def session_for(ctx: typer.Context) -> Iterator[Session]:
    """A session on the command's database, with library errors handled."""
    from sqlmodel import Session

    engine = engine_from(ctx)
    with handled(engine), Session(engine) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
    engine.dispose()


def parse_date(text: str | None, field: str = "date") -> date | None:
    """A date from ``YYYY-MM-DD`` on the command line, or None."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{field}: {text!r} is not a date; write YYYY-MM-DD") from None


def amount_bound(text: str | None, field: str) -> int | None:
    """A size bound in yuan from the command line (a bare number is 万元: 10000 = 1亿), or None."""
    return None if text is None else parse_yuan(text, "万元", field=field)


def emit(
    df: pd.DataFrame,
    fmt: Format,
    out: Path | None = None,
    *,
    title: str | None = None,
    money: Sequence[str] = (),
    unit: str | None = None,
    force: bool = False,
) -> None:
    """Print `df` as a table for people, or CSV / JSON rows for tools (snake_case columns, money in
    yuan, rates as fractions); with `out`, write the file its suffix says (.xlsx .csv .json .html).

    `money` names extra money columns and `unit` forces 万元/亿元 (see ``crm.display``); an existing
    `out` is refused unless `force`."""
    # each output loads only its own writer: a table for people needs neither CSV nor the workbooks
    if out is not None:
        from crm.files import write_table

        check_out(out, force=force)
        try:
            write_table(df, out, title=title or "", money=money, unit=unit)
        except CrmError as exc:
            raise fail(str(exc)) from None
        typer.echo(f"wrote {len(df)} rows to {out}", err=True)
    elif fmt is Format.csv:
        from crm.files import csv_text

        sys.stdout.write(csv_text(df))
    elif fmt is Format.json:
        from crm.files import json_text

        sys.stdout.write(json_text(df))
    else:
        from crm.display import print_table

        # the title names the counting rules; a column repeating them on every row only takes width
        rules = str(df.attrs.get("rules", ""))
        hide = ("rules",) if title and rules and rules in title else ()
        print_table(df, title=title, money=money, unit=unit, hide=hide)


def check_out(out: Path, *, force: bool = False, option: str = "--out") -> None:
    """Refuse an output path in a missing folder, onto a folder, or (unless `force`) onto an existing file."""
    if out.is_dir():
        raise fail(f"{option} {out}: is a folder; name a file in it")
    if not out.parent.is_dir():
        raise fail(f"{option} {out}: the folder {out.parent} does not exist; create it first")
    if out.exists() and not force:
        raise fail(f"{option} {out}: the file exists already; give --force to overwrite it")
