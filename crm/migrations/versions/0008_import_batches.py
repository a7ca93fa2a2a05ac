"""import batches: every imported record carries the id of its import (file, time, account)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the records an import creates; existing rows keep NULL (imported before batches were kept)
TABLES = ('deal', 'capital_arrival', 'trip', 'visit', 'lead', 'target')


def upgrade() -> None:
    op.create_table('import_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('file_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('inserted', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('already_present', sa.Integer(), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('undone_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('undo_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table in TABLES:
        if sqlite:
            # SQLite adds a nullable column with its foreign key in place (no table copy)
            op.execute(f'ALTER TABLE "{table}" ADD COLUMN import_batch_id INTEGER REFERENCES import_batch (id)')
        else:
            op.add_column(table, sa.Column('import_batch_id', sa.Integer(), nullable=True))
            op.create_foreign_key(f'fk_{table}_import_batch_id', table, 'import_batch', ['import_batch_id'], ['id'])
        op.create_index(op.f(f'ix_{table}_import_batch_id'), table, ['import_batch_id'], unique=False)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table in TABLES:
        op.drop_index(op.f(f'ix_{table}_import_batch_id'), table_name=table)
        if sqlite:
            # a column in a foreign key cannot be dropped in place on SQLite: copy the table
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.drop_column('import_batch_id')
        else:
            op.drop_constraint(f'fk_{table}_import_batch_id', table, type_='foreignkey')
            op.drop_column(table, 'import_batch_id')
    op.drop_table('import_batch')
