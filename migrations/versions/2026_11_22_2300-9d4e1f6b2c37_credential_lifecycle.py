"""credential lifecycle: public ids, expiry, last use, disabled enterprises

Revision ID: 9d4e1f6b2c37
Revises: 7c3f5e2a1b90
Create Date: 2026-11-22 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '9d4e1f6b2c37'
down_revision: str | None = '7c3f5e2a1b90'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('enterprise', sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
    for table, prefix in (('gateway_key', 'key_'), ('staff_token', 'tok_')):
        op.add_column(table, sa.Column('public_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        op.add_column(table, sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
        op.execute(f"UPDATE {table} SET public_id = '{prefix}' || substr(md5(random()::text || id::text), 1, 16)")
        op.alter_column(table, 'public_id', nullable=False)
        op.create_unique_constraint(op.f(f'uq_{table}_public_id'), table, ['public_id'])
    op.add_column('gateway_key', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    # Tokens issued before expiry existed get the default lifetime from now.
    op.add_column('staff_token', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE staff_token SET expires_at = now() + interval '90 days'")
    op.alter_column('staff_token', 'expires_at', nullable=False)
    op.add_column('staff_token', sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                           server_default=''))
    op.alter_column('staff_token', 'created_by', server_default=None)


def downgrade() -> None:
    op.drop_column('staff_token', 'created_by')
    for table in ('gateway_key', 'staff_token'):
        op.drop_constraint(op.f(f'uq_{table}_public_id'), table, type_='unique')
        op.drop_column(table, 'public_id')
        op.drop_column(table, 'last_used_at')
        op.drop_column(table, 'expires_at')
    op.drop_column('enterprise', 'disabled_at')
