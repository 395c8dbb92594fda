"""the audit log's pages read newest first along (at, id)

Revision ID: e2f3a4b5c6d7
Revises: c0d1e2f3a4b5
Create Date: 2026-11-24 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'e2f3a4b5c6d7'
down_revision: str | None = 'c0d1e2f3a4b5'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # (at, id) serves every read the index on at served, and orders a page so it stops after its rows.
    op.create_index('ix_audit_entry_at_id', 'audit_entry', ['at', 'id'], unique=False)
    op.drop_index('ix_audit_entry_at', table_name='audit_entry')


def downgrade() -> None:
    op.create_index('ix_audit_entry_at', 'audit_entry', ['at'], unique=False)
    op.drop_index('ix_audit_entry_at_id', table_name='audit_entry')
