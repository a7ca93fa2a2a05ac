"""The schema: migrations create every table, match the models, and the database itself refuses bad rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, SQLModel, select

from crm.db import SQLITE_BUSY_TIMEOUT_MS, current_revision, database_url, head_revision, init_db, make_engine
from crm.errors import InvalidValue
from crm.models import AuditLog, CapitalArrival, Deal, Investor, Region
from crm.reference import REGIONS, find_region, region_short_name


def test_migrated_schema_equals_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= {t.name for t in SQLModel.metadata.sorted_tables}


def test_init_creates_everything_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    first = init_db(engine)
    assert first["revision_before"] is None and first["revision"] == head_revision()
    assert first["reference_rows_added"] > 34
    second = init_db(engine)
    assert second == {"revision_before": head_revision(), "revision": head_revision(), "reference_rows_added": 0}
    with Session(engine) as session:
        assert len(session.exec(select(Region)).all()) == 34


def test_init_on_postgres_twice(postgres_engine: Engine) -> None:
    init_db(postgres_engine)
    assert init_db(postgres_engine)["reference_rows_added"] == 0
    assert current_revision(postgres_engine) == head_revision()


def test_sqlite_runs_with_foreign_keys_wal_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS


def _investor_and_deal(session: Session) -> Deal:
    investor = Investor(name="甘肃光伏有限公司", name_key="甘肃光伏")
    session.add(investor)
    session.flush()
    assert investor.id is not None
    deal = Deal(project_name="光伏电站", investor_id=investor.id, signed_on=date(2026, 3, 1), contracted_yuan=10)
    session.add(deal)
    session.flush()
    return deal


# Each statement would break an invariant; the database (not Python) must refuse it.
BAD_STATEMENTS = {
    "negative contracted amount": "UPDATE deal SET contracted_yuan = -1",
    "unknown state": "UPDATE deal SET state = 'paused'",
    "started without a start date": "UPDATE deal SET state = 'started'",
    "start before signing": "UPDATE deal SET state = 'started', started_on = '2025-01-01'",
    "dangling investor": "UPDATE deal SET investor_id = 9999",
    "negative arrival": "INSERT INTO capital_arrival (deal_id, arrived_on, arrived_yuan, source, verified, currency, "
    "created_at) SELECT id, '2026-04-01', -5, 'other_province', false, 'CNY', '2026-04-01' FROM deal",
    "unknown source": "INSERT INTO capital_arrival (deal_id, arrived_on, arrived_yuan, source, verified, currency, "
    "created_at) SELECT id, '2026-04-01', 5, 'moon', false, 'CNY', '2026-04-01' FROM deal",
    "arrival on a missing deal": "INSERT INTO capital_arrival (deal_id, arrived_on, arrived_yuan, source, verified, "
    "currency, created_at) VALUES (9999, '2026-04-01', 5, 'overseas', false, 'CNY', '2026-04-01')",
    "duplicate deal": "INSERT INTO deal (project_name, investor_id, signed_on, contracted_yuan, state, created_at) "
    "SELECT project_name, investor_id, signed_on, 1, 'signed', created_at FROM deal",
    "duplicate investor name key": "INSERT INTO investor (name, name_key, created_at) "
    "VALUES ('甘肃光伏有限责任公司', '甘肃光伏', '2026-01-01')",
}


@pytest.mark.parametrize("case", list(BAD_STATEMENTS))
def test_database_refuses_broken_invariants(session: Session, case: str) -> None:
    _investor_and_deal(session)
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(text(BAD_STATEMENTS[case]))
        session.flush()
    session.rollback()
    assert session.exec(select(Deal)).one().contracted_yuan == 10
    assert session.exec(select(CapitalArrival)).all() == []


def test_database_refuses_duplicate_credit_codes(session: Session) -> None:
    session.add(Investor(name="A公司", name_key="a", credit_code="91620100MA71234567"))
    session.commit()
    session.add(Investor(name="B公司", name_key="b", credit_code="91620100MA71234567"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_audit_log_is_append_only(session: Session) -> None:
    session.add(AuditLog(actor="张三", action="create", entity="deal", entity_id=1, field="state", new="signed"))
    session.commit()
    statements = ["UPDATE audit_log SET actor = '李四'", "DELETE FROM audit_log"]
    if session.get_bind().dialect.name == "postgresql":  # SQLite has no TRUNCATE
        statements += ["TRUNCATE audit_log", "TRUNCATE audit_log RESTART IDENTITY CASCADE"]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert session.exec(select(AuditLog.actor)).all() == ["张三"]


def test_money_columns_hold_province_totals(session: Session) -> None:
    deal = _investor_and_deal(session)
    deal.contracted_yuan = 26_300_000_000 * 100  # beyond 32 bits
    session.add(deal)
    session.commit()
    assert session.exec(select(Deal.contracted_yuan)).one() == 2_630_000_000_000


@pytest.mark.parametrize(
    ("given", "env", "expected"),
    [
        (None, None, "sqlite:///crm.db"),
        (None, "sqlite:///x.db", "sqlite:///x.db"),
        ("other.db", "sqlite:///x.db", "sqlite:///other.db"),
        ("postgresql://u@h/crm", None, "postgresql+psycopg://u@h/crm"),
    ],
)
def test_database_url_precedence(
    monkeypatch: pytest.MonkeyPatch, given: str | None, env: str | None, expected: str
) -> None:
    if env is None:
        monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("CRM_DATABASE_URL", env)
    assert database_url(given) == expected


@pytest.mark.parametrize(
    ("written", "short"),
    [
        ("北京", "北京"),
        ("北京市", "北京"),
        ("内蒙古自治区", "内蒙古"),
        ("广西壮族自治区", "广西"),
        ("广西", "广西"),
        (" 新疆 ", "新疆"),
        ("香港特别行政区", "香港"),
        ("陕西省", "陕西"),
    ],
)
def test_region_names_short_and_long(written: str, short: str) -> None:
    assert region_short_name(written) == short


def test_all_34_regions_ship_and_unknown_is_refused(session: Session) -> None:
    assert len(REGIONS) == 34 and len({r[0] for r in REGIONS}) == 34
    assert find_region(session, "宁夏回族自治区").name == "宁夏"
    with pytest.raises(InvalidValue, match="not a province-level division"):
        region_short_name("火星")


def test_sorted_by_sorts_instead_of_walking_the_index_on_sqlite(session: Session) -> None:
    """`sorted_by(column)` orders as the column does; SQLite sorts (``+column``) rather than reading each row
    where the index on the column points, other databases get the bare column."""
    from sqlalchemy import select as sa_select
    from sqlalchemy.dialects import postgresql, sqlite

    from crm import deals
    from crm.db import sorted_by

    for n, day in enumerate((9, 3, 3, 7, 1)):
        deals.sign(
            session,
            actor="t",
            project_name=f"项目{n}",
            investor="某集团",
            signed_on=date(2026, 5, day),
            contracted_yuan=10**8,
        )
    session.commit()
    q = sa_select(Deal.id, Deal.project_name).order_by(sorted_by(Deal.signed_on), Deal.id)
    plain = sa_select(Deal.id, Deal.project_name).order_by(Deal.signed_on, Deal.id)
    assert list(session.execute(q)) == list(session.execute(plain))
    assert "ORDER BY +deal.signed_on, deal.id" in str(q.compile(dialect=sqlite.dialect()))
    assert "ORDER BY deal.signed_on, deal.id" in str(q.compile(dialect=postgresql.dialect()))
    if session.get_bind().dialect.name == "sqlite":
        compiled = str(q.compile(session.get_bind()))
        walked = str(plain.compile(session.get_bind()))
        plan = " ".join(str(r) for r in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "TEMP B-TREE FOR ORDER BY" in plan
        assert "TEMP B-TREE" not in " ".join(str(r) for r in session.execute(text(f"EXPLAIN QUERY PLAN {walked}")))
