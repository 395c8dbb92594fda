"""movements and their versions in monthly partitions; the natural key in movement_key

The tables are rebuilt: each existing month gets its partitions, every row is copied, and the
movements keep their ids (the sequence lives on, no longer owned by a table). A version goes to the
month of its record's current pass date, so a record and its history are purged together.

Revision ID: f7a8b9c0d1e2
Revises: e6f7a8b9c0d1
Create Date: 2026-11-23 02:00:00
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

from service.partitions import next_month, partition_name

revision: str = 'f7a8b9c0d1e2'
down_revision: str | None = 'e6f7a8b9c0d1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out as d5e6f7a8b9c0 wrote it, not copied from the catalog: PostgreSQL deparses the IN list into
# another expression tree, and the planner then no longer proves the findings query's WHERE implies it
# (tests/test_migrations.py compares the two).
CANDIDATE = """(CASE WHEN vehicle_type IS NOT NULL THEN vehicle_type ~ '^[HQ]1' ELSE coalesce(goods_amount > 0, false) END)
    AND (emission_standard IS NULL OR emission_standard IN ('0', '1', '2', '3', '4', 'X')
    OR (emission_standard = '5' AND fuel_type IN ('E', 'F')) OR use_nature = 'R')"""
_INDEX_NAMES = ("ix_movement_alert_candidates", "ix_movement_enterprise_id_pass_date",
                "ix_movement_enterprise_id_pass_time", "ix_movement_missing_photos", "ix_movement_plate_no_pass_time",
                "ix_movement_version_movement_id")


def _movement_indexes() -> None:
    op.execute(f"CREATE INDEX ix_movement_alert_candidates ON movement (enterprise_id, pass_time) WHERE {CANDIDATE}")
    op.execute("CREATE INDEX ix_movement_enterprise_id_pass_date ON movement (enterprise_id, pass_date)")
    op.execute("CREATE INDEX ix_movement_enterprise_id_pass_time ON movement (enterprise_id, pass_time)")
    op.execute("CREATE INDEX ix_movement_missing_photos ON movement USING gin (missing_photos) "
               "WHERE cardinality(missing_photos) > 0")
    op.execute("CREATE INDEX ix_movement_plate_no_pass_time ON movement (plate_no, pass_time)")


def _columns(table: str, *, without: tuple[str, ...] = ()) -> str:
    names = op.get_bind().execute(sa.text(
        "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 "
        "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum"), {"t": table}).scalars()
    return ", ".join(f'"{name}"' for name in names if name not in without)


def upgrade() -> None:
    op.execute("ALTER SEQUENCE movement_id_seq OWNED BY NONE")
    op.execute("ALTER TABLE movement RENAME TO movement_old")
    op.execute("ALTER TABLE movement_version RENAME TO movement_version_old")
    op.execute("ALTER TABLE movement_version_old DROP CONSTRAINT pk_movement_version, "
               "DROP CONSTRAINT fk_movement_version_enterprise_id_enterprise, "
               "DROP CONSTRAINT fk_movement_version_movement_id_movement")
    op.execute("ALTER TABLE movement_old DROP CONSTRAINT pk_movement, DROP CONSTRAINT uq_movement_enterprise_id_record_id, "
               "DROP CONSTRAINT fk_movement_enterprise_id_enterprise")
    for name in _INDEX_NAMES:
        op.execute(f"DROP INDEX {name}")

    op.execute("CREATE TABLE movement (LIKE movement_old INCLUDING DEFAULTS INCLUDING GENERATED) "
               "PARTITION BY RANGE (pass_date)")
    # The enterprise's foreign key is on movement_key only: attaching a month to a table referencing enterprise
    # would lock enterprise against its writers, and every movement row is inserted beside its new key.
    op.execute("ALTER TABLE movement ADD CONSTRAINT pk_movement PRIMARY KEY (enterprise_id, record_id, pass_date)")
    op.execute("CREATE INDEX ix_movement_id ON movement (id)")
    _movement_indexes()
    op.execute("CREATE TABLE movement_version (LIKE movement_version_old, record_pass_date date NOT NULL) "
               "PARTITION BY RANGE (record_pass_date)")
    op.execute("ALTER TABLE movement_version DROP COLUMN id")
    op.execute("ALTER TABLE movement_version ADD CONSTRAINT pk_movement_version "
               "PRIMARY KEY (enterprise_id, record_id, version, record_pass_date)")
    op.create_table(
        'movement_key',
        sa.Column('enterprise_id', sa.Integer(), nullable=False),
        sa.Column('record_id', sa.String(), nullable=False),
        sa.Column('pass_date', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_movement_key_enterprise_id_enterprise')),
        sa.PrimaryKeyConstraint('enterprise_id', 'record_id', name=op.f('pk_movement_key')),
    )

    connection = op.get_bind()
    months: list[date] = list(connection.execute(sa.text(
        "SELECT DISTINCT date_trunc('month', pass_date)::date FROM movement_old ORDER BY 1")).scalars())
    for month in months:
        for table in ("movement", "movement_version"):
            op.execute(f"CREATE TABLE {partition_name(table, month)} PARTITION OF {table} "
                       f"FOR VALUES FROM ('{month}') TO ('{next_month(month)}')")
    columns = _columns("movement_old")
    op.execute(f"INSERT INTO movement ({columns}) SELECT {columns} FROM movement_old")
    op.execute("INSERT INTO movement_key (enterprise_id, record_id, pass_date) "
               "SELECT enterprise_id, record_id, pass_date FROM movement_old")
    kept = _columns("movement_version_old", without=("id",))
    op.execute(f"INSERT INTO movement_version (record_pass_date, {kept}) "
               f"SELECT m.pass_date, {', '.join('v.' + c for c in kept.split(', '))} "
               f"FROM movement_version_old v JOIN movement_old m ON m.id = v.movement_id")
    op.execute("DROP TABLE movement_version_old")
    op.execute("DROP TABLE movement_old")


def downgrade() -> None:
    op.execute("ALTER TABLE movement RENAME TO movement_parted")
    op.execute("ALTER TABLE movement_version RENAME TO movement_version_parted")
    op.execute("ALTER TABLE movement_parted DROP CONSTRAINT pk_movement")
    op.execute("ALTER TABLE movement_version_parted DROP CONSTRAINT pk_movement_version")
    for name in ("ix_movement_id", *_INDEX_NAMES[:-1]):
        op.execute(f"DROP INDEX {name}")
    op.execute("CREATE TABLE movement (LIKE movement_parted INCLUDING DEFAULTS INCLUDING GENERATED)")
    op.execute("ALTER TABLE movement ADD CONSTRAINT pk_movement PRIMARY KEY (id), "
               "ADD CONSTRAINT uq_movement_enterprise_id_record_id UNIQUE (enterprise_id, record_id), "
               "ADD CONSTRAINT fk_movement_enterprise_id_enterprise FOREIGN KEY (enterprise_id) REFERENCES enterprise (id)")
    op.execute("ALTER SEQUENCE movement_id_seq OWNED BY movement.id")
    op.execute("CREATE TABLE movement_version (LIKE movement_version_parted)")
    op.execute("ALTER TABLE movement_version DROP COLUMN record_pass_date, ADD COLUMN id bigserial, "
               "ADD CONSTRAINT pk_movement_version PRIMARY KEY (id)")
    columns = _columns("movement_parted")
    op.execute(f"INSERT INTO movement ({columns}) SELECT {columns} FROM movement_parted")
    kept = _columns("movement_version_parted", without=("record_pass_date",))
    op.execute(f"INSERT INTO movement_version ({kept}) SELECT {kept} FROM movement_version_parted ORDER BY movement_id, version")
    op.execute("ALTER TABLE movement_version ADD CONSTRAINT fk_movement_version_enterprise_id_enterprise "
               "FOREIGN KEY (enterprise_id) REFERENCES enterprise (id), ADD CONSTRAINT fk_movement_version_movement_id_movement "
               "FOREIGN KEY (movement_id) REFERENCES movement (id)")
    _movement_indexes()
    op.execute("CREATE INDEX ix_movement_version_movement_id ON movement_version (movement_id)")
    op.execute("DROP TABLE movement_version_parted, movement_parted, movement_key")
