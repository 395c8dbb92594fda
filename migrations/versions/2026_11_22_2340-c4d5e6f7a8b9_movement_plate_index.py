"""a vehicle's passes by plate

Revision ID: c4d5e6f7a8b9
Revises: b7c8d9e0f1a2
Create Date: 2026-11-22 23:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'c4d5e6f7a8b9'
down_revision: str | None = 'b7c8d9e0f1a2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_movement_plate_no_pass_time', 'movement', ['plate_no', 'pass_time'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_movement_plate_no_pass_time', table_name='movement')
