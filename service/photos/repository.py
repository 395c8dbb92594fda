"""SQL for photos and for the records waiting on them.

A record naming a photo that has not arrived and the photo's arrival must not miss each other
when they commit side by side. They meet on the photo's row: the record side inserts a
placeholder row (or share-locks an existing one), the arrival side fills it with ON CONFLICT DO
UPDATE, so whichever comes second waits for the first to commit and then sees its work. Row locks,
unlike advisory locks, cost no shared lock-table slots however many photos a batch names.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from service import partitions
from service.db import run_sql
from service.ingest.kinds import KINDS

# The bytes are in the photo store already: this row only says they arrived.
_STORE = text("""
    INSERT INTO photo (sha256, content_type, size_bytes, enterprise_id, received_at)
    SELECT h, t, s, :enterprise_id, now()
    FROM unnest(CAST(:sha256 AS text[]), CAST(:content_type AS text[]), CAST(:size AS integer[])) AS u(h, t, s)
    ON CONFLICT (sha256) DO UPDATE
        SET content_type = EXCLUDED.content_type, size_bytes = EXCLUDED.size_bytes,
            received_at = EXCLUDED.received_at
        WHERE photo.received_at IS NULL
    RETURNING sha256
""")
_HELD = text("SELECT sha256 FROM photo WHERE sha256 = ANY(CAST(:sha256 AS text[])) AND received_at IS NOT NULL")
_PLACEHOLD = text("""
    INSERT INTO photo (sha256, enterprise_id, named_month)
    SELECT h, :enterprise_id, m FROM unnest(CAST(:sha256 AS text[]), CAST(:month AS date[])) AS u(h, m) ORDER BY h
    ON CONFLICT (sha256) DO NOTHING
    RETURNING sha256
""")
# A photo is kept as long as the later of the month it arrived in and named_month (retention.py), so a naming
# record's month (a movement's pass month, a ledger entry's arrival month) is written only when it is later than
# both. A gateway uploads a pass's photos with or after the pass, and a ledger entry names the same photos month
# after month, so most namings write nothing, and one read tells which photos are held and which to name.
# It returns only the photos that need something: not held, to be named, or not linked to this enterprise yet.
# A photo without a row is not named here: the placeholder the batch inserts for it carries the month (a record
# sent before its photos, the usual order, would otherwise cost two more round trips naming and reading nothing).
# A batch names a thousand photos that usually need nothing, and rows not sent cost no Python to read.
# A photo is linked to the enterprise that first sent or named it (photo.enterprise_id) from then on, so only
# photos another plant sent first need photo_enterprise. PostgreSQL builds the subquery's hash only when one
# does: for a plant's own photos, the usual case, the look is a probe of the photo table a photo.
# Each month's start is sent once, not once a photo: the driver encodes a timestamptz array in Python element by
# element, and for a batch naming a thousand photos that cost the worker about 2 of its 48 µs of CPU a record.
# The links are asked by an uncorrelated subquery, run once: photo and photo_enterprise are distributed on
# different columns (docs/scaling.md), and Citus plans such a subquery on its own shard, not a correlated one.
_LOOK = text("""
    SELECT l.sha256, p.received_at IS NOT NULL, l.month IS NOT NULL AND p.sha256 IS NOT NULL
               AND (p.named_month IS NULL OR p.named_month < l.month)
               AND coalesce(p.received_at, '-infinity') < l.month_start,
           coalesce(p.enterprise_id = :enterprise_id, false)
               OR l.sha256 IN (SELECT pe.sha256 FROM photo_enterprise AS pe
                               WHERE pe.enterprise_id = :enterprise_id AND pe.sha256 = ANY(CAST(:sha256 AS text[])))
    FROM (SELECT n.sha256, n.month, s.month_start
          FROM unnest(CAST(:sha256 AS text[]), CAST(:month AS date[])) AS n(sha256, month)
          LEFT JOIN unnest(CAST(:months AS date[]), CAST(:month_starts AS timestamptz[])) AS s(month, month_start)
            ON s.month = n.month) AS l
    LEFT JOIN photo AS p ON p.sha256 = l.sha256
    WHERE p.received_at IS NULL
       OR (l.month IS NOT NULL AND (p.named_month IS NULL OR p.named_month < l.month) AND p.received_at < l.month_start)
       OR NOT (p.enterprise_id = :enterprise_id
               OR l.sha256 IN (SELECT pe.sha256 FROM photo_enterprise AS pe
                               WHERE pe.enterprise_id = :enterprise_id AND pe.sha256 = ANY(CAST(:sha256 AS text[]))))
""")
# The look's test again, under the row's lock. Locked in hash order, as every other statement here takes photo
# rows. A photo the retention purge removed meanwhile is not returned, nor one another batch named later
# meanwhile: both are looked at again.
_NAME = text("""
    UPDATE photo SET named_month = named.month
    FROM (SELECT p.sha256, u.month FROM photo AS p
          JOIN unnest(CAST(:sha256 AS text[]), CAST(:month AS date[])) AS u(sha256, month) ON u.sha256 = p.sha256
          JOIN unnest(CAST(:months AS date[]), CAST(:month_starts AS timestamptz[])) AS s(month, month_start)
            ON s.month = u.month
          WHERE (p.named_month IS NULL OR p.named_month < u.month)
            AND coalesce(p.received_at, '-infinity') < s.month_start
          ORDER BY p.sha256 FOR UPDATE OF p) AS named
    WHERE photo.sha256 = named.sha256
    RETURNING photo.sha256, photo.received_at IS NOT NULL
""")
# A correction moved records to a later month: the photos their earlier versions name go with them.
_NAME_BY_VERSIONS = text("""
    UPDATE photo SET named_month = :month
    FROM (SELECT p.sha256 FROM photo AS p
          WHERE p.sha256 IN (SELECT substr(ref, 8) FROM movement_version AS v,
                                    unnest(ARRAY[v.pass_photo, v.list_photo, v.license_photo]) AS ref
                             WHERE v.enterprise_id = :enterprise_id AND v.record_id = ANY(CAST(:keys AS text[]))
                               AND ref LIKE 'sha256:%')
            AND (p.named_month IS NULL OR p.named_month < :month)
          ORDER BY p.sha256 FOR UPDATE) AS named
    WHERE photo.sha256 = named.sha256
""")
# FOR SHARE waits for an arrival filling the row right now, then reads the filled version.
_STILL_MISSING = text("""
    SELECT sha256 FROM photo WHERE sha256 = ANY(CAST(:sha256 AS text[])) AND received_at IS NULL
    ORDER BY sha256 FOR SHARE
""")
# Every record kind that names photos keeps those not yet received in missing_photos; the kind's day
# column (if it has one) tells which day's figures a resolved record changes.
_RESOLVE = [
    text(f"""
        UPDATE {kind.table.name}
        SET missing_photos = ARRAY(SELECT m FROM unnest(missing_photos) AS m
                                   WHERE m <> ALL(CAST(:sha256 AS text[])))
        WHERE cardinality(missing_photos) > 0 AND missing_photos && CAST(:sha256 AS text[])
        RETURNING enterprise_id, {kind.day_column or "NULL::date"}
    """)
    for kind in KINDS.values() if kind.photo_fields
]


async def store(session: AsyncSession, *, enterprise_id: int,
                photos: Sequence[tuple[str, str, int]]) -> set[str]:
    """Record (sha256, content_type, size) photos not held yet as arrived; returns the hashes new now."""
    if not photos:
        return set()
    result = await run_sql(session, _STORE, {
        "enterprise_id": enterprise_id,
        "sha256": [p[0] for p in photos],
        "content_type": [p[1] for p in photos],
        "size": [p[2] for p in photos],
    })
    return set(result.scalars())


async def resolve_waiting_records(session: AsyncSession, sha256s: Iterable[str]) -> set[tuple[int, date]]:
    """Take newly stored photos off every record waiting for them; returns the movement days that changed."""
    hashes = sorted(set(sha256s))
    days: set[tuple[int, date]] = set()
    if not hashes:
        return days
    for statement in _RESOLVE:
        for enterprise_id, day in (await run_sql(session, statement, {"sha256": hashes})).all():
            if day is not None:
                days.add((enterprise_id, day))
    return days


async def name_by_versions(session: AsyncSession, *, enterprise_id: int, record_ids: Sequence[str],
                           month: date) -> None:
    await run_sql(session, _NAME_BY_VERSIONS, {"enterprise_id": enterprise_id, "keys": list(record_ids),
                                               "month": month})


@dataclass
class Looked:
    missing: set[str] = field(default_factory=set)  # not arrived: held as placeholders until they do
    linked: set[str] = field(default_factory=set)  # linked to the enterprise already (it uploaded them, say)


async def name_and_find_missing(session: AsyncSession, *, enterprise_id: int, sha256s: Iterable[str],
                                inline: Iterable[str], months: dict[str, date]) -> Looked:
    """For the photos a batch names (`sha256s`) and carries (`inline`, stored by it just now): note the month
    of the latest movement naming each photo in `months`, and say which have not arrived and which are linked
    to this enterprise already."""
    inline = set(inline)
    wanted = set(sha256s) - inline
    every = wanted | inline | months.keys()
    looked = sorted(every)
    answer = Looked()
    if not looked:
        return answer

    starts = {month: partitions.month_start(month) for month in set(months.values())}
    naming = [months.get(sha256) for sha256 in looked]
    rows = (await run_sql(session, _LOOK, {"sha256": looked, "enterprise_id": enterprise_id, "month": naming,
                                           "months": list(starts), "month_starts": list(starts.values())})).all()
    # A photo not returned is held, named already in a month as late, and linked.
    answer.linked = every - {sha256 for sha256, _, _, linked in rows if not linked}
    held = every - {sha256 for sha256, received, to_be_named, _ in rows if not received or to_be_named}
    to_name = [sha256 for sha256, _, to_be_named, _ in rows if to_be_named]
    if to_name:
        named = await run_sql(session, _NAME, {"sha256": to_name, "month": [months[h] for h in to_name],
                                               "months": list(starts), "month_starts": list(starts.values())})
        done = {sha256: received for sha256, received in named.all()}
        held |= {sha256 for sha256, received in done.items() if received}
        # Gone meanwhile, or named later by another batch: a statement started after the lock waits tells.
        again = [sha256 for sha256 in to_name if sha256 not in done]
        if again:
            held |= set((await run_sql(session, _HELD, {"sha256": again})).scalars())
    absent = sorted(wanted - held)
    if not absent:
        return answer
    # Placeholders this transaction created are missing for sure: an arrival waits for our commit.
    answer.missing = set((await run_sql(session, _PLACEHOLD, {"enterprise_id": enterprise_id, "sha256": absent,
                                                               "month": [months.get(h) for h in absent]}))
                         .scalars())
    existing = [sha256 for sha256 in absent if sha256 not in answer.missing]
    if existing:
        answer.missing |= set((await run_sql(session, _STILL_MISSING, {"sha256": existing})).scalars())
    return answer


_LINK = text("""
    INSERT INTO photo_enterprise (sha256, enterprise_id)
    SELECT h, :enterprise_id FROM unnest(CAST(:sha256 AS text[])) AS h ORDER BY h
    ON CONFLICT DO NOTHING
""")


async def link(session: AsyncSession, *, enterprise_id: int, sha256s: Iterable[str]) -> None:
    """Record that this enterprise uploaded or named these photos: its bureau may read them."""
    hashes = sorted(set(sha256s))
    if hashes:
        await run_sql(session, _LINK, {"enterprise_id": enterprise_id, "sha256": hashes})


_GET = text("""
    SELECT p.content_type, EXISTS (
        SELECT 1 FROM photo_enterprise AS pe JOIN enterprise AS e ON e.id = pe.enterprise_id
        WHERE pe.sha256 = p.sha256 AND starts_with(e.region_code, :region_prefix))
    FROM photo AS p WHERE p.sha256 = :sha256 AND p.received_at IS NOT NULL
""")


async def get(session: AsyncSession, sha256: str, *, region_prefix: str) -> tuple[str, bool] | None:
    """(content type, whether an enterprise in the region uploaded or named it) of a received photo."""
    row = (await run_sql(session, _GET, {"sha256": sha256, "region_prefix": region_prefix})).first()
    return None if row is None else (row[0], row[1])
