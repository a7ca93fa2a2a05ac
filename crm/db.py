"""Engines, sessions and migrations.

No engine lives at module level: ``make_engine(url)`` returns one the caller owns
(the CLI, a notebook, a test). The URL comes from ``--db``, else
``CRM_DATABASE_URL``, else the SQLite file ``./crm.db``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event
from sqlalchemy import select as _select
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

import crm.models  # noqa: F401  (every table on the metadata before any create or compare)
from crm.access import apply_access
from crm.errors import InvalidValue

DEFAULT_URL = "sqlite:///crm.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The database URL to use: `url`, else ``CRM_DATABASE_URL``, else ``sqlite:///crm.db``.

    A bare file path means an SQLite file; ``postgresql://`` URLs use psycopg 3.
    """
    chosen = url or os.environ.get("CRM_DATABASE_URL") or DEFAULT_URL
    if "://" not in chosen:
        chosen = f"sqlite:///{chosen}"
    if chosen.startswith(("postgresql://", "postgres://")):
        chosen = "postgresql+psycopg://" + chosen.split("://", 1)[1]
    try:
        make_url(chosen)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise InvalidValue("database URL", chosen, f"not a database URL ({exc})") from None
    return chosen


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")  # in-memory databases answer 'memory'; harmless
    cursor.execute("PRAGMA synchronous = NORMAL")  # safe under WAL, much faster commits
    cursor.close()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` (see `database_url`). SQLite gets foreign keys, WAL and a busy timeout."""
    resolved = database_url(url)
    if resolved.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(resolved, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(resolved, **kwargs)


def core_select(*columns: Any) -> Any:
    """SQLAlchemy ``select`` over model attributes, for bulk Core work (sqlmodel types the
    attributes as plain Python values, which its own ``select`` overloads reject)."""
    return _select(*columns)


@contextmanager
def unit_of_work(session: Session, *, commit: bool = True) -> Iterator[None]:
    """One library write: commit on success (or only flush when the caller batches with
    ``commit=False``); on error roll back when this call owns the transaction."""
    try:
        yield
        if commit:
            session.commit()
        else:
            session.flush()
    except BaseException:
        if commit:
            session.rollback()
        raise


def alembic_config(engine: Engine) -> Config:
    """Alembic settings for the migrations shipped in crm/migrations, on `engine`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # configparser treats % as interpolation; socket paths in URLs are percent-encoded
    config.set_main_option("url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this version of the package."""
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (creating it on an empty database)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def init_db(engine: Engine) -> dict[str, Any]:
    """Create or upgrade the schema, then (PostgreSQL) the roles and access rules of crm.access,
    then add missing reference data. Safe to run twice.

    Returns what happened: the revision before and after, and how many reference rows were added.
    """
    from crm.reference import seed_reference

    before = current_revision(engine)
    upgrade(engine)
    with engine.begin() as connection:
        apply_access(connection)  # PostgreSQL: roles, grants, row-level security (crm.access)
    with Session(engine) as session:
        added = seed_reference(session)
    return {"revision_before": before, "revision": current_revision(engine), "reference_rows_added": added}
