"""counting rules: the tolerance for arrivals above the contracted amount (data-quality audit)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('counting_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arrival_tolerance', sa.Float(), server_default='0.1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('counting_rules', schema=None) as batch_op:
        batch_op.drop_column('arrival_tolerance')
