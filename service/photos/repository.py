"""SQL for photos and for the records waiting on them."""

from collections.abc import Iterable, Sequence

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run_sql

# Tables whose rows name photos and keep the ones not yet received in missing_photos.
RECORD_TABLES = ("movement", "inplant_vehicle", "nonroad_machinery")

_INSERT = text("""
    INSERT INTO photo (sha256, content_type, size_bytes, data, enterprise_id)
    SELECT h, t, s, d, :enterprise_id
    FROM unnest(CAST(:sha256 AS text[]), CAST(:content_type AS text[]), CAST(:size AS integer[]),
                CAST(:data AS bytea[])) AS u(h, t, s, d)
    ON CONFLICT (sha256) DO NOTHING
    RETURNING sha256
""")
_HELD = text("SELECT sha256 FROM photo WHERE sha256 = ANY(CAST(:sha256 AS text[]))")
# Advisory locks keyed by photo hash order "record notes a photo as missing" against "photo arrives
# and clears the notes", so a record committed beside its photo's upload is never left waiting.
_LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(hashtextextended(h, 0)) "
                    "FROM unnest(CAST(:sha256 AS text[])) AS h ORDER BY h")
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(h, 0)) "
             "FROM unnest(CAST(:sha256 AS text[])) AS h ORDER BY h")
_RESOLVE = {
    table: text(f"""
        UPDATE {table}
        SET missing_photos = ARRAY(SELECT m FROM unnest(missing_photos) AS m
                                   WHERE m <> ALL(CAST(:sha256 AS text[])))
        WHERE cardinality(missing_photos) > 0 AND missing_photos && CAST(:sha256 AS text[])
    """)
    for table in RECORD_TABLES
}


async def insert_new(session: AsyncSession, *, enterprise_id: int,
                     photos: Sequence[tuple[str, str, bytes]]) -> set[str]:
    """Insert (sha256, content_type, bytes) photos not held yet; returns the hashes inserted now."""
    if not photos:
        return set()
    result = await run_sql(session, _INSERT, {
        "enterprise_id": enterprise_id,
        "sha256": [p[0] for p in photos],
        "content_type": [p[1] for p in photos],
        "size": [len(p[2]) for p in photos],
        "data": [p[2] for p in photos],
    })
    return set(result.scalars().all())


async def held(session: AsyncSession, sha256s: Iterable[str]) -> set[str]:
    hashes = sorted(set(sha256s))
    if not hashes:
        return set()
    result = await run_sql(session, _HELD, {"sha256": hashes})
    return set(result.scalars().all())


async def lock_shared(session: AsyncSession, sha256s: Iterable[str]) -> None:
    await run_sql(session, _LOCK_SHARED, {"sha256": sorted(set(sha256s))})


async def resolve_waiting_records(session: AsyncSession, sha256s: Iterable[str]) -> None:
    """Take the new photos off every record waiting for them (locks first, see _LOCK_SHARED)."""
    hashes = sorted(set(sha256s))
    if not hashes:
        return
    await run_sql(session, _LOCK, {"sha256": hashes})
    for statement in _RESOLVE.values():
        await run_sql(session, statement, {"sha256": hashes})
