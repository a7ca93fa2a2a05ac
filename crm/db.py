"""Engines, sessions and migrations.

No engine lives at module level: ``make_engine(url)`` returns one the caller owns
(the CLI, a notebook, a test). The URL comes from ``--db``, else
``CRM_DATABASE_URL``, else the SQLite file ``./crm.db``.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy import select as _select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, create_engine

import crm.models  # noqa: F401  (every table on the metadata before any create or compare)
from crm.access import apply_access
from crm.errors import Busy, InvalidValue
from crm.revisions import MIGRATIONS as MIGRATIONS  # read without alembic, for `crm version`
from crm.revisions import head_revision as head_revision

if TYPE_CHECKING:  # alembic is imported only to migrate (`upgrade`): not for a report
    from alembic.config import Config

DEFAULT_URL = "sqlite:///crm.db"
# How long a statement waits for another process's write lock: long enough for a province-scale import.
# ``CRM_BUSY_TIMEOUT`` (seconds) overrides it.
SQLITE_BUSY_TIMEOUT_MS = 15 * 60 * 1000
WAIT_NOTICE_S = 1.0  # a writer that waits longer than this says so on stderr, then every WAIT_SLICE_S
WAIT_SLICE_S = 10.0
WRITING = "crm_writing"  # execution option: the transaction this connection begins takes the write lock


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


def busy_timeout_ms() -> int:
    """How long a writer waits for another (``CRM_BUSY_TIMEOUT`` seconds, else 15 minutes)."""
    given = os.environ.get("CRM_BUSY_TIMEOUT")
    if not given:
        return SQLITE_BUSY_TIMEOUT_MS
    try:
        return max(0, int(float(given) * 1000))
    except ValueError:
        raise InvalidValue("CRM_BUSY_TIMEOUT", given, "a number of seconds") from None


def _sqlite_connect(timeout_ms: int) -> Callable[[Any, Any], None]:
    def connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own BEGIN comes only before the first INSERT/UPDATE/DELETE, so reads run
        # outside any transaction and a SAVEPOINT's RELEASE commits. Turn it off and send BEGIN
        # ourselves (_sqlite_begin), as SQLAlchemy's SQLite dialect documentation recommends.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")  # in-memory databases answer 'memory'; harmless
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe under WAL, much faster commits
        cursor.close()

    return connect


def _sqlite_begin(timeout_ms: int) -> Callable[[Connection], None]:
    def begin(connection: Connection) -> None:
        dbapi: Any = connection.connection.dbapi_connection
        writing = bool(connection.get_execution_options().get(WRITING))
        if writing:
            _begin_immediate(dbapi, timeout_ms)
        else:
            dbapi.execute("BEGIN")  # deferred: a read snapshot; WAL lets it run beside a writer
        connection.info[WRITING] = writing
        connection.info["crm_changes_at_begin"] = dbapi.total_changes

    return begin


def _begin_immediate(dbapi: Any, timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE``: take the write lock now, waiting up to `timeout_ms` for another writer,
    and say on stderr that it waits when that takes longer than a moment."""
    started = time.monotonic()
    deadline = started + timeout_ms / 1000
    slice_s = min(WAIT_NOTICE_S, timeout_ms / 1000)
    try:
        while True:
            dbapi.execute(f"PRAGMA busy_timeout = {int(slice_s * 1000)}")
            try:
                dbapi.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
            now = time.monotonic()
            if now >= deadline:
                raise Busy(now - started)
            sys.stderr.write(
                f"waiting for another process writing this database ({now - started:.0f} s; "
                f"giving up after {timeout_ms / 1000:.0f} s)\n"
            )
            sys.stderr.flush()
            slice_s = max(0.0, min(WAIT_SLICE_S, deadline - now))
    finally:
        dbapi.execute(f"PRAGMA busy_timeout = {timeout_ms}")


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def is_busy(exc: BaseException) -> bool:
    """True when `exc` (a driver or SQLAlchemy error) says another process holds the write lock."""
    return isinstance(exc, Busy) or _is_busy(getattr(exc, "orig", None) or exc)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` (see `database_url`).

    SQLite gets foreign keys, WAL, a busy timeout, and real transactions: every transaction
    starts with ``BEGIN`` (reads: a consistent snapshot) or, for units of work that write
    (`unit_of_work`, `begin_writing`), ``BEGIN IMMEDIATE``, which waits for another writer.
    """
    resolved = database_url(url)
    if resolved.startswith("sqlite"):
        timeout_ms = busy_timeout_ms()
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(resolved, **kwargs)
        event.listen(engine, "connect", _sqlite_connect(timeout_ms))
        event.listen(engine, "begin", _sqlite_begin(timeout_ms))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(resolved, **kwargs)


def core_select(*columns: Any) -> Any:
    """SQLAlchemy ``select`` over model attributes, for bulk Core work (sqlmodel types the
    attributes as plain Python values, which its own ``select`` overloads reject)."""
    return _select(*columns)


class sorted_by(FunctionElement[Any]):
    """An ORDER BY term that SQLite sorts by instead of walking an index in its order: ``+column`` (unary plus
    changes no value). Walking ``ix_deal_signed_on`` reads each deal at a random place: 1.68 s for a
    province's 100,000 deals with their names against 1.39 s scanned and sorted. Other databases get the
    column as it is and plan for themselves."""

    name = "sorted_by"
    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(sorted_by)
def _sorted_by(element: sorted_by, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(sorted_by, "sqlite")
def _sorted_by_sqlite(element: sorted_by, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


def begin_writing(session: Session) -> None:
    """Make the session's transaction one that writes; on SQLite that takes the write lock
    (``BEGIN IMMEDIATE``, waiting for another writer), so what the unit of work checks cannot
    change before it writes. PostgreSQL needs nothing here (row locks, ``FOR UPDATE``).

    A transaction already open that has only read is committed first (ending its snapshot,
    so the check reads the newest data); one that has written already holds the lock.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        if session.in_nested_transaction():
            return
        connection = session.connection()
        if connection.info.get(WRITING) or session.new or session.dirty or session.deleted:
            return
        dbapi: Any = connection.connection.dbapi_connection
        if dbapi.total_changes != connection.info.get("crm_changes_at_begin"):
            return  # it wrote in a deferred transaction: it holds the lock already
        session.commit()
    session.connection(execution_options={WRITING: True})


@contextmanager
def unit_of_work(session: Session, *, commit: bool = True) -> Iterator[None]:
    """One library write: commit on success (or only flush when the caller batches with
    ``commit=False``); on error roll back when this call owns the transaction.

    The transaction it owns (or opens, when none is open yet) is a writing one (`begin_writing`).
    """
    if commit or not session.in_transaction():
        begin_writing(session)
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


@contextmanager
def writing_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a writing transaction (SQLite: ``BEGIN IMMEDIATE``), committed on success."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITING: True})
        with connection.begin():
            yield connection


def sqlite_file(engine: Engine) -> Path | None:
    """The file of an SQLite engine (None for PostgreSQL or an in-memory database)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(str(engine.url.database))


def backup(engine: Engine, target: str | Path, *, force: bool = False) -> Path:
    """A consistent copy of the live SQLite database in the file `target`, taken with SQLite's
    online backup API: readers and writers carry on; the copy is the database as of one commit.

    Refuses a `target` that exists (unless `force`), is a folder, or is in a missing folder.
    PostgreSQL databases are backed up with ``pg_dump`` (see `pg_dump_command`).
    """
    source = sqlite_file(engine)
    if source is None:
        raise InvalidValue("database", engine.url.render_as_string(), "not an SQLite file; use pg_dump")
    out = Path(target)
    if out.exists() and out.is_dir():
        raise InvalidValue("backup file", str(out), "is a folder; name a file")
    if not out.parent.is_dir():
        raise InvalidValue("backup file", str(out), f"the folder {out.parent} does not exist")
    if out.exists() and not force:
        raise InvalidValue("backup file", str(out), "exists already; give --force to overwrite it")
    if out.resolve() == source.resolve():
        raise InvalidValue("backup file", str(out), "is the database itself")
    partial = out.with_name(out.name + ".partial")
    with engine.connect() as connection:
        dbapi: Any = connection.connection.dbapi_connection
        copy = sqlite3.connect(partial)
        try:
            dbapi.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            copy.close()
    partial.replace(out)
    return out


def pg_dump_command(engine: Engine, target: str | Path) -> str:
    """The ``pg_dump`` command that backs up this PostgreSQL database into `target` (custom format)."""
    url = engine.url.set(drivername="postgresql")
    return f"pg_dump --format=custom --file={shlex.quote(str(target))} {shlex.quote(url.render_as_string())}"


def alembic_config(engine: Engine) -> Config:
    """Alembic settings for the migrations shipped in crm/migrations, on `engine`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # configparser treats % as interpolation; socket paths in URLs are percent-encoded
    config.set_main_option("url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (creating it on an empty database)."""
    from alembic import command

    config = alembic_config(engine)
    with writing_connection(engine) as connection:
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
        begin_writing(session)
        added = seed_reference(session)
    return {"revision_before": before, "revision": current_revision(engine), "reference_rows_added": added}
