"""Accounts, roles and row-level security on a real PostgreSQL: every rule is checked by logging in
as each account on its own connection (a login role, not SET ROLE), and the roles made here
(cluster-wide) are dropped afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select
from typer.testing import CliRunner

from crm import access, arrivals, deals
from crm.cli import app
from crm.db import init_db, make_engine
from crm.errors import NotFound
from crm.ledgers import import_ledger, undo_import
from crm.metrics import kpis
from crm.models import CapitalArrival, ImportBatch, Unit

runner = CliRunner()
AS_OF = date(2026, 6, 30)
PASSWORD = "s3cret-Pw"
BUREAU_UNIT, OTHER_UNIT = "县商务局", "县发改局"


@dataclass
class County:
    """A PostgreSQL database of its own with two units' deals and one account of each kind."""

    admin_engine: Engine  # the maintenance role (superuser) that ran crm init
    database: str
    url: str  # the maintenance role's URL
    deal_a: int  # 县商务局's deal
    deal_b: int  # 县发改局's deal
    accounts: dict[str, str] = field(default_factory=dict)  # kind -> login role
    engines: list[Engine] = field(default_factory=list)

    def url_for(self, kind: str, password: str = PASSWORD) -> str:
        return (
            make_url(self.url)
            .set(username=self.accounts[kind], password=password)
            .render_as_string(hide_password=False)
        )

    def engine_for(self, kind: str, password: str = PASSWORD) -> Engine:
        engine = make_engine(self.url_for(kind, password), poolclass=NullPool)
        self.engines.append(engine)
        return engine


def _require_passwords(connection: Connection, database: str, groups: list[str]) -> list[str] | None:
    """Make this database's accounts log in with a password (scram-sha-256) on a server whose
    pg_hba.conf trusts everyone (pgserver's); returns the old file's lines to restore, or None
    when the file is not ours to change (an external server from CRM_TEST_POSTGRES_URL)."""
    hba = str(connection.execute(text("SHOW hba_file")).scalar_one())
    if os.environ.get("CRM_TEST_POSTGRES_URL") or not os.access(hba, os.W_OK):
        return None
    old = Path(hba).read_text().splitlines(keepends=True)
    members = ",".join(f"+{g}" for g in groups)
    lines = [f"local {database} {members} scram-sha-256\n", f"host {database} {members} all scram-sha-256\n"]
    Path(hba).write_text("".join(lines + old))
    connection.execute(text("SELECT pg_reload_conf()"))
    return old


@pytest.fixture(scope="module")
def county(postgres_url: str) -> Iterator[County]:
    database = f"crm_acc_{uuid.uuid4().hex[:8]}"
    server = make_engine(postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {database}")
    url = make_url(postgres_url).set(database=database).render_as_string(hide_password=False)
    admin_engine = make_engine(url, poolclass=NullPool)
    init_db(admin_engine)
    with Session(admin_engine) as session:
        session.add(Unit(name=BUREAU_UNIT))
        session.add(Unit(name=OTHER_UNIT))
        session.commit()
        ids = []
        for unit, secret in ((BUREAU_UNIT, "甲方密谈A"), (OTHER_UNIT, "乙方密谈B")):
            deal = deals.sign(
                session,
                actor="张三",
                project_name=f"{unit}光伏项目",
                investor=f"{unit}投资方有限公司",
                signed_on=date(2026, 3, 1),
                contracted_yuan=100_000_000 if unit == BUREAU_UNIT else 40_000_000,
                industry="光伏发电",
                unit=unit,
            )
            assert deal.id is not None
            arrivals.record_arrival(
                session, deal.id, on=date(2026, 4, 1), amount_yuan=30_000_000, source="other_province", actor="张三"
            )
            deals.add_follow_up(session, deal.id, on=date(2026, 4, 2), action=secret, actor="张三")
            ids.append(deal.id)
    found = County(admin_engine, database, url, ids[0], ids[1])
    with Session(admin_engine) as session:
        for kind, role, unit in (
            ("admin", "admin", None),
            ("bureau", "bureau", None),
            ("unit", "unit", OTHER_UNIT),
            ("unit_a", "unit", BUREAU_UNIT),
            ("analyst", "analyst", None),
        ):
            found.accounts[kind] = f"{database}_{kind}_acct"
            access.add_account(session, found.accounts[kind], role=role, unit=unit, password=PASSWORD)
    with admin_engine.connect() as connection:
        groups = access.group_roles(connection)
        old_hba = _require_passwords(connection, database, [groups[r.value] for r in access.Role])
    yield found
    for engine in found.engines:
        engine.dispose()
    admin_engine.dispose()
    with server.connect() as connection:
        if old_hba is not None:
            hba = str(connection.execute(text("SHOW hba_file")).scalar_one())
            Path(hba).write_text("".join(old_hba))
            connection.execute(text("SELECT pg_reload_conf()"))
        connection.exec_driver_sql(f"DROP DATABASE {database} WITH (FORCE)")
        made = connection.execute(
            text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p ORDER BY rolname LIKE '%_acct' DESC"),
            {"p": f"{database}\\_%"},
        ).scalars()
        for role in list(made):
            connection.exec_driver_sql(f'DROP ROLE "{role}"')
        left = connection.execute(text("SELECT count(*) FROM pg_roles WHERE rolname LIKE :p"), {"p": f"{database}%"})
        assert left.scalar_one() == 0
    server.dispose()


def _refusal(engine: Engine, sql: str, **params: object) -> str:
    with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
        connection.execute(text(sql), params)
    assert getattr(raised.value.orig, "sqlstate", None) == "42501", raised.value
    return str(raised.value.orig)


# ---------------------------------------------------------------- roles


def test_init_creates_nologin_group_roles_owning_nothing_an_account_logs_in_as(county: County) -> None:
    again = runner.invoke(app, ["--db", county.url, "init"])  # a second run changes nothing and does not fail
    assert again.exit_code == 0, again.output
    assert f"roles: {county.database}_admin, {county.database}_bureau, {county.database}_unit" in again.output
    with county.admin_engine.connect() as connection:
        groups = access.group_roles(connection)
        rows = dict(
            connection.execute(
                text("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY(:g)"), {"g": list(groups.values())}
            ).all()
        )
        owners = set(
            connection.execute(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars()
        )
    assert rows == {name: False for name in groups.values()}
    assert groups["unit"] == f"{county.database}_unit"
    assert owners == {groups["owner"]}


def test_each_account_logs_in_with_its_password_only(county: County) -> None:
    with county.engine_for("analyst").connect() as connection:
        assert connection.execute(text("SELECT current_user")).scalar_one() == county.accounts["analyst"]
    with county.admin_engine.connect() as connection:
        hba_ours = os.access(str(connection.execute(text("SHOW hba_file")).scalar_one()), os.W_OK)
    if hba_ours and not os.environ.get("CRM_TEST_POSTGRES_URL"):
        with pytest.raises(OperationalError, match="password authentication failed"):
            county.engine_for("analyst", password="wrong").connect()


# ---------------------------------------------------------------- the unit rule


def test_a_unit_account_sees_only_its_own_units_deals_arrivals_and_follow_ups(county: County) -> None:
    with county.engine_for("unit").connect() as connection:
        seen = set(connection.execute(text("SELECT id FROM deal")).scalars())
        units = set(connection.execute(text("SELECT u.name FROM deal d JOIN unit u ON u.id = d.unit_id")).scalars())
        assert county.deal_b in seen and county.deal_a not in seen and units == {OTHER_UNIT}
        assert connection.execute(text("SELECT * FROM deal WHERE id = :i"), {"i": county.deal_a}).first() is None
        visible_arrivals = set(connection.execute(text("SELECT DISTINCT deal_id FROM capital_arrival")).scalars())
        assert county.deal_b in visible_arrivals and visible_arrivals <= seen
        notes = list(
            connection.execute(text("SELECT action FROM follow_up WHERE deal_id <= :b"), {"b": county.deal_b}).scalars()
        )
        # another unit's follow-up notes: neither in follow_up nor through the audit log
        in_audit = connection.execute(text("SELECT count(*) FROM audit_log WHERE new LIKE '%密谈A%'")).scalar_one()
    assert notes == ["乙方密谈B"]
    assert in_audit == 0
    with county.engine_for("analyst").connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_log WHERE new LIKE '%密谈A%'")).scalar_one() == 1
        assert (
            connection.execute(
                text("SELECT count(*) FROM follow_up WHERE deal_id <= :b"), {"b": county.deal_b}
            ).scalar_one()
            == 2
        )


def test_a_unit_account_updating_another_units_deal_changes_nothing(county: County) -> None:
    engine = county.engine_for("unit")
    with engine.begin() as connection:
        result = connection.execute(text("UPDATE deal SET project_name = 'x' WHERE id = :i"), {"i": county.deal_a})
        assert result.rowcount == 0
    assert "permission denied" in _refusal(engine, "DELETE FROM follow_up WHERE deal_id = :i", i=county.deal_a)
    with Session(engine) as session, pytest.raises(NotFound):
        deals.start(session, county.deal_a, on=date(2026, 5, 1), actor="李四")
    with county.admin_engine.connect() as connection:
        name = connection.execute(text("SELECT project_name FROM deal WHERE id = :i"), {"i": county.deal_a})
        assert name.scalar_one() == f"{BUREAU_UNIT}光伏项目"


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        (
            "INSERT INTO follow_up (deal_id, \"on\", action, created_at) VALUES (:a, '2026-05-01', 'x', now())",
            "项目跟踪记录",
        ),
        (
            "INSERT INTO capital_arrival (deal_id, arrived_on, arrived_yuan, source, verified, currency, created_at)"
            " VALUES (:a, '2026-05-01', 1, 'other_province', false, 'CNY', now())",
            "项目到位资金",
        ),
        ("UPDATE deal SET unit_id = (SELECT id FROM unit WHERE name = '县商务局') WHERE id = :b", "项目"),
    ],
    ids=["follow-up", "arrival", "hand-deal-to-other-unit"],
)
def test_a_unit_account_cannot_write_another_units_rows(county: County, sql: str, what: str) -> None:
    message = _refusal(county.engine_for("unit"), sql, a=county.deal_a, b=county.deal_b)
    assert f"账户 {county.accounts['unit']}（unit: {OTHER_UNIT}）不能修改{BUREAU_UNIT}的{what}" in message


def test_a_unit_account_writes_its_own_units_deals_and_the_audit_names_it(county: County) -> None:
    with Session(county.engine_for("unit")) as session:
        deal = deals.sign(
            session,
            actor="李四",
            project_name="发改局新签项目",
            investor="新投资方有限公司",
            signed_on=date(2026, 5, 1),
            contracted_yuan=5_000_000,
            unit=OTHER_UNIT,
        )
        assert deal.id is not None
        deals.start(session, deal.id, on=date(2026, 5, 10), actor="李四")
        deals.add_follow_up(session, deal.id, on=date(2026, 5, 11), action="协调用地", actor="李四")
        arrivals.record_arrival(
            session, deal.id, on=date(2026, 5, 12), amount_yuan=1_000_000, source="other_city", actor="李四"
        )
        written = session.connection().execute(
            text("SELECT DISTINCT actor, account FROM audit_log WHERE account = current_user")
        )
        assert written.all() == [("李四", county.accounts["unit"])]
        assert set(deals.history(session, deal.id)["account"]) == {county.accounts["unit"]}


def test_the_cli_refuses_another_units_deal_in_plain_words(county: County) -> None:
    result = runner.invoke(
        app,
        [
            "--db",
            county.url_for("unit"),
            "deal",
            "sign",
            "--project",
            "越权项目",
            "--investor",
            "某公司",
            "--signed-on",
            "2026-05-01",
            "--amount",
            "100",
            "--unit",
            BUREAU_UNIT,
        ],
    )
    assert result.exit_code == 1
    assert f"账户 {county.accounts['unit']}（unit: {OTHER_UNIT}）不能修改{BUREAU_UNIT}的项目" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- the other roles


def test_an_analyst_writes_nothing(county: County) -> None:
    engine = county.engine_for("analyst")
    assert "permission denied" in _refusal(engine, "UPDATE deal SET project_name = 'x' WHERE id = :a", a=county.deal_a)
    assert "permission denied" in _refusal(engine, "INSERT INTO unit (name) VALUES ('新单位')")
    result = runner.invoke(
        app, ["--db", county.url_for("analyst"), "deal", "start", str(county.deal_a), "--on", "2026-05-01"]
    )
    assert result.exit_code == 1
    assert f"账户 {county.accounts['analyst']}（analyst）不能" in result.output
    assert "Traceback" not in result.output


def test_bureau_writes_every_units_deals_but_not_counting_rules_or_accounts(county: County) -> None:
    engine = county.engine_for("bureau")
    with engine.begin() as connection:
        changed = connection.execute(
            text("UPDATE deal SET location = '工业园区' WHERE id IN (:a, :b)"), {"a": county.deal_a, "b": county.deal_b}
        )
        assert changed.rowcount == 2
    assert "permission denied" in _refusal(engine, "UPDATE counting_rules SET note = 'x'")
    assert "permission denied" in _refusal(engine, "INSERT INTO account_unit VALUES ('x', 1)")
    with Session(county.engine_for("admin")) as session:
        session.connection().execute(text("UPDATE counting_rules SET note = note"))
        session.commit()


@pytest.mark.parametrize("kind", ["analyst", "unit"])
def test_an_analyst_or_a_unit_runs_the_weekly_report(county: County, kind: str) -> None:
    result = runner.invoke(app, ["--db", county.url_for(kind), "report", "weekly", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_a_unit_account_shows_its_own_deal_and_not_another_units(county: County) -> None:
    own = runner.invoke(app, ["--db", county.url_for("unit"), "deal", "show", str(county.deal_b)])
    assert own.exit_code == 0, own.output
    assert "乙方密谈B" in own.output  # its own follow-up notes, in the deal's history
    other = runner.invoke(app, ["--db", county.url_for("unit"), "deal", "show", str(county.deal_a)])
    assert other.exit_code == 1
    hidden = (
        f"账户 {county.accounts['unit']}（unit: {OTHER_UNIT}）不能查看或修改{BUREAU_UNIT}的项目（deal {county.deal_a}）"
    )
    assert hidden in other.output and "Traceback" not in other.output
    started = runner.invoke(
        app, ["--db", county.url_for("unit"), "deal", "start", str(county.deal_a), "--on", "2026-05-01"]
    )
    assert started.exit_code == 1 and hidden in started.output
    missing = runner.invoke(app, ["--db", county.url_for("unit"), "deal", "show", "999999"])
    assert missing.exit_code == 1 and "no deal 999999" in missing.output


def test_the_cli_refuses_counting_rules_to_bureau_in_plain_words(county: County) -> None:
    result = runner.invoke(app, ["--db", county.url_for("bureau"), "rules", "save", "city", "--verified-only"])
    assert result.exit_code == 1
    assert f"账户 {county.accounts['bureau']}（bureau）不能" in result.output
    assert "Traceback" not in result.output


def test_figures_as_an_analyst_or_a_unit_equal_the_admins_over_what_they_may_read(county: County) -> None:
    with Session(county.admin_engine) as session:
        county_total = kpis(session, as_of=AS_OF)
        by_unit = kpis(session, as_of=AS_OF, by="unit").set_index("unit")
    with Session(county.engine_for("analyst")) as session:
        as_analyst = kpis(session, as_of=AS_OF)
    with Session(county.engine_for("unit_a")) as session:
        as_unit = kpis(session, as_of=AS_OF)
    pd.testing.assert_frame_equal(as_analyst, county_total)
    assert county_total["signed"].iloc[0] == by_unit["signed"].sum() >= 2
    mine = by_unit.loc[BUREAU_UNIT]
    assert as_unit["signed"].iloc[0] == mine["signed"]
    assert as_unit["contracted_yuan"].iloc[0] == mine["contracted_yuan"] == 100_000_000
    assert as_unit["arrived_yuan"].iloc[0] == mine["arrived_yuan"]


# ---------------------------------------------------------------- the audit log


def test_no_account_can_forge_another_account_in_the_audit_log(county: County) -> None:
    engine = county.engine_for("unit")
    message = _refusal(
        engine,
        "INSERT INTO audit_log (at, actor, action, entity, account) VALUES (now(), 'x', 'create', 'deal', :other)",
        other=county.accounts["admin"],
    )
    assert "不能以账户" in message
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO audit_log (at, actor, action, entity) VALUES (now(), '王五', 'note', 'deal')")
        )
        last = connection.execute(text("SELECT actor, account FROM audit_log WHERE actor = '王五'")).one()
    assert tuple(last) == ("王五", county.accounts["unit"])


@pytest.mark.parametrize("kind", ["admin", "bureau", "unit", "analyst"])
@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"])
def test_no_account_alters_the_audit_log(county: County, kind: str, sql: str) -> None:
    assert "permission denied" in _refusal(county.engine_for(kind), sql)


# ---------------------------------------------------------------- managing accounts


def test_account_commands_add_list_and_disable(county: County) -> None:
    name = f"{county.database}_new_acct"
    admin_url = county.url_for("admin")
    added = runner.invoke(
        app, ["--db", admin_url, "account", "add", name, "--role", "unit", "--unit", OTHER_UNIT, "--password", PASSWORD]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["--db", admin_url, "account", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert f'"account": "{name}",\n  "role": "unit",\n  "unit": "{OTHER_UNIT}",\n  "can_login": true' in listed.output
    county.accounts["new"] = name
    with county.engine_for("new").connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM deal")).scalar_one() >= 1
    assert runner.invoke(app, ["--db", admin_url, "account", "disable", name]).exit_code == 0
    with pytest.raises(OperationalError, match="not permitted to log in"):
        county.engine_for("new").connect()
    made_by_maintenance = f"{county.database}_old_acct"
    with Session(county.admin_engine) as session:
        access.add_account(session, made_by_maintenance, role="bureau", password=PASSWORD)
    county.accounts["old"] = made_by_maintenance
    assert runner.invoke(app, ["--db", admin_url, "account", "disable", made_by_maintenance]).exit_code == 0
    with pytest.raises(OperationalError, match="not permitted to log in"):
        county.engine_for("old").connect()
    refused = runner.invoke(app, ["--db", county.url_for("bureau"), "account", "add", "x_acct", "--role", "analyst"])
    assert refused.exit_code == 1
    assert "Traceback" not in refused.output
    unknown = runner.invoke(
        app, ["--db", admin_url, "account", "add", "y_acct", "--role", "unit", "--unit", "无此单位"]
    )
    assert unknown.exit_code == 1


def test_accounts_need_postgresql(tmp_path: Path) -> None:
    db = str(tmp_path / "crm.db")
    assert runner.invoke(app, ["--db", db, "init"]).exit_code == 0
    result = runner.invoke(app, ["--db", db, "account", "add", "x", "--role", "analyst"])
    assert result.exit_code == 1
    assert "accounts need PostgreSQL" in result.output
    engine = make_engine(db)
    with engine.connect() as connection:
        access.apply_access(connection)  # a no-op on SQLite
    engine.dispose()


def _pg_tool(name: str) -> str:
    try:
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def test_a_pg_dump_backup_restores_with_the_access_rules(county: County, postgres_url: str, tmp_path: Path) -> None:
    """The README's backup: pg_dump, then into a fresh database of the same name pg_restore and crm init."""
    libpq_url = make_url(county.url).set(drivername="postgresql").render_as_string(hide_password=False)
    dump = tmp_path / "crm.dump"
    subprocess.run([_pg_tool("pg_dump"), "-Fc", "-d", libpq_url, "-f", str(dump)], check=True)
    server = make_engine(postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE {county.database} WITH (FORCE)")
        connection.exec_driver_sql(f"CREATE DATABASE {county.database}")
    server.dispose()
    subprocess.run([_pg_tool("pg_restore"), "-d", libpq_url, str(dump)], check=True)
    init_db(county.admin_engine)
    with county.engine_for("unit").connect() as connection:
        seen = set(connection.execute(text("SELECT id FROM deal")).scalars())
        assert county.deal_b in seen and county.deal_a not in seen
    with county.engine_for("analyst").connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM follow_up")).scalar_one() >= 2
    assert "permission denied" in _refusal(county.engine_for("analyst"), "DELETE FROM deal")
    assert "permission denied" in _refusal(county.engine_for("admin"), "TRUNCATE audit_log")


def test_a_unit_account_imports_its_arrivals_as_a_batch_naming_it_and_undoes_it(county: County, tmp_path: Path) -> None:
    path = tmp_path / "到位资金.csv"
    path.write_text(
        f"项目名称,到位日期,到位资金（万元）,资金来源\n{OTHER_UNIT}光伏项目,2026-06-01,20,省外\n", encoding="utf-8"
    )
    with Session(county.engine_for("unit")) as session:
        done = import_ledger(session, "arrivals", path, actor="李四")
        assert done.batch_id is not None and done.inserted == 1
        batch = session.get(ImportBatch, done.batch_id)
        assert batch is not None and (batch.actor, batch.account) == ("李四", county.accounts["unit"])
        row = session.exec(select(CapitalArrival).where(CapitalArrival.import_batch_id == done.batch_id)).one()
        assert (row.deal_id, row.arrived_yuan) == (county.deal_b, 200_000)
        assert undo_import(session, done.batch_id, actor="李四", reason="重复录入").voided == 1
    with Session(county.admin_engine) as session:
        voided = session.exec(select(CapitalArrival).where(CapitalArrival.import_batch_id == done.batch_id)).one()
        assert (voided.voided_by, voided.void_reason) == ("李四", f"import batch {done.batch_id} undone: 重复录入")
