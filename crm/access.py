"""Accounts, roles and row-level security on PostgreSQL (SQLite is single-user: none of this applies).

An **account** is a PostgreSQL login role that is a member of one of four group roles (NOLOGIN):

- ``admin``: everything, manages accounts (CREATEROLE) and counting rules;
- ``bureau``: 商务局 staff, reads and writes every table except accounts and counting rules;
- ``unit``: a department or township: reads its own unit's deals (with their procedures, arrivals
  and follow-up notes) and everything county-wide that is not a unit's record (reference data,
  targets, rules, trips); writes only deals, procedures, arrivals and follow-ups of its own unit;
- ``analyst``: reads every table, writes nothing.

Role names are cluster-wide, so each database gets its own: ``<database>_admin``, ``<database>_bureau``,
``<database>_unit``, ``<database>_analyst`` and ``<database>_owner``, the NOLOGIN role that owns every
table (no account logs in as it, so no account can drop the audit log's triggers).

The database enforces the rules, not this module: grants per role, row-level security policies on
the tables in `UNIT_SCOPED`, a trigger that refuses a unit account's write to another unit's row in
plain words, and a trigger that fills ``audit_log.account`` with ``current_user``. Notebooks and any
SQL client obey them. `apply_access` (re)applies all of it and is run by ``crm init``.

A new table is covered by default on the next ``crm init`` (everyone reads it, admin and bureau write
it). A table that holds one unit's records goes in `UNIT_SCOPED` (with the column naming the unit,
directly or through its deal: row-level security, the guard trigger and the audit log's visibility
follow); a table units may write goes in `UNIT_WRITES`; a table only admin may write in `ADMIN_ONLY`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from crm.errors import InvalidValue, NotFound, Refused
from crm.models import AccountUnit, Unit
from crm.roles import Role as Role  # defined apart, so the command line offers it cheaply

if TYPE_CHECKING:  # only the functions that make a frame import pandas: an export or an import needs none
    import pandas as pd


@dataclass(frozen=True)
class Scope:
    """How a table's row names its unit: ``column`` is the unit's id, or (with ``parent``) the id
    of the parent row whose ``unit_id`` is the unit. ``label`` says what the row is, in refusals."""

    column: str
    parent: str | None
    label: str


# Tables whose rows belong to one unit: a unit account sees and writes only its own.
UNIT_SCOPED: dict[str, Scope] = {
    "deal": Scope("unit_id", None, "项目"),
    "procedure": Scope("deal_id", "deal", "项目手续"),
    "follow_up": Scope("deal_id", "deal", "项目跟踪记录"),
    "capital_arrival": Scope("deal_id", "deal", "项目到位资金"),
    "lead": Scope("unit_id", None, "洽谈项目"),
    "major_project": Scope("unit_id", None, "重点项目"),
    "progress_report": Scope("major_project_id", "major_project", "重点项目进度报告"),
    "registration_document": Scope("deal_id", "deal", "项目入库材料"),
}
# What a unit account may write (INSERT, UPDATE) besides the audit log; the rest it only reads.
UNIT_WRITES: dict[str, tuple[str, ...]] = {
    "deal": ("INSERT", "UPDATE"),
    "procedure": ("INSERT", "UPDATE"),
    "follow_up": ("INSERT", "UPDATE"),
    "capital_arrival": ("INSERT", "UPDATE"),
    "investor": ("INSERT",),  # signing a deal with an investor not yet known
    "progress_report": ("INSERT", "UPDATE"),  # 周调度: a unit reports its own major projects
    "registration_document": ("INSERT", "UPDATE"),  # 入库材料 of its own deals
    "import_batch": ("INSERT", "UPDATE"),  # its own imports (deals, arrivals): the batch row, then its counts
}
# Only admin writes these; bureau reads them. Nobody writes READ_ONLY tables (migrations run as the owner).
ADMIN_ONLY = ("counting_rules", "account_unit")
READ_ONLY = ("alembic_version",)
AUDIT_TABLE = "audit_log"


class AccountsNeedPostgres(Refused):
    def __init__(self) -> None:
        super().__init__(
            "accounts need PostgreSQL: an SQLite file is single-user (use --db postgresql://… or CRM_DATABASE_URL)"
        )


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def _q(connection: Connection, name: str) -> str:
    """``name`` quoted as an SQL identifier by the server itself."""
    return str(connection.execute(text("SELECT quote_ident(CAST(:n AS text))"), {"n": name}).scalar_one())


def group_roles(connection: Connection) -> dict[str, str]:
    """The names of this database's group roles: {'admin': '<db>_admin', ..., 'owner': '<db>_owner'}."""
    database = str(connection.execute(text("SELECT current_database()")).scalar_one())
    return {name: f"{database}_{name}"[:63] for name in [*Role, "owner"]}


def _ensure_roles(connection: Connection, roles: dict[str, str]) -> None:
    for name in roles.values():
        exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
        if not exists:
            connection.exec_driver_sql(f"CREATE ROLE {_q(connection, name)} NOLOGIN")


def _policy(connection: Connection, table: str, name: str, body: str) -> None:
    connection.exec_driver_sql(f"DROP POLICY IF EXISTS {name} ON {_q(connection, table)}")
    connection.exec_driver_sql(f"CREATE POLICY {name} ON {_q(connection, table)} {body}")


def _unit_expression(scope: Scope) -> str:
    if scope.parent is None:
        return f"{scope.column} = crm_account_unit()"
    return f"{scope.column} IN (SELECT id FROM {scope.parent} WHERE unit_id = crm_account_unit())"


def apply_access(connection: Connection) -> None:
    """Create this database's roles if missing and (re)apply ownership, grants, row-level security
    and the unit guard to every table. Idempotent; does nothing on SQLite."""
    if not is_postgres(connection):
        return
    roles = group_roles(connection)
    owner_exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": roles["owner"]}).first()
    if (
        owner_exists
        and not connection.execute(
            text("SELECT pg_has_role(current_user, :n, 'MEMBER')"), {"n": roles["owner"]}
        ).scalar_one()
    ):
        return  # an account (not the maintenance role) ran `crm init`: the access rules stay as they are
    _ensure_roles(connection, roles)
    q = {key: _q(connection, name) for key, name in roles.items()}
    everyone = ", ".join(q[r] for r in Role)
    writers = f"{q['admin']}, {q['bureau']}"
    me_super = connection.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one()
    if not me_super:  # the maintenance role keeps the owner's rights, to run later migrations
        connection.exec_driver_sql(f"GRANT {q['owner']} TO CURRENT_USER")
    database = _q(connection, str(connection.execute(text("SELECT current_database()")).scalar_one()))
    connection.exec_driver_sql(f"REVOKE CONNECT ON DATABASE {database} FROM PUBLIC")
    connection.exec_driver_sql(f"GRANT CONNECT ON DATABASE {database} TO {everyone}")
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {everyone}, {q['owner']}")
    tables = [
        str(t)
        for t in connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
    ]
    for table in tables:
        t = _q(connection, table)
        connection.exec_driver_sql(f"ALTER TABLE {t} OWNER TO {q['owner']}")
        connection.exec_driver_sql(f"REVOKE ALL ON {t} FROM PUBLIC, {everyone}")
        connection.exec_driver_sql(f"GRANT SELECT ON {t} TO {everyone}")
        if table == AUDIT_TABLE:  # append-only: INSERT, never UPDATE, DELETE or TRUNCATE
            connection.exec_driver_sql(f"GRANT INSERT ON {t} TO {writers}, {q['unit']}")
        elif table in READ_ONLY:
            pass
        elif table in ADMIN_ONLY:
            connection.exec_driver_sql(f"GRANT INSERT, UPDATE, DELETE ON {t} TO {q['admin']}")
        else:
            connection.exec_driver_sql(f"GRANT INSERT, UPDATE, DELETE ON {t} TO {writers}")
        if table in UNIT_WRITES:
            connection.exec_driver_sql(f"GRANT {', '.join(UNIT_WRITES[table])} ON {t} TO {q['unit']}")
    connection.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {writers}, {q['unit']}")
    for function in ("crm_row_unit(text, bigint)",):
        connection.exec_driver_sql(f"ALTER FUNCTION {function} OWNER TO {q['owner']}")
    for table, scope in UNIT_SCOPED.items():
        if table not in tables:
            continue
        t = _q(connection, table)
        connection.exec_driver_sql(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
        _policy(
            connection, table, "crm_read_all", f"FOR SELECT TO {q['admin']}, {q['bureau']}, {q['analyst']} USING (true)"
        )
        _policy(connection, table, "crm_write_all", f"FOR ALL TO {writers} USING (true) WITH CHECK (true)")
        unit_rows = _unit_expression(scope)
        _policy(connection, table, "crm_unit", f"FOR ALL TO {q['unit']} USING ({unit_rows}) WITH CHECK ({unit_rows})")
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS crm_unit_guard ON {t}")
        connection.exec_driver_sql(
            f"CREATE TRIGGER crm_unit_guard BEFORE INSERT OR UPDATE OR DELETE ON {t} FOR EACH ROW "
            "WHEN (crm_account_unit() IS NOT NULL) "  # only a unit account's rows: bulk writes by others skip it
            f"EXECUTE FUNCTION crm_unit_guard('{scope.column}', '{scope.parent or ''}', '{scope.label}')"
        )
    # The audit log: everyone reads it, except that a unit account reads only its own rows and the
    # rows about records it may see (another unit's follow-up notes are in the log too).
    audit = _q(connection, AUDIT_TABLE)
    connection.exec_driver_sql(f"ALTER TABLE {audit} ENABLE ROW LEVEL SECURITY")
    _policy(
        connection,
        AUDIT_TABLE,
        "crm_read_all",
        f"FOR SELECT TO {q['admin']}, {q['bureau']}, {q['analyst']} USING (true)",
    )
    visible = " OR ".join(
        f"(entity = '{table}' AND entity_id IN (SELECT id FROM {_q(connection, table)}))"
        for table in UNIT_SCOPED
        if table in tables
    )
    _policy(
        connection,
        AUDIT_TABLE,
        "crm_unit_read",
        f"FOR SELECT TO {q['unit']} USING (account = current_user OR {visible})",
    )
    _policy(
        connection,
        AUDIT_TABLE,
        "crm_append",
        f"FOR INSERT TO {writers}, {q['unit']} WITH CHECK (account = current_user)",
    )


# ---------------------------------------------------------------- accounts


def _postgres_connection(session: Session) -> Connection:
    connection = session.connection()
    if not is_postgres(connection):
        raise AccountsNeedPostgres()
    return connection


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name.encode()) > 63:
        raise InvalidValue("account", name, "an account name has 1 to 63 bytes")
    return name


def add_account(
    session: Session, name: str, *, role: Role | str, unit: str | None = None, password: str | None = None
) -> None:
    """Create account `name`: a PostgreSQL login role in this database's `role` group (and, for a
    ``unit`` account, its unit). Without a password the account logs in by peer authentication."""
    connection = _postgres_connection(session)
    name = _check_name(name)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidValue("role", role, f"one of {', '.join(Role)}") from None
    unit_id: int | None = None
    if role is Role.unit:
        if not unit:
            raise InvalidValue("unit", unit, "a unit account needs --unit (its department or township)")
        found = session.exec(select(Unit).where(Unit.name == unit)).first()
        if found is None:
            raise NotFound("unit", unit)
        unit_id = found.id
    elif unit:
        raise InvalidValue("unit", unit, f"only a unit account has a unit, not a {role.value} account")
    if connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first():
        raise Refused(f"account {name!r} already exists (role names are shared by every database on the server)")
    roles = group_roles(connection)
    options = "LOGIN CREATEROLE" if role is Role.admin else "LOGIN"
    secret = ""
    if password is not None:
        quoted = connection.execute(text("SELECT quote_literal(CAST(:p AS text))"), {"p": password}).scalar_one()
        secret = f" PASSWORD {quoted}"
    connection.exec_driver_sql(
        f"CREATE ROLE {_q(connection, name)} {options}{secret} IN ROLE {_q(connection, roles[role.value])}"
    )
    if role is Role.admin:  # an admin creates and disables accounts of every role
        for other in Role:
            connection.exec_driver_sql(
                f"GRANT {_q(connection, roles[other.value])} TO {_q(connection, name)} WITH ADMIN TRUE"
                + ("" if other is Role.admin else ", INHERIT FALSE, SET FALSE")
            )
    else:  # every admin account may disable it later, whoever created it
        connection.exec_driver_sql(
            f"GRANT {_q(connection, name)} TO {_q(connection, roles['admin'])} WITH ADMIN TRUE, INHERIT FALSE, SET FALSE"
        )
    if unit_id is not None:
        session.add(AccountUnit(account=name, unit_id=unit_id))
    session.commit()


def accounts(session: Session) -> pd.DataFrame:
    """Every account of this database: name, role, unit, whether it can log in."""
    import pandas as pd

    connection = _postgres_connection(session)
    roles = group_roles(connection)
    rows = connection.execute(
        text(
            "SELECT m.rolname AS account, g.rolname AS grp, m.rolcanlogin AS can_login, u.name AS unit "
            "FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member "
            "LEFT JOIN account_unit au ON au.account = m.rolname LEFT JOIN unit u ON u.id = au.unit_id "
            "WHERE g.rolname = ANY(:groups) AND a.inherit_option ORDER BY m.rolname"
        ),
        {"groups": [roles[r.value] for r in Role]},
    ).all()
    by_group = {roles[r.value]: r.value for r in Role}
    frame = pd.DataFrame(
        [
            {"account": r.account, "role": by_group[r.grp], "unit": r.unit, "can_login": bool(r.can_login)}
            for r in rows
            if r.account not in by_group.values()
        ],
        columns=["account", "role", "unit", "can_login"],
    )
    return frame.drop_duplicates("account").reset_index(drop=True)


def disable_account(session: Session, name: str) -> None:
    """Stop `name` from logging in (its rows in the audit log keep naming it). An admin account is
    disabled by the maintenance role or by the admin account that created it."""
    connection = _postgres_connection(session)
    if name not in set(accounts(session)["account"]):
        raise NotFound("account", name)
    connection.exec_driver_sql(f"ALTER ROLE {_q(connection, name)} NOLOGIN")
    session.commit()


@dataclass(frozen=True)
class Account:
    name: str
    role: str | None
    unit: str | None


def current_account(connection: Connection) -> Account:
    """Who is logged in: the account, its role in this database (None for the maintenance role) and unit."""
    roles = group_roles(connection)
    name = str(connection.execute(text("SELECT current_user")).scalar_one())
    if connection.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one():
        return Account(name, "superuser", None)
    member = {
        key
        for key in Role
        if connection.execute(
            text("SELECT pg_has_role(current_user, :g, 'USAGE')"), {"g": roles[key.value]}
        ).scalar_one()
    }
    role = next((r.value for r in Role if r in member), None)
    unit = connection.execute(
        text("SELECT u.name FROM account_unit a JOIN unit u ON u.id = a.unit_id WHERE a.account = current_user")
    ).scalar_one_or_none()
    return Account(name, role, unit)


def hidden_row(error: NotFound, engine: Engine | None) -> str | None:
    """When row-level security hides another unit's row from a unit account, say whose it is (the
    library only sees that there is no such row); None in every other case."""
    scope = UNIT_SCOPED.get(error.entity)
    if engine is None or not is_postgres(engine) or scope is None or scope.parent is not None:
        return None
    if isinstance(error.key, bool) or not isinstance(error.key, int):
        return None
    with engine.connect() as connection:
        account = current_account(connection)
        row = connection.execute(
            text(
                "SELECT crm_account_unit() AS mine, (SELECT name FROM unit WHERE id = crm_row_unit(:t, :i)) AS theirs"
            ),
            {"t": error.entity, "i": error.key},
        ).one()
    if row.mine is None or row.theirs is None or row.theirs == account.unit:
        return None
    return f"账户 {account.name}（unit: {account.unit}）不能查看或修改{row.theirs}的{scope.label}（{error.entity} {error.key}）"


def refusal(error: DBAPIError, engine: Engine | None = None) -> str | None:
    """A permission error from the database in plain words, or None when `error` is not one."""
    if getattr(error.orig, "sqlstate", None) != "42501":
        return None
    message = str(getattr(getattr(error.orig, "diag", None), "message_primary", None) or error.orig).strip()
    if message.startswith("账户"):  # the database's own plain words (crm_unit_guard, crm_audit_account)
        return message
    who = "this account"
    if engine is not None:
        try:
            with engine.connect() as connection:
                account = current_account(connection)
            who = (
                f"账户 {account.name}（{account.role or 'no role'}"
                + (f": {account.unit}" if account.unit else "")
                + "）"
            )
        except DBAPIError:
            pass
    return f"{who}不能做这个修改 (refused by the database: {message})"
