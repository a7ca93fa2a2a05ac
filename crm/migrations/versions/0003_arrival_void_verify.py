"""capital arrivals: verification (who, when) and voiding (when, why, who); region aliases

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_COVER = ['deal_id', 'arrived_on', 'source', 'verified', 'arrived_yuan']
_NEW_COVER = ['deal_id', 'arrived_on', 'source', 'verified', 'voided_on', 'arrived_yuan']


def upgrade() -> None:
    op.create_table('region_alias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alias', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alias')
    )
    with op.batch_alter_table('capital_arrival', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('verified_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('voided_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('voided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_check_constraint('ck_arrival_void_reason', 'voided_on IS NULL OR void_reason IS NOT NULL')
        batch_op.drop_index('ix_arrival_deal_on_cover')
        batch_op.create_index('ix_arrival_deal_on_cover', _NEW_COVER, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('capital_arrival', schema=None) as batch_op:
        batch_op.drop_index('ix_arrival_deal_on_cover')
        batch_op.create_index('ix_arrival_deal_on_cover', _OLD_COVER, unique=False)
        batch_op.drop_constraint('ck_arrival_void_reason', type_='check')
        batch_op.drop_column('voided_by')
        batch_op.drop_column('void_reason')
        batch_op.drop_column('voided_on')
        batch_op.drop_column('verified_by')
        batch_op.drop_column('verified_on')
    op.drop_table('region_alias')
