"""capital arrivals: a covering index by date, for the figures that sum a date window

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the window sums (ranking, targets, period figures) read the arrivals of their dates only
_COVER = ['arrived_on', 'deal_id', 'source', 'verified', 'voided_on', 'arrived_yuan']


def upgrade() -> None:
    op.create_index('ix_arrival_on_cover', 'capital_arrival', _COVER, unique=False)


def downgrade() -> None:
    op.drop_index('ix_arrival_on_cover', table_name='capital_arrival')
