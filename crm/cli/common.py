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

import pandas as pd
import typer
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from crm.db import make_engine
from crm.display import print_table
from crm.errors import CrmError
from crm.files import csv_text, json_text, write_table
from crm.money import parse_yuan


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
# Who a deal is credited to and who answers for it: the same options wherever a deal is signed.
UnitOption = typer.Option(None, "--unit", help="Responsible unit (责任单位).")
LeaderOption = typer.Option(None, "--leader", help="Accountable leader (包抓领导).")
IntroducerOption = typer.Option(None, "--introducer", help="First introducer (第一引资人).")
CreditedUnitOption = typer.Option(None, "--credited-unit", help="Credited unit (招引单位).")
AsOfOption = typer.Option(None, "--as-of", help="Report as of this date (YYYY-MM-DD); default today.")
# A deal's size (规模): its contracted amount with its increases; min <= size < max.
MinAmountOption = typer.Option(None, "--min-amount", help="Deals of this size or more (1亿; bare number = 万元).")
MaxAmountOption = typer.Option(None, "--max-amount", help="Deals below this size (10亿; bare number = 万元).")


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def engine_from(ctx: typer.Context) -> Engine:
    """The engine for the ``--db`` given on the root command (or the default)."""
    root = ctx.find_root()
    url = (root.obj or {}).get("db") if isinstance(root.obj, dict) else None
    try:
        return make_engine(url)
    except CrmError as exc:
        raise fail(str(exc)) from None


@contextmanager
def handled() -> Iterator[None]:
    """Turn library errors into a message on stderr and exit status 1."""
    try:
        yield
    except CrmError as exc:
        raise fail(str(exc)) from None
    except IntegrityError as exc:
        raise fail(f"the database refused the change: {exc.orig}") from None
    except OperationalError as exc:
        raise fail(f"database problem: {exc.orig} (did you run `crm init`?)") from None


@contextmanager
def session_for(ctx: typer.Context) -> Iterator[Session]:
    """A session on the command's database, with library errors handled."""
    engine = engine_from(ctx)
    with handled(), Session(engine) as session:
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
) -> None:
    """Print `df` as a table for people, or CSV / JSON rows for tools (snake_case columns, money in
    yuan, rates as fractions); with `out`, write the file its suffix says (.xlsx .csv .json .html).

    `money` names extra money columns and `unit` forces 万元/亿元 (see ``crm.display``)."""
    if out is not None:
        try:
            write_table(df, out, title=title or "", money=money, unit=unit)
        except CrmError as exc:
            raise fail(str(exc)) from None
        typer.echo(f"wrote {len(df)} rows to {out}", err=True)
    elif fmt is Format.csv:
        sys.stdout.write(csv_text(df))
    elif fmt is Format.json:
        sys.stdout.write(json_text(df))
    else:
        # the title names the counting rules; a column repeating them on every row only takes width
        rules = str(df.attrs.get("rules", ""))
        hide = ("rules",) if title and rules and rules in title else ()
        print_table(df, title=title, money=money, unit=unit, hide=hide)
