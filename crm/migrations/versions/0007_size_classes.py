"""size classes with the counting rules

Revision ID: 0007
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL keeps the default classes (500万以上, 亿元以上, 10亿元以上) for every existing rule set
    with op.batch_alter_table('counting_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('size_classes', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('counting_rules', schema=None) as batch_op:
        batch_op.drop_column('size_classes')
