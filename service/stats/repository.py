"""SQL for the day aggregates, the dirty-day markers and the manifests."""

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run_sql
from service.ingest.models import HEAVY


def marking(when: str = "TRUE") -> str:
    """The statement marking the days of dirty_days() dirty when `when` holds, in their order (two markings
    lock the days they share in the same order). Also a step of ingest's insert (ingest/repository.py).

    DO UPDATE, not DO NOTHING: the marker row stays locked until the marking transaction commits,
    so a reader claiming it (below) waits, and then recounts with that transaction's records in view."""
    return f"""
    INSERT INTO stat_dirty (enterprise_id, pass_date, marked_at)
    SELECT e, d, :now FROM unnest(CAST(:e AS integer[]), CAST(:d AS date[])) AS dirty(e, d) WHERE {when}
    ORDER BY e, d
    ON CONFLICT (enterprise_id, pass_date) DO UPDATE SET marked_at = EXCLUDED.marked_at"""


_MARK = text(marking())
_CLAIM = text("""
    DELETE FROM stat_dirty
    WHERE enterprise_id = ANY(CAST(:e AS integer[])) AND pass_date BETWEEN :start AND :end
    RETURNING enterprise_id, pass_date
""")
_FORGET = text("""
    DELETE FROM movement_day_stat AS s USING unnest(CAST(:e AS integer[]), CAST(:d AS date[])) AS c(e, d)
    WHERE s.enterprise_id = c.e AND s.pass_date = c.d
""")
# An entry is paired when the same plate's next exit comes within 24 hours, which may be on the
# next day: the rows of day + 1 are read for the window but only the claimed days are counted.
_RECOUNT = text(f"""
    WITH claimed AS (
        SELECT e AS enterprise_id, d AS pass_date FROM unnest(CAST(:e AS integer[]), CAST(:d AS date[])) AS c(e, d)
    ), span AS (
        SELECT DISTINCT enterprise_id, day FROM claimed, LATERAL (VALUES (pass_date), (pass_date + 1)) AS v(day)
    ), passes AS (
        SELECT m.enterprise_id, m.pass_date, m.gate_no, m.barrier_no, m.direction, m.emission_standard,
               m.vehicle_type, m.goods_amount, m.complete, m.late, m.reupload, m.seq,
               m.direction = '1' AND coalesce(
                   min(m.pass_time) FILTER (WHERE m.direction = '2') OVER (
                       PARTITION BY m.enterprise_id, m.plate_no ORDER BY m.pass_time, m.id
                       ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
                   <= m.pass_time + interval '24 hours', false) AS paired
        FROM movement AS m JOIN span AS s ON m.enterprise_id = s.enterprise_id AND m.pass_date = s.day
    )
    INSERT INTO movement_day_stat (enterprise_id, pass_date, gate_no, barrier_no, direction, emission_standard,
                                   heavy, records, complete, late, reupload, paired_entries, tonnes,
                                   seq_min, seq_max)
    SELECT p.enterprise_id, p.pass_date, p.gate_no, p.barrier_no, p.direction, coalesce(p.emission_standard, 'X'),
           {HEAVY},
           count(*), count(*) FILTER (WHERE p.complete), count(*) FILTER (WHERE p.late),
           count(*) FILTER (WHERE p.reupload), count(*) FILTER (WHERE p.paired), coalesce(sum(p.goods_amount), 0),
           min(p.seq), max(p.seq)
    FROM passes AS p JOIN claimed AS c ON p.enterprise_id = c.enterprise_id AND p.pass_date = c.pass_date
    GROUP BY 1, 2, 3, 4, 5, 6, 7
""")
_BARRIER_DAYS = text("""
    SELECT enterprise_id, pass_date, gate_no, barrier_no, sum(records)::int, sum(complete)::int, sum(late)::int,
           sum(reupload)::int, (sum(records) FILTER (WHERE direction = '1'))::int, sum(paired_entries)::int,
           min(seq_min), max(seq_max)
    FROM movement_day_stat
    WHERE enterprise_id = ANY(CAST(:e AS integer[])) AND pass_date BETWEEN :start AND :end
    GROUP BY 1, 2, 3, 4
""")
_MIX = text("""
    SELECT enterprise_id, direction, emission_standard, heavy, sum(records)::int, sum(tonnes)
    FROM movement_day_stat
    WHERE enterprise_id = ANY(CAST(:e AS integer[])) AND pass_date BETWEEN :start AND :end
    GROUP BY 1, 2, 3, 4
""")
_MANIFESTS = text("""
    SELECT enterprise_id, manifest_date, gate_no, barrier_no, declared_count FROM manifest
    WHERE enterprise_id = ANY(CAST(:e AS integer[])) AND manifest_date BETWEEN :start AND :end
""")
# Record ids travel comma-joined (they cannot hold a comma), since PostgreSQL has no ragged arrays.
_UPSERT_MANIFEST = text("""
    INSERT INTO manifest (enterprise_id, manifest_date, gate_no, barrier_no, declared_count, record_ids, received_at)
    SELECT :e, :day, g, b, c, coalesce(string_to_array(NULLIF(r, ''), ','), '{}'), :now
    FROM unnest(CAST(:gates AS text[]), CAST(:barriers AS text[]), CAST(:counts AS integer[]),
                CAST(:ids AS text[])) AS u(g, b, c, r)
    ON CONFLICT (enterprise_id, manifest_date, gate_no, barrier_no) DO UPDATE
        SET declared_count = EXCLUDED.declared_count, record_ids = EXCLUDED.record_ids,
            received_at = EXCLUDED.received_at
""")
_MISSING_IDS = text("""
    SELECT m.gate_no, m.barrier_no, r.record_id
    FROM manifest AS m CROSS JOIN LATERAL unnest(m.record_ids) AS r(record_id)
    WHERE m.enterprise_id = :e AND m.manifest_date = :day
      AND NOT EXISTS (SELECT 1 FROM movement AS v WHERE v.enterprise_id = :e AND v.record_id = r.record_id)
    ORDER BY 1, 2, 3
    LIMIT :cap
""")
_SEQ_GAPS = text("""
    WITH seqs AS (
        SELECT gate_no, barrier_no, seq, lead(seq) OVER (PARTITION BY gate_no, barrier_no ORDER BY seq) AS next_seq
        FROM movement WHERE enterprise_id = :e AND pass_date = :day AND seq IS NOT NULL
    )
    SELECT gate_no, barrier_no, seq + 1, next_seq - 1 FROM seqs WHERE next_seq > seq + 1
    ORDER BY 1, 2, 3
    LIMIT :cap
""")
_VOLUMES = text("""
    SELECT enterprise_id, mode, sum(tonnes) FROM clean_transport_volume
    WHERE enterprise_id = ANY(CAST(:e AS integer[])) AND volume_date BETWEEN :start AND :end
    GROUP BY 1, 2
""")
_LEDGER_MIX = {
    table: text(f"""
        SELECT coalesce(emission_standard, 'X'), count(*)::int FROM {table}
        WHERE enterprise_id = :e AND active GROUP BY 1
    """)
    for table in ("inplant_vehicle", "nonroad_machinery")
}


def dirty_days(pairs: Iterable[tuple[int, date]]) -> dict[str, list[Any]]:
    """These (enterprise, day) pairs as the parameters of marking() and the statements below."""
    ordered = sorted(set(pairs))
    return {"e": [p[0] for p in ordered], "d": [p[1] for p in ordered]}


async def mark_dirty(session: AsyncSession, pairs: Iterable[tuple[int, date]], now: datetime) -> None:
    params = dirty_days(pairs)
    if params["e"]:
        await run_sql(session, _MARK, {**params, "now": now})


async def refresh(session: AsyncSession, *, enterprise_ids: Sequence[int], start: date, end: date) -> int:
    """Recount the dirty days of these enterprises in [start, end]; returns how many days were recounted."""
    claimed = (await run_sql(session, _CLAIM, {"e": list(enterprise_ids), "start": start, "end": end})).all()
    if not claimed:
        return 0
    params = dirty_days((row[0], row[1]) for row in claimed)
    await run_sql(session, _FORGET, params)
    await run_sql(session, _RECOUNT, params)
    return len(claimed)


async def barrier_days(session: AsyncSession, *, enterprise_ids: Sequence[int], start: date,
                       end: date) -> Sequence[Any]:
    params = {"e": list(enterprise_ids), "start": start, "end": end}
    return (await run_sql(session, _BARRIER_DAYS, params)).all()


async def trip_mix(session: AsyncSession, *, enterprise_ids: Sequence[int], start: date, end: date) -> Sequence[Any]:
    return (await run_sql(session, _MIX, {"e": list(enterprise_ids), "start": start, "end": end})).all()


async def manifests(session: AsyncSession, *, enterprise_ids: Sequence[int], start: date, end: date) -> Sequence[Any]:
    return (await run_sql(session, _MANIFESTS, {"e": list(enterprise_ids), "start": start, "end": end})).all()


async def save_manifest(session: AsyncSession, *, enterprise_id: int, day: date,
                        barriers: Sequence[tuple[str, str, int, list[str]]], now: datetime) -> None:
    await run_sql(session, _UPSERT_MANIFEST, {
        "e": enterprise_id, "day": day, "now": now,
        "gates": [b[0] for b in barriers], "barriers": [b[1] for b in barriers],
        "counts": [b[2] for b in barriers], "ids": [",".join(b[3]) for b in barriers]})


async def missing_record_ids(session: AsyncSession, *, enterprise_id: int, day: date, cap: int) -> Sequence[Any]:
    return (await run_sql(session, _MISSING_IDS, {"e": enterprise_id, "day": day, "cap": cap})).all()


async def seq_gaps(session: AsyncSession, *, enterprise_id: int, day: date, cap: int) -> Sequence[Any]:
    return (await run_sql(session, _SEQ_GAPS, {"e": enterprise_id, "day": day, "cap": cap})).all()


async def volumes(session: AsyncSession, *, enterprise_ids: Sequence[int], start: date, end: date) -> Sequence[Any]:
    return (await run_sql(session, _VOLUMES, {"e": list(enterprise_ids), "start": start, "end": end})).all()


async def ledger_mix(session: AsyncSession, *, table: str, enterprise_id: int) -> dict[str, int]:
    return {row[0]: row[1] for row in (await run_sql(session, _LEDGER_MIX[table], {"e": enterprise_id})).all()}


_NONROAD_AGES = text("""
    SELECT coalesce(emission_standard, 'X'), production_date, count(*)::int FROM nonroad_machinery
    WHERE enterprise_id = :e AND active GROUP BY 1, 2
""")


async def nonroad_ages(session: AsyncSession, *, enterprise_id: int) -> list[tuple[str, date | None, int]]:
    """Machines in service by (stage, production date): what the grading rules on new and aged machinery need."""
    return [(row[0], row[1], row[2]) for row in (await run_sql(session, _NONROAD_AGES, {"e": enterprise_id})).all()]


_HEAVY_ENTRIES = text("""
    SELECT enterprise_id, pass_date, sum(records)::int FROM movement_day_stat
    WHERE enterprise_id = ANY(CAST(:e AS integer[])) AND pass_date BETWEEN :start AND :end AND heavy
      AND direction = '1' AND (CAST(:days AS date[]) IS NULL OR pass_date = ANY(CAST(:days AS date[])))
    GROUP BY 1, 2
""")


async def heavy_entries_by_enterprise_day(session: AsyncSession, *, enterprise_ids: Sequence[int], start: date,
                                          end: date, days: Sequence[date] | None = None) -> dict[int, dict[date, int]]:
    """Heavy-truck entries (direction 1) per enterprise and Beijing day in [start, end] (only `days` when
    given), from the day aggregates (recounted where dirty)."""
    await refresh(session, enterprise_ids=enterprise_ids, start=start, end=end)
    found: dict[int, dict[date, int]] = {}
    params = {"e": list(enterprise_ids), "start": start, "end": end, "days": list(days) if days is not None else None}
    for enterprise_id, day, count in (await run_sql(session, _HEAVY_ENTRIES, params)).all():
        found.setdefault(enterprise_id, {})[day] = count
    return found
