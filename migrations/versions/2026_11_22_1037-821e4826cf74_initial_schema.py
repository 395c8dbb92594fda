"""initial schema

Revision ID: 821e4826cf74
Revises: 
Create Date: 2026-11-22 10:37:56.252937
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '821e4826cf74'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('enterprise',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('region_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('industry', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('clock_skew_seconds', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise')),
    sa.UniqueConstraint('code', name=op.f('uq_enterprise_code'))
    )
    op.create_index(op.f('ix_enterprise_region_code'), 'enterprise', ['region_code'], unique=False)
    op.create_table('staff_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('region_prefix', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_token_token_hash'))
    )
    op.create_table('clean_transport_volume',
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('volume_date', sa.Date(), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('goods_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('tonnes', sa.Numeric(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('missing_fields', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('missing_photos', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_clean_transport_volume_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clean_transport_volume')),
    sa.UniqueConstraint('enterprise_id', 'record_id', name=op.f('uq_clean_transport_volume_enterprise_id_record_id'))
    )
    op.create_index('ix_clean_transport_volume_enterprise_id_volume_date', 'clean_transport_volume', ['enterprise_id', 'volume_date'], unique=False)
    op.create_table('gateway_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_gateway_key_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_gateway_key_key_hash'))
    )
    op.create_index(op.f('ix_gateway_key_enterprise_id'), 'gateway_key', ['enterprise_id'], unique=False)
    op.create_table('inplant_vehicle',
    sa.Column('env_reg_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('vin', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('plate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('register_date', sa.Date(), nullable=True),
    sa.Column('vehicle_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_maker', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('fuel_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('emission_standard', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('list_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('license_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('missing_fields', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('missing_photos', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('complete', sa.Boolean(), sa.Computed("cardinality(missing_fields) = 0 AND cardinality(missing_photos) = 0 AND warnings = '[]'::jsonb", persisted=True), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_inplant_vehicle_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inplant_vehicle')),
    sa.UniqueConstraint('enterprise_id', 'env_reg_code', name=op.f('uq_inplant_vehicle_enterprise_id_env_reg_code'))
    )
    op.create_index('ix_inplant_vehicle_missing_photos', 'inplant_vehicle', ['missing_photos'], unique=False, postgresql_using='gin', postgresql_where=sa.text('cardinality(missing_photos) > 0'))
    op.create_table('movement',
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('gate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('barrier_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('pass_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pass_date', sa.Date(), nullable=False),
    sa.Column('pass_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('plate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('plate_color', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('vehicle_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('vin', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('register_date', sa.Date(), nullable=True),
    sa.Column('vehicle_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_maker', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('fuel_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('emission_standard', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('use_nature', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('network_status', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('list_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('license_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('goods_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('goods_amount', sa.Numeric(), nullable=True),
    sa.Column('fleet_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('seq', sa.BigInteger(), nullable=True),
    sa.Column('reupload', sa.Boolean(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('missing_fields', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('missing_photos', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('complete', sa.Boolean(), sa.Computed("cardinality(missing_fields) = 0 AND cardinality(missing_photos) = 0 AND warnings = '[]'::jsonb", persisted=True), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_movement_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_movement')),
    sa.UniqueConstraint('enterprise_id', 'record_id', name=op.f('uq_movement_enterprise_id_record_id'))
    )
    op.create_index('ix_movement_enterprise_id_pass_time', 'movement', ['enterprise_id', 'pass_time'], unique=False)
    op.create_index('ix_movement_missing_photos', 'movement', ['missing_photos'], unique=False, postgresql_using='gin', postgresql_where=sa.text('cardinality(missing_photos) > 0'))
    op.create_table('nonroad_machinery',
    sa.Column('env_reg_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('plate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('emission_standard', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('fuel_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('machinery_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('pin', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('machinery_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_maker', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('machine_nameplate_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_nameplate_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('env_label_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('missing_fields', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('missing_photos', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('complete', sa.Boolean(), sa.Computed("cardinality(missing_fields) = 0 AND cardinality(missing_photos) = 0 AND warnings = '[]'::jsonb", persisted=True), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_nonroad_machinery_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nonroad_machinery')),
    sa.UniqueConstraint('enterprise_id', 'env_reg_code', name=op.f('uq_nonroad_machinery_enterprise_id_env_reg_code'))
    )
    op.create_index('ix_nonroad_machinery_missing_photos', 'nonroad_machinery', ['missing_photos'], unique=False, postgresql_using='gin', postgresql_where=sa.text('cardinality(missing_photos) > 0'))
    op.create_table('photo',
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_photo_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_photo'))
    )
    op.create_table('clean_transport_volume_version',
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('volume_date', sa.Date(), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('goods_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('tonnes', sa.Numeric(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('missing_fields', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('missing_photos', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('clean_transport_volume_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['clean_transport_volume_id'], ['clean_transport_volume.id'], name=op.f('fk_clean_transport_volume_version_clean_transport_volume_id_clean_transport_volume')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_clean_transport_volume_version_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clean_transport_volume_version'))
    )
    op.create_index(op.f('ix_clean_transport_volume_version_clean_transport_volume_id'), 'clean_transport_volume_version', ['clean_transport_volume_id'], unique=False)
    op.create_table('inplant_vehicle_version',
    sa.Column('env_reg_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('vin', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('plate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('register_date', sa.Date(), nullable=True),
    sa.Column('vehicle_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_maker', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('fuel_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('emission_standard', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('list_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('license_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('missing_fields', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('missing_photos', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('inplant_vehicle_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_inplant_vehicle_version_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['inplant_vehicle_id'], ['inplant_vehicle.id'], name=op.f('fk_inplant_vehicle_version_inplant_vehicle_id_inplant_vehicle')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inplant_vehicle_version'))
    )
    op.create_index(op.f('ix_inplant_vehicle_version_inplant_vehicle_id'), 'inplant_vehicle_version', ['inplant_vehicle_id'], unique=False)
    op.create_table('movement_version',
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('gate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('barrier_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('pass_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pass_date', sa.Date(), nullable=False),
    sa.Column('pass_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('plate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('plate_color', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('vehicle_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('vin', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('register_date', sa.Date(), nullable=True),
    sa.Column('vehicle_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_maker', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('fuel_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('emission_standard', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('use_nature', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('network_status', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('list_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('license_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('goods_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('goods_amount', sa.Numeric(), nullable=True),
    sa.Column('fleet_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('seq', sa.BigInteger(), nullable=True),
    sa.Column('reupload', sa.Boolean(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('missing_fields', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('missing_photos', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('movement_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_movement_version_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['movement_id'], ['movement.id'], name=op.f('fk_movement_version_movement_id_movement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_movement_version'))
    )
    op.create_index(op.f('ix_movement_version_movement_id'), 'movement_version', ['movement_id'], unique=False)
    op.create_table('nonroad_machinery_version',
    sa.Column('env_reg_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('plate_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('emission_standard', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('fuel_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('machinery_type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('pin', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('machinery_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_model', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_maker', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_no', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('machine_nameplate_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('engine_nameplate_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('env_label_photo', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('missing_fields', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('missing_photos', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('nonroad_machinery_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_nonroad_machinery_version_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['nonroad_machinery_id'], ['nonroad_machinery.id'], name=op.f('fk_nonroad_machinery_version_nonroad_machinery_id_nonroad_machinery')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nonroad_machinery_version'))
    )
    op.create_index(op.f('ix_nonroad_machinery_version_nonroad_machinery_id'), 'nonroad_machinery_version', ['nonroad_machinery_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_nonroad_machinery_version_nonroad_machinery_id'), table_name='nonroad_machinery_version')
    op.drop_table('nonroad_machinery_version')
    op.drop_index(op.f('ix_movement_version_movement_id'), table_name='movement_version')
    op.drop_table('movement_version')
    op.drop_index(op.f('ix_inplant_vehicle_version_inplant_vehicle_id'), table_name='inplant_vehicle_version')
    op.drop_table('inplant_vehicle_version')
    op.drop_index(op.f('ix_clean_transport_volume_version_clean_transport_volume_id'), table_name='clean_transport_volume_version')
    op.drop_table('clean_transport_volume_version')
    op.drop_table('photo')
    op.drop_index('ix_nonroad_machinery_missing_photos', table_name='nonroad_machinery', postgresql_using='gin', postgresql_where=sa.text('cardinality(missing_photos) > 0'))
    op.drop_table('nonroad_machinery')
    op.drop_index('ix_movement_missing_photos', table_name='movement', postgresql_using='gin', postgresql_where=sa.text('cardinality(missing_photos) > 0'))
    op.drop_index('ix_movement_enterprise_id_pass_time', table_name='movement')
    op.drop_table('movement')
    op.drop_index('ix_inplant_vehicle_missing_photos', table_name='inplant_vehicle', postgresql_using='gin', postgresql_where=sa.text('cardinality(missing_photos) > 0'))
    op.drop_table('inplant_vehicle')
    op.drop_index(op.f('ix_gateway_key_enterprise_id'), table_name='gateway_key')
    op.drop_table('gateway_key')
    op.drop_index('ix_clean_transport_volume_enterprise_id_volume_date', table_name='clean_transport_volume')
    op.drop_table('clean_transport_volume')
    op.drop_table('staff_token')
    op.drop_index(op.f('ix_enterprise_region_code'), table_name='enterprise')
    op.drop_table('enterprise')
