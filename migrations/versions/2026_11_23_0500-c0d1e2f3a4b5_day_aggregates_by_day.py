"""the day aggregates of every plant on one day, read as one range

Revision ID: c0d1e2f3a4b5
Revises: b9c0d1e2f3a4
Create Date: 2026-11-23 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'c0d1e2f3a4b5'
down_revision: str | None = 'b9c0d1e2f3a4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_movement_day_stat_pass_date', 'movement_day_stat', ['pass_date'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_movement_day_stat_pass_date', table_name='movement_day_stat')
