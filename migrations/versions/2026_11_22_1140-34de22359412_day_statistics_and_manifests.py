"""day statistics and manifests

Revision ID: 34de22359412
Revises: 821e4826cf74
Create Date: 2026-11-22 11:40:03.566238
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '34de22359412'
down_revision: str | None = '821e4826cf74'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('manifest',
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('manifest_date', sa.Date(), nullable=False),
    sa.Column('gate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('barrier_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('declared_count', sa.Integer(), nullable=False),
    sa.Column('record_ids', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_manifest_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('enterprise_id', 'manifest_date', 'gate_no', 'barrier_no', name=op.f('pk_manifest'))
    )
    op.create_table('movement_day_stat',
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('pass_date', sa.Date(), nullable=False),
    sa.Column('gate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('barrier_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('emission_standard', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('heavy', sa.Boolean(), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('complete', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.Column('reupload', sa.Integer(), nullable=False),
    sa.Column('paired_entries', sa.Integer(), nullable=False),
    sa.Column('tonnes', sa.Numeric(), nullable=False),
    sa.Column('seq_min', sa.BigInteger(), nullable=True),
    sa.Column('seq_max', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_movement_day_stat_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('enterprise_id', 'pass_date', 'gate_no', 'barrier_no', 'direction', 'emission_standard', 'heavy', name=op.f('pk_movement_day_stat'))
    )
    op.create_table('stat_dirty',
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('pass_date', sa.Date(), nullable=False),
    sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_stat_dirty_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('enterprise_id', 'pass_date', name=op.f('pk_stat_dirty'))
    )
    op.create_index('ix_movement_enterprise_id_pass_date', 'movement', ['enterprise_id', 'pass_date'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_movement_enterprise_id_pass_date', table_name='movement')
    op.drop_table('stat_dirty')
    op.drop_table('movement_day_stat')
    op.drop_table('manifest')
