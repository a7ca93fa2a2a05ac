"""accounts: audit_log.account, account_unit, and the PostgreSQL functions row-level security uses

Revision ID: 0006
Revises: 0005

The roles, grants and policies themselves are applied by ``crm.access.apply_access`` on every
``crm init`` (role names are cluster-wide and tables are added by later migrations); this
revision only adds the columns, the mapping table and the functions they call.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen with this revision (crm.access refers to these functions by name).
POSTGRES_DDL: list[str] = [
    "ALTER TABLE audit_log ALTER COLUMN account SET DEFAULT CURRENT_USER",
    # The audit row names the account that wrote it: filled in here, never taken from the caller.
    "CREATE OR REPLACE FUNCTION crm_audit_account() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NEW.account IS NOT NULL AND NEW.account <> current_user THEN "
    "RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', "
    "MESSAGE = format('账户 %s 不能以账户 %s 的名义写审计日志 (account %s cannot write the audit log as %s)', "
    "current_user, NEW.account, current_user, NEW.account); END IF; "
    "NEW.account := current_user; RETURN NEW; END $$",
    "CREATE TRIGGER audit_log_account BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION crm_audit_account()",
    # The unit of the account logged in (NULL for every account that is not a unit account).
    "CREATE OR REPLACE FUNCTION crm_account_unit() RETURNS integer LANGUAGE sql STABLE AS "
    "$$ SELECT unit_id FROM account_unit WHERE account = current_user $$",
    # The unit of a row the caller may not see (to name it in a refusal): runs as the tables' owner.
    "CREATE OR REPLACE FUNCTION crm_row_unit(tbl text, row_id bigint) RETURNS integer LANGUAGE plpgsql "
    "STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$ DECLARE u integer; BEGIN "
    "EXECUTE format('SELECT unit_id FROM %I WHERE id = $1', tbl) INTO u USING row_id; RETURN u; END $$",
    # A unit account writes only its own unit's rows: refused in plain words before row-level
    # security would refuse it with PostgreSQL's generic message. Arguments: the column holding the
    # unit or the parent's id, the parent table (or '' when the column is the unit), what the row is.
    "CREATE OR REPLACE FUNCTION crm_unit_guard() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE mine integer := crm_account_unit(); theirs integer; r jsonb; "
    "BEGIN "
    "IF mine IS NULL THEN RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END; END IF; "
    "FOR r IN SELECT x FROM unnest(CASE TG_OP WHEN 'INSERT' THEN ARRAY[to_jsonb(NEW)] "
    "WHEN 'DELETE' THEN ARRAY[to_jsonb(OLD)] ELSE ARRAY[to_jsonb(OLD), to_jsonb(NEW)] END) AS x LOOP "
    "theirs := CASE WHEN TG_ARGV[1] = '' THEN (r ->> TG_ARGV[0])::integer "
    "ELSE crm_row_unit(TG_ARGV[1], (r ->> TG_ARGV[0])::bigint) END; "
    "IF theirs IS DISTINCT FROM mine THEN "
    "RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = format("
    "'账户 %s（unit: %s）不能修改%s的%s', current_user, (SELECT name FROM unit WHERE id = mine), "
    "coalesce((SELECT name FROM unit WHERE id = theirs), '未指定责任单位'), TG_ARGV[2]); "
    "END IF; END LOOP; "
    "RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END; END $$",
]


def upgrade() -> None:
    op.create_table('account_unit',
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('account')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DDL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_account ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS crm_audit_account()")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('account')
    op.drop_table('account_unit')
    if op.get_bind().dialect.name == "postgresql":
        # the policies crm.access created call these; dropping them drops nothing else
        op.execute("DROP FUNCTION IF EXISTS crm_unit_guard() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS crm_row_unit(text, bigint)")
        op.execute("DROP FUNCTION IF EXISTS crm_account_unit() CASCADE")
