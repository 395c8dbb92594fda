"""photo bytes move to the photo store; the database keeps their metadata

Run with the service's HJ1321_PHOTO_STORE and HJ1321_DATA_DIR: the bytes are written where the service
will look for them (each durable before the column is dropped, and rewritten harmlessly if the
migration is run again after a failure).

Revision ID: e6f7a8b9c0d1
Revises: d5e6f7a8b9c0
Create Date: 2026-11-23 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.config import get_settings
from service.errors import PhotoStoreUnavailable
from service.photos.store import photo_store

revision: str = 'e6f7a8b9c0d1'
down_revision: str | None = 'd5e6f7a8b9c0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def upgrade() -> None:
    store = photo_store(get_settings())
    connection = op.get_bind()
    after = ""
    while True:
        rows = connection.execute(sa.text(
            "SELECT sha256, data FROM photo WHERE data IS NOT NULL AND sha256 > :after ORDER BY sha256 LIMIT :n"),
            {"after": after, "n": BATCH}).all()
        for sha256, data in rows:
            try:
                store.write(sha256, bytes(data))
            except OSError as exc:
                # The migration stops and its transaction with it: every photo stays in the database. Said as the
                # store's failure (a full disk, a lost mount), not the database's.
                raise PhotoStoreUnavailable(f"the photo store {store.root} cannot keep a photo: {exc}") from exc
        if len(rows) < BATCH:
            break
        after = rows[-1][0]
    # An arrived photo is one with a receipt time (placeholders have none).
    op.execute("UPDATE photo SET received_at = now() WHERE data IS NOT NULL AND received_at IS NULL")
    op.drop_column('photo', 'data')


def downgrade() -> None:
    op.add_column('photo', sa.Column('data', sa.LargeBinary(), nullable=True))
    store = photo_store(get_settings())
    connection = op.get_bind()
    for (sha256,) in connection.execute(sa.text("SELECT sha256 FROM photo WHERE received_at IS NOT NULL")).all():
        data = store.read(sha256)
        if data is not None:
            connection.execute(sa.text("UPDATE photo SET data = :data WHERE sha256 = :sha256"),
                               {"data": data, "sha256": sha256})
