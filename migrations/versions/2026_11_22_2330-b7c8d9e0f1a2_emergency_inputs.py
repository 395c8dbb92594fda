"""heavy-pollution alerts: grades, alerts, exemptions, the watch-list

Revision ID: b7c8d9e0f1a2
Revises: a1b2c3d4e5f6
Create Date: 2026-11-22 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'b7c8d9e0f1a2'
down_revision: str | None = 'a1b2c3d4e5f6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table('enterprise_grade',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('grade', _TEXT(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', _TEXT(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_enterprise_grade_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_grade'))
    )
    op.create_index('ix_enterprise_grade_enterprise_id_valid_from', 'enterprise_grade', ['enterprise_id', 'valid_from'], unique=False)
    op.create_table('emergency_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_code', _TEXT(), nullable=False),
    sa.Column('level', _TEXT(), nullable=False),
    sa.Column('measure', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('max_heavy_entry_ratio', sa.Numeric(), nullable=True),
    sa.Column('note', _TEXT(), nullable=False),
    sa.Column('supersedes', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', _TEXT(), nullable=False),
    sa.ForeignKeyConstraint(['supersedes'], ['emergency_alert.id'], name=op.f('fk_emergency_alert_supersedes_emergency_alert')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_alert'))
    )
    op.create_index(op.f('ix_emergency_alert_region_code'), 'emergency_alert', ['region_code'], unique=False)
    op.create_index('ix_emergency_alert_starts_at', 'emergency_alert', ['starts_at'], unique=False)
    op.create_table('emergency_exemption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('plate_no', _TEXT(), nullable=False),
    sa.Column('plate_color', _TEXT(), nullable=False),
    sa.Column('kind', _TEXT(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approval', _TEXT(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', _TEXT(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_emergency_exemption_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_exemption'))
    )
    op.create_index('ix_emergency_exemption_enterprise_id_plate_no', 'emergency_exemption', ['enterprise_id', 'plate_no'], unique=False)
    op.create_table('watchlist_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_prefix', _TEXT(), nullable=False),
    sa.Column('plate_no', _TEXT(), nullable=False),
    sa.Column('plate_color', _TEXT(), nullable=False),
    sa.Column('vin', _TEXT(), nullable=True),
    sa.Column('reason', _TEXT(), nullable=False),
    sa.Column('listed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', _TEXT(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watchlist_entry')),
    sa.UniqueConstraint('region_prefix', 'plate_no', 'plate_color', name=op.f('uq_watchlist_entry_region_prefix_plate_no_plate_color'))
    )
    op.create_index(op.f('ix_watchlist_entry_change_seq'), 'watchlist_entry', ['change_seq'], unique=False)
    op.create_index('ix_watchlist_entry_plate_no_plate_color', 'watchlist_entry', ['plate_no', 'plate_color'], unique=False)
    # Every change of an entry takes the next number: a gateway's cursor is the last number it saw.
    op.execute("CREATE SEQUENCE watchlist_change_seq")


def downgrade() -> None:
    op.execute("DROP SEQUENCE watchlist_change_seq")
    for table in ('watchlist_entry', 'emergency_exemption', 'emergency_alert', 'enterprise_grade'):
        op.drop_table(table)
