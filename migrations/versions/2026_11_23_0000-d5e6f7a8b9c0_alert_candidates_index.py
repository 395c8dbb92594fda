"""the movements an alert rule can catch or exempt

Revision ID: d5e6f7a8b9c0
Revises: c4d5e6f7a8b9
Create Date: 2026-11-23 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'd5e6f7a8b9c0'
down_revision: str | None = 'c4d5e6f7a8b9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Heavy trucks of stage 0-4 or unknown, gas trucks of stage 5, and hazardous-goods transport: a small
# share of the movements. service/emergency/findings.py repeats this predicate word for word.
CANDIDATE = """(CASE WHEN vehicle_type IS NOT NULL THEN vehicle_type ~ '^[HQ]1' ELSE coalesce(goods_amount > 0, false) END)
    AND (emission_standard IS NULL OR emission_standard IN ('0', '1', '2', '3', '4', 'X')
    OR (emission_standard = '5' AND fuel_type IN ('E', 'F')) OR use_nature = 'R')"""


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_movement_alert_candidates ON movement (enterprise_id, pass_time) WHERE {CANDIDATE}")


def downgrade() -> None:
    op.drop_index('ix_movement_alert_candidates', table_name='movement')
