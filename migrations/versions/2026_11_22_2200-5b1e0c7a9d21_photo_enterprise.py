"""photos readable by every enterprise that uploaded or named them

Revision ID: 5b1e0c7a9d21
Revises: 34de22359412
Create Date: 2026-11-22 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '5b1e0c7a9d21'
down_revision: str | None = '34de22359412'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every column of every record table that names a photo, current rows and earlier versions alike.
_PHOTO_COLUMNS = {
    "movement": ("pass_photo", "list_photo", "license_photo"),
    "inplant_vehicle": ("list_photo", "license_photo"),
    "nonroad_machinery": ("machine_nameplate_photo", "engine_nameplate_photo", "env_label_photo"),
}


def upgrade() -> None:
    op.create_table('photo_enterprise',
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_photo_enterprise_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('sha256', 'enterprise_id', name=op.f('pk_photo_enterprise'))
    )
    op.execute("INSERT INTO photo_enterprise (sha256, enterprise_id) SELECT sha256, enterprise_id FROM photo "
               "ON CONFLICT DO NOTHING")
    for table, columns in _PHOTO_COLUMNS.items():
        for source in (table, f"{table}_version"):
            for column in columns:
                op.execute(f"INSERT INTO photo_enterprise (sha256, enterprise_id) "
                           f"SELECT DISTINCT substr({column}, 8), enterprise_id FROM {source} "
                           f"WHERE {column} LIKE 'sha256:%' ON CONFLICT DO NOTHING")


def downgrade() -> None:
    op.drop_table('photo_enterprise')
