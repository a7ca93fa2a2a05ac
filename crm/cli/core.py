"""``crm init``, ``crm version`` and ``crm status``."""

from __future__ import annotations

from pathlib import Path

import typer

from crm import __version__
from crm.cli.common import engine_from, fail, handled

BackupFileArgument = typer.Argument(..., help="The copy to write (an SQLite file).")


def register(app: typer.Typer) -> None:
    @app.command()
    def init(ctx: typer.Context) -> None:
        """Create the database or upgrade it to this version; safe to run twice.

        Example: crm --db postgresql://user@host/crm init
        """
        from crm import access
        from crm.db import init_db

        engine = engine_from(ctx)
        with handled():
            result = init_db(engine)
        before = result["revision_before"]
        if before == result["revision"]:
            typer.echo(f"database {engine.url.render_as_string()} is up to date (revision {result['revision']})")
        else:
            typer.echo(f"database {engine.url.render_as_string()} migrated {before or 'empty'} -> {result['revision']}")
        if access.is_postgres(engine):
            with handled(), engine.connect() as connection:
                roles = access.group_roles(connection)
            typer.echo(
                f"roles: {', '.join(roles[r.value] for r in access.Role)} (tables owned by {roles['owner']}); "
                "add accounts with `crm account add NAME --role admin|bureau|unit|analyst [--unit UNIT]`"
            )
        if result["reference_rows_added"]:
            typer.echo(
                f"added {result['reference_rows_added']} reference rows (regions, industries, stall reasons, "
                "counting rules)"
            )

    @app.command()
    def version() -> None:
        """Print the package version and its schema revision.

        Example: crm version
        """
        from crm.revisions import head_revision

        typer.echo(f"crm {__version__} (schema {head_revision()})")

    @app.command()
    def status(ctx: typer.Context) -> None:
        """Show what the database holds: rows per table.

        Example: crm status
        """
        from sqlalchemy import func
        from sqlmodel import SQLModel, select

        from crm.db import sqlite_file

        engine = engine_from(ctx)
        path = sqlite_file(engine)
        if path is not None and not path.exists():  # connecting would create an empty file
            raise fail(f"no database at {path}; create it with `crm --db {path} init`")
        with handled(), engine.connect() as connection:
            typer.echo(f"database: {engine.url.render_as_string()}")
            for table in SQLModel.metadata.sorted_tables:
                count = connection.execute(select(func.count()).select_from(table)).scalar_one()
                typer.echo(f"  {table.name:<20} {count:>10,}")

    @app.command("backup")
    def backup_command(
        ctx: typer.Context,
        file: Path = BackupFileArgument,
        force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
    ) -> None:
        """A consistent copy of the live database, taken while others read and write.

        SQLite: a copy made with SQLite's online backup API (restore: stop the CRM, then copy the
        backup over the database file and delete its -wal and -shm files). PostgreSQL: prints the
        pg_dump command to run (restore with pg_restore).

        Example: crm backup backups/crm-2026-06-30.db
        """
        from crm.db import backup, pg_dump_command, sqlite_file

        engine = engine_from(ctx)
        if engine.dialect.name == "postgresql":
            typer.echo(pg_dump_command(engine, file))
            typer.echo(f"restore with: pg_restore --clean --dbname=<database URL> {file}", err=True)
            return
        path = sqlite_file(engine)
        if path is None or not path.exists():
            raise fail(f"no database at {path}; nothing to back up")
        with handled():
            written = backup(engine, file, force=force)
        typer.echo(f"backed up {path} to {written} ({written.stat().st_size:,} bytes)")
