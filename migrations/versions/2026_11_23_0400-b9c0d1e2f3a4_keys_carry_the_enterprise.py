"""every primary key of a table kept per enterprise carries the enterprise

(enterprise_id, id) for the ledgers, the rail and belt volumes, their versions (whose reference to the
current row carries it too), grades and exemptions: the tables can then be distributed by enterprise
(docs/scaling.md). Ids stay unique, handed out by the same sequences.

Revision ID: b9c0d1e2f3a4
Revises: a8b9c0d1e2f3
Create Date: 2026-11-23 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b9c0d1e2f3a4'
down_revision: str | None = 'a8b9c0d1e2f3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDS = (("inplant_vehicle", "inplant_vehicle_id"), ("nonroad_machinery", "nonroad_machinery_id"),
           ("clean_transport_volume", "clean_transport_volume_id"))
OTHERS = ("enterprise_grade", "emergency_exemption")


def _primary_key(table: str, columns: str) -> None:
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}, ADD CONSTRAINT pk_{table} PRIMARY KEY ({columns})")


def _drop_reference(version: str, table: str) -> None:
    # Looked up: PostgreSQL cut the generated name at 63 characters.
    name = op.get_bind().execute(sa.text(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = CAST(:v AS regclass) "
        "AND confrelid = CAST(:t AS regclass)"), {"v": version, "t": table}).scalar_one()
    op.execute(f'ALTER TABLE {version} DROP CONSTRAINT "{name}"')


def upgrade() -> None:
    for table, fk in RECORDS:
        version = f"{table}_version"
        _drop_reference(version, table)
        _primary_key(table, "enterprise_id, id")
        _primary_key(version, "enterprise_id, id")
        op.execute(f"ALTER TABLE {version} ADD CONSTRAINT fk_{version}_current "
                   f"FOREIGN KEY (enterprise_id, {fk}) REFERENCES {table} (enterprise_id, id)")
    for table in OTHERS:
        _primary_key(table, "enterprise_id, id")


def downgrade() -> None:
    for table in OTHERS:
        _primary_key(table, "id")
    for table, fk in RECORDS:
        version = f"{table}_version"
        op.execute(f"ALTER TABLE {version} DROP CONSTRAINT fk_{version}_current")
        _primary_key(version, "id")
        _primary_key(table, "id")
        op.execute(f"ALTER TABLE {version} ADD CONSTRAINT {op.f(f'fk_{version}_{fk}_{table}')[:63]} "
                   f"FOREIGN KEY ({fk}) REFERENCES {table} (id)")
