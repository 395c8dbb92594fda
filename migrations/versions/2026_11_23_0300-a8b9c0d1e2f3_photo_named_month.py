"""the month of the latest movement naming each photo, for the retention purge

Revision ID: a8b9c0d1e2f3
Revises: f7a8b9c0d1e2
Create Date: 2026-11-23 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a8b9c0d1e2f3'
down_revision: str | None = 'f7a8b9c0d1e2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('photo', sa.Column('named_month', sa.Date(), nullable=True))
    op.execute("""
        UPDATE photo SET named_month = named.month
        FROM (SELECT substr(ref, 8) AS sha256, max(date_trunc('month', day))::date AS month
              FROM (SELECT pass_date AS day, ARRAY[pass_photo, list_photo, license_photo] AS refs FROM movement
                    UNION ALL
                    SELECT record_pass_date, ARRAY[pass_photo, list_photo, license_photo] FROM movement_version) AS r,
                   unnest(r.refs) AS ref
              WHERE ref LIKE 'sha256:%' GROUP BY 1) AS named
        WHERE photo.sha256 = named.sha256
    """)
    op.create_index(op.f('ix_photo_named_month'), 'photo', ['named_month'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_photo_named_month'), table_name='photo')
    op.drop_column('photo', 'named_month')
