"""Statistics benchmark: figures over millions of stored movements, through the real HTTP endpoints.

    python -m loadtests.stats_benchmark [--rows 10000000] [--enterprises 2000] [--days 92]

1. A fresh embedded PostgreSQL, migrated; enterprises and synthetic movements written by SQL
   (generate_series), spread evenly over the enterprises and the last `days` days.
2. Every (enterprise, day) marked changed and counted once, as ingest would have kept them.
3. `hj1321 serve` in its own process; p50/p95 of the clean-transport and completeness endpoints
   (one enterprise over all the days) and of the daily report for every enterprise, also right
   after a backfill restates a day. Bounded in count and time; loopback only.
"""

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from loadtests.generator import BEIJING, RecordGenerator
from loadtests.throughput import benchmark_store, machine, make_months, plain_dsn, served

PROJECT = Path(__file__).resolve().parent.parent

ENTERPRISES_SQL = """
    INSERT INTO enterprise (code, name, region_code, industry)
    SELECT '9113' || lpad(g::text, 14, '0'), '基准企业' || g, '13' || lpad((g % 11 + 1)::text, 2, '0') || '03', 'steel'
    FROM generate_series(1, $1) AS g
"""
# Stages roughly as at Tangshan gates: 6 most, then NEV, 5, 4; one in fifty unknown.
_MOVEMENTS = """
    WITH m AS (INSERT INTO movement (enterprise_id, version, content_hash, received_at, first_received_at, warnings,
                          missing_fields, missing_photos, record_id, gate_no, barrier_no, direction, pass_time,
                          pass_date, plate_no, plate_color, vehicle_type, emission_standard, goods_name,
                          goods_amount, seq, reupload, late)
    SELECT e.id, 1, decode(md5($6 || g), 'hex'), t + interval '1 minute', t + interval '1 minute', '[]'::jsonb,
           '{}', '{}', $6 || g, '1', '0' || (g % 2 + 1), (g % 2 + 1)::text, t, (t AT TIME ZONE 'Asia/Shanghai')::date,
           '冀B' || lpad((g % 99991)::text, 5, '0'), '1',
           (ARRAY['Q11', 'Q11', 'H11', 'K33'])[g % 4 + 1],
           (ARRAY['6', '6', '6', '6', '6', 'D', 'D', '5', '5', '4',
                  '6', '6', '6', 'D', '5', '6', '6', 'D', '6', 'X'])[g % 20 + 1],
           '洗精煤', CASE WHEN g % 2 = 0 THEN round((25 + (g % 150) / 10.0)::numeric, 1) ELSE 0 END,
           NULL, false, false
    FROM generate_series($2::bigint, $3::bigint) AS g
    CROSS JOIN LATERAL (SELECT (CAST($1 AS bigint[]))[g % cardinality(CAST($1 AS bigint[])) + 1]) AS e(id)
    CROSS JOIN LATERAL (SELECT $4::timestamptz - make_interval(secs => (g * 7919) % ($5 * 86400))) AS p(t)
    RETURNING enterprise_id, record_id, pass_date)
    INSERT INTO movement_key (enterprise_id, record_id, pass_date) SELECT * FROM m
"""
_DIRTY_ALL = """
    INSERT INTO stat_dirty (enterprise_id, pass_date, marked_at)
    SELECT DISTINCT enterprise_id, pass_date, now() FROM movement ON CONFLICT DO NOTHING
"""


def timed_ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   ({len(ordered)} calls)"


async def write_movements(connection: asyncpg.Connection, enterprise_ids: Sequence[int], first: int, last: int,
                          end: datetime, days: int, started: float, prefix: str = "B") -> None:
    """Movements <prefix><first>..<prefix><last> and their keys, dealt out in turn to the enterprises and spread
    over the `days` before `end`, in transactions of a million (the partitions must exist)."""
    chunk = 1_000_000
    for low in range(first, last + 1, chunk):
        high = min(last, low + chunk - 1)
        await connection.execute(_MOVEMENTS, list(enterprise_ids), low, high, end, days, prefix)
        print(f"  {high:>11,} movements written ({time.perf_counter() - started:.0f} s)", flush=True)


async def load(dsn: str, rows: int, enterprises: int, days: int) -> None:
    connection = await asyncpg.connect(plain_dsn(dsn))
    await connection.execute(ENTERPRISES_SQL, enterprises)
    ids = [row[0] for row in await connection.fetch("SELECT id FROM enterprise ORDER BY id")]
    end = datetime.now(UTC) - timedelta(hours=1)
    await make_months(dsn, (end - timedelta(days=days + 1)).date(), end.date() + timedelta(days=1))
    started = time.perf_counter()
    await write_movements(connection, ids, 1, rows, end, days, started)
    await connection.execute("VACUUM ANALYZE movement")
    started = time.perf_counter()
    await connection.execute(_DIRTY_ALL)
    await connection.close()
    print(f"  every (enterprise, day) marked for counting ({time.perf_counter() - started:.0f} s)")


async def count_everything(base: str, headers: dict[str, str], days: int) -> None:
    """The first read of each enterprise's window counts its days; do it once for all, as ingest would have."""
    started = time.perf_counter()
    today = datetime.now(BEIJING).date()
    async with httpx.AsyncClient(base_url=base, timeout=3600) as client:
        response = await client.get("/api/v1/reports/daily", params={"date": today.isoformat()}, headers=headers)
        response.raise_for_status()
        for offset in range(1, days + 2):
            day = (today - timedelta(days=offset)).isoformat()
            (await client.get("/api/v1/reports/daily", params={"date": day}, headers=headers)).raise_for_status()
    print(f"  day aggregates counted from the raw movements once ({time.perf_counter() - started:.0f} s)")


async def measure(base: str, headers: dict[str, str], codes: list[str], days: int, calls: int,
                  gateway: tuple[str, str]) -> None:
    today = datetime.now(BEIJING).date()
    window = {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
    rng = random.Random(5)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        async def sample(path: str, params: dict[str, str]) -> float:
            started = time.perf_counter()
            response = await client.get(path, params=params, headers=headers)
            response.raise_for_status()
            return time.perf_counter() - started

        clean = [await sample(f"/api/v1/enterprises/{rng.choice(codes)}/clean-transport", window)
                 for _ in range(calls)]
        complete = [await sample(f"/api/v1/enterprises/{rng.choice(codes)}/completeness", window)
                    for _ in range(calls)]
        yesterday = (today - timedelta(days=1)).isoformat()
        report = [await sample("/api/v1/reports/daily", {"date": yesterday}) for _ in range(max(3, calls // 5))]
        print(f"clean-transport, 1 enterprise x {days} days:  {timed_ms(clean)}")
        print(f"completeness,    1 enterprise x {days} days:  {timed_ms(complete)}")
        print(f"daily report,    {len(codes)} enterprises x 1 day: {timed_ms(report)}")

        # A backfill restates a past day: the next read recounts that day from the raw records.
        code, key = gateway
        generator = RecordGenerator(seed=9, enterprise_code=code)
        restated = []
        for n in range(10):
            body = generator.backfill_batch(200, days_ago=3 + n)
            posted = await client.post("/api/v1/movements", json=body, headers={"Authorization": f"Bearer {key}"})
            posted.raise_for_status()
            restated.append(await sample(f"/api/v1/enterprises/{code}/completeness", window))
        print(f"completeness right after a 200-record backfill:  {timed_ms(restated)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()

    workdir, dsn = benchmark_store("hj1321-stats-")
    print(f"{args.rows:,} movements, {args.enterprises} enterprises, {args.days} days, {machine()}")
    asyncio.run(load(dsn, args.rows, args.enterprises, args.days))

    env = {**os.environ, "DATABASE_URL": plain_dsn(dsn), "PYTHONPATH": str(PROJECT)}
    staff = subprocess.run([sys.executable, "-m", "service.cli", "staff", "add", "--name", "bench", "--role",
                            "viewer"], env=env, capture_output=True, text=True, check=True).stdout.split()[-1]
    headers = {"Authorization": f"Bearer {staff}"}

    async def codes() -> list[str]:
        connection = await asyncpg.connect(plain_dsn(dsn))
        found = [row[0] for row in await connection.fetch("SELECT code FROM enterprise ORDER BY id")]
        await connection.close()
        return found

    enterprise_codes = asyncio.run(codes())
    key = subprocess.run([sys.executable, "-m", "service.cli", "enterprise", "key", "--code", enterprise_codes[0]],
                         env=env, capture_output=True, text=True, check=True).stdout.split()[-1]
    with served(dsn, workdir, 1) as (_, base):
        asyncio.run(count_everything(base, headers, args.days))
        asyncio.run(measure(base, headers, enterprise_codes, args.days, args.calls, (enterprise_codes[0], key)))
    print(f"(targets: p95 < 100 ms for one enterprise over {args.days} days, < 1 s for the daily report)")


if __name__ == "__main__":
    main()
