"""``crm account add|list|disable``: PostgreSQL login roles with a role (accounts need PostgreSQL)."""

from __future__ import annotations

import typer

from crm.cli.common import Format, FormatOption, emit, session_for
from crm.roles import Role

account_app = typer.Typer(
    rich_markup_mode=None,
    help="Accounts on PostgreSQL: login roles with a role (admin, bureau, unit, analyst) and, for a unit "
    "account, its unit. SQLite is single-user and has none.\n\n"
    "Example: crm --db postgresql://postgres@db.example/crm account add fgj --role unit --unit 县发改局",
    no_args_is_help=True,
)

RoleOption = typer.Option(..., "--role", help="admin, bureau, unit or analyst.")


@account_app.command("add")
def add_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Account name: the PostgreSQL login role to create."),
    role: Role = RoleOption,
    unit: str | None = typer.Option(None, "--unit", help="The unit of a unit account (责任单位)."),
    password: str | None = typer.Option(
        None,
        "--password",
        envvar="CRM_ACCOUNT_PASSWORD",
        help="Password for password (scram-sha-256) login; omit for peer authentication.",
    ),
) -> None:
    """Create an account (a PostgreSQL login role) with a role and, for a unit account, its unit.

    Example: crm account add fgj --role unit --unit 县发改局 --password 's3cret'
    """
    from crm import access

    with session_for(ctx) as session:
        access.add_account(session, name, role=role, unit=unit, password=password)
    typer.echo(f"account {name} added: {role.value}" + (f" of {unit}" if unit else ""))


@account_app.command("list")
def list_command(ctx: typer.Context, fmt: Format = FormatOption) -> None:
    """List this database's accounts: role, unit, whether they can log in.

    Example: crm account list
    """
    from crm import access

    with session_for(ctx) as session:
        emit(access.accounts(session), fmt)


@account_app.command("disable")
def disable_command(ctx: typer.Context, name: str = typer.Argument(..., help="Account name.")) -> None:
    """Stop an account from logging in; the audit log keeps naming it.

    Example: crm account disable fgj
    """
    from crm import access

    with session_for(ctx) as session:
        access.disable_account(session, name)
    typer.echo(f"account {name} disabled (can no longer log in)")


def register(app: typer.Typer) -> None:
    app.add_typer(account_app, name="account")
