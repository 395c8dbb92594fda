"""movements have no (enterprise, pass_date) index: a day is read through the pass_time one

Revision ID: d1e2f3a4b5c6
Revises: c0d1e2f3a4b5
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'd1e2f3a4b5c6'
down_revision: str | None = 'c0d1e2f3a4b5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP INDEX ix_movement_enterprise_id_pass_date")


def downgrade() -> None:
    op.execute("CREATE INDEX ix_movement_enterprise_id_pass_date ON movement (enterprise_id, pass_date)")
