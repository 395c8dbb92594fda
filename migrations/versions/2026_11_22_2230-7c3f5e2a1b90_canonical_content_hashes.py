"""content hashes over the canonical (RFC 8785) content of each record

Revision ID: 7c3f5e2a1b90
Revises: 5b1e0c7a9d21
Create Date: 2026-11-22 22:30:00

Every stored version, current and earlier, of every record kind gets the SHA-256 of its canonical
content in place of the earlier field-order hash, so a resend after this release is a duplicate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.ingest.content import content_digest
from service.ingest.kinds import KINDS

revision: str = '7c3f5e2a1b90'
down_revision: str | None = '5b1e0c7a9d21'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def upgrade() -> None:
    connection = op.get_bind()
    for kind in KINDS.values():
        columns = ", ".join(f'"{attribute}"' for _, attribute in kind.content_items)
        for table in (kind.table.name, kind.version_table.name):
            last = 0
            while True:
                rows = connection.execute(sa.text(
                    f"SELECT id, {columns} FROM {table} WHERE id > :last ORDER BY id LIMIT {_BATCH}"),
                    {"last": last}).mappings().all()
                if not rows:
                    break
                connection.execute(
                    sa.text(f"UPDATE {table} SET content_hash = :digest WHERE id = :id"),
                    [{"id": row["id"], "digest": content_digest(kind.content_items, row)} for row in rows])
                last = rows[-1]["id"]


def downgrade() -> None:
    # The earlier hashes cannot be recomputed without the earlier code; dedupe still works with these.
    pass
