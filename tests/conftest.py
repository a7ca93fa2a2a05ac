"""Fixtures: a fresh database per test, on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``CRM_TEST_POSTGRES_URL`` when set, else from the ``pgserver``
package, which bundles a server started here in a temporary directory. With
``CI=true`` a PostgreSQL that cannot start fails the run; elsewhere its tests skip
with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

from crm.access import group_roles
from crm.db import make_engine, upgrade
from crm.reference import seed_reference

BACKENDS = ["sqlite", "postgresql"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head and seeded once; each test copies it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with Session(engine) as session:
        seed_reference(session)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real PostgreSQL server for this test session (one per xdist worker)."""
    given = os.environ.get("CRM_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    try:
        import fasteners  # pgserver's dependency
        import pgserver

        # one worker at a time: run as root, pgserver first creates its system user with useradd,
        # and on a fresh machine two workers doing so at once left one initdb "Permission denied"
        with fasteners.InterProcessLock(str(_run_dir(tmp_path_factory) / "pgserver.lock")):
            server: Any = pgserver.get_server(str(tmp_path_factory.mktemp("pgdata")), cleanup_mode="stop")
        uri = server.get_uri()
        _without_durability(uri)
    except Exception as exc:  # a missing binary, a port, a permission: say which
        message = f"PostgreSQL could not start: {type(exc).__name__}: {exc}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    yield uri
    server.cleanup()


def _without_durability(url: str) -> None:
    """A throwaway test server need not survive a power cut: no fsync, no waiting for the WAL flush.

    Every test empties and reseeds the database (TRUNCATE and a commit each), so a flushed commit
    per test is most of a PostgreSQL test's time; what is committed and what a second connection
    sees is the same either way."""
    engine = make_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            connection.exec_driver_sql(f"ALTER SYSTEM SET {setting}")
        connection.exec_driver_sql("SELECT pg_reload_conf()")
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """One PostgreSQL database for the session, migrated to head once."""
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    upgrade(engine)
    yield engine
    _drop_access_roles(engine)
    engine.dispose()


def _drop_access_roles(engine: Engine) -> None:
    """Drop the cluster-wide roles a `crm init` on this database made (crm.access), if any."""
    with engine.begin() as connection:
        names = list(group_roles(connection).values())
        made = connection.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:n)"), {"n": names})
        for role in made.scalars().all():
            quoted = connection.execute(text("SELECT quote_ident(CAST(:r AS text))"), {"r": role}).scalar_one()
            connection.exec_driver_sql(f"REASSIGN OWNED BY {quoted} TO CURRENT_USER")
            connection.exec_driver_sql(f"DROP OWNED BY {quoted}")
            connection.exec_driver_sql(f"DROP ROLE {quoted}")


def _truncate_all(engine: Engine) -> None:
    """Empty every table; the audit log refuses TRUNCATE, so its trigger is off for this one transaction."""
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate"))
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_truncate"))


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated and seeded database: an SQLite file or the session's PostgreSQL, emptied."""
    if request.param == "sqlite":
        path = tmp_path / "crm.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("postgres_engine")
        _truncate_all(eng)
        with Session(eng) as session:
            seed_reference(session)
        yield eng


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


@pytest.fixture
def db_url(engine: Engine) -> str:
    """The URL of the test's database, for CLI tests."""
    return engine.url.render_as_string(hide_password=False)


DEMO_AS_OF = date(2026, 11, 29)


@pytest.fixture(scope="session")
def demo_as_of() -> date:
    """The 'today' of the demo county built by `demo_url`."""
    return DEMO_AS_OF


def _run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every xdist worker of this run shares (the run's base temp), for what is built once."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _build_demo_into(engine: Engine) -> None:
    """The demo county (seed 1, as of DEMO_AS_OF) into a migrated, seeded, empty database."""
    from crm.demo import build_demo

    with Session(engine) as session:
        build_demo(session, seed=1, as_of=DEMO_AS_OF)


@pytest.fixture(scope="session")
def demo_sqlite(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """The SQLite demo county, built once per test run and shared by the xdist workers: the first
    to need it builds it under a file lock, the others wait and reuse the file. Copy it; never open it."""
    import fasteners  # pgserver's dependency: a file lock that works on every platform

    shared = _run_dir(tmp_path_factory)
    built = shared / "demo.db"
    with fasteners.InterProcessLock(str(shared / "demo.db.lock")):
        if not built.exists():
            partial = shared / "demo.partial.db"
            shutil.copyfile(sqlite_template, partial)
            engine = make_engine(f"sqlite:///{partial}")
            _build_demo_into(engine)
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
            os.replace(partial, built)  # whole or absent: a build that failed is not reused
    return built


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory, demo_sqlite: Path) -> str:
    """An SQLite demo county (seed 1, as of DEMO_AS_OF): this worker's copy of the run's one build,
    for tests that only read it (a test that writes takes `demo_engine`)."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copyfile(demo_sqlite, path)
    return f"sqlite:///{path}"


DEMO_POSTGRES_GROUP = "demo-postgresql"
_DEMO_POSTGRES_BUILDS = "demo-postgres-builds"  # in the run's directory: a file per build


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test of the demo county (`demo_engine`) goes to one xdist worker (``--dist loadgroup``),
    so that one worker's PostgreSQL builds the demo, once for the run (checked at its end)."""
    if not getattr(config.option, "loadgroup", False):  # what xdist sets on its workers for --dist loadgroup
        return
    for item in items:
        if "demo_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(DEMO_POSTGRES_GROUP))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run when the PostgreSQL demo county was built more than once (a 20 s build a worker:
    the grouping above stopped working, as it did when pytest 9.2 made xdist ignore xdist_group)."""
    if hasattr(session.config, "workerinput"):  # a worker: the controller counts for the whole run
        return
    if session.config.getoption("dist", "no") not in ("loadgroup", "no"):  # asked to spread the tests otherwise
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    builds = factory.getbasetemp() / _DEMO_POSTGRES_BUILDS
    count = len(list(builds.iterdir())) if builds.is_dir() else 0
    if count > 1:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"ERROR: the PostgreSQL demo county was built {count} times in this run, once per worker: "
                f"the tests of `demo_engine` were not kept on one worker (xdist_group {DEMO_POSTGRES_GROUP!r})",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def demo_postgres(postgres_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database holding the demo county, built once per worker's server and used only
    as a template (CREATE DATABASE ... TEMPLATE): nobody stays connected to it. The tests that use it
    share one worker (`pytest_collection_modifyitems`), so the run builds it once."""
    builds = _run_dir(tmp_path_factory) / _DEMO_POSTGRES_BUILDS
    builds.mkdir(exist_ok=True)
    (builds / str(os.getpid())).touch()
    name = f"crm_demo_{os.getpid()}"
    admin = make_engine(postgres_engine.url.render_as_string(hide_password=False), poolclass=NullPool)
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = make_engine(postgres_engine.url.set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    with Session(engine) as session:
        seed_reference(session)
    _build_demo_into(engine)
    engine.dispose()
    yield name
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(params=BACKENDS)
def demo_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The demo county on each backend, this test's own copy to write to: a copy of the run's SQLite
    build, or a PostgreSQL database made from the worker's demo template."""
    if request.param == "sqlite":
        path = tmp_path / "demo.db"
        shutil.copyfile(request.getfixturevalue("demo_sqlite"), path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
        return
    template = request.getfixturevalue("demo_postgres")
    server: Engine = request.getfixturevalue("postgres_engine")
    name = f"{template}_copy"
    admin = make_engine(server.url.render_as_string(hide_password=False), poolclass=NullPool)
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
    eng = make_engine(server.url.set(database=name).render_as_string(hide_password=False))
    yield eng
    eng.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")


_BACKEND_OUTCOMES: dict[str, dict[str, int]] = {name: {} for name in BACKENDS}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count each database test's outcome per backend (also on the xdist controller)."""
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for name in BACKENDS:
        if f"[{name}" in report.nodeid:
            counts = _BACKEND_OUTCOMES[name]
            counts[report.outcome] = counts.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how the database tests did on each backend, so a run shows both were exercised."""
    terminalreporter.section("database tests per backend")
    for name, counts in _BACKEND_OUTCOMES.items():
        shown = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "none ran"
        terminalreporter.write_line(f"{name}: {shown}")


@pytest.fixture(autouse=True)
def _output_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Command output in a test is a pipe, as in a script: whole lines, whatever width pytest-xdist
    gives its workers in COLUMNS (a test that wants a terminal width sets COLUMNS itself)."""
    monkeypatch.delenv("COLUMNS", raising=False)
