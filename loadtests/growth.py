"""Growth benchmark: does ingest and do the figures cost the same at 50 million stored movements as at none?

    python -m loadtests.growth [--stages 0,10000000,50000000] [--enterprises 2000] [--months 24]
                               [--workdir DIR]

1. A fresh embedded PostgreSQL (or the one of an earlier run in --workdir), migrated; `enterprises`
   synthetic plants, and 20 more that post through the service, in a district of their own. Each of the 20
   is given, by SQL, the 35 days before today at the density the last stage gives every plant.
2. At each stage the store is filled by SQL up to the stage's size: movements spread evenly over the
   synthetic plants and the last `months` months (each month its partitions), their keys, one in a hundred
   corrected (an earlier version each), and every (plant, day) counted into the day aggregates by the
   service's own reads.
3. Then, through `hj1321 serve` (2 workers): 500-record batches of live passes from the 20 plants by
   4 concurrent clients (records/s; ten batches a plant, about five seconds; and, a record, the WAL bytes
   written, full-page images among them, and blocks PostgreSQL read from outside its shared buffers: where a
   larger store makes each record dearer); single-record posts at 100/s
   (p50/p99); and two sets of figures (p95 each): the clean-transport and completeness figures of one plant
   over 31 days, the daily report, and a page of a plant's movements,
   - of the synthetic plants (the daily report: of every plant). These read more at every stage: at the
     first, a plant has no movements and the report adds up empty plants;
   - of the 20 plants (the daily report: of their district). These read the same rows at every stage,
     while the store around them grows: what the growth of the store alone costs.
Prints one line per stage and the ratios of the last stage to the first. Each stage also prints how much
of its measuring time some task on the machine waited for the disk or for a core (Linux pressure stall
information, the service's own reads from disk included): on a shared machine, what the figures were
measured against; and how the ingest's 4 client connections spread over the 2 workers: the kernel decides
by their addresses, and all four on one worker cost the throughput benchmark a fifth, so the client opens
them until they spread evenly. Bounded in count
and time; loopback only. 50 million movements need about 30 GB of disk.
"""

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from loadtests.generator import BEIJING, RecordGenerator
from loadtests.stats_benchmark import ENTERPRISES_SQL, count_everything, write_movements
from loadtests.throughput import (
    BATCH,
    benchmark_store,
    hold_photos,
    machine,
    make_months,
    percentile,
    plain_dsn,
    register,
    run_service,
    run_single_records,
    served,
    settle,
)

PROJECT = Path(__file__).resolve().parent.parent
POSTING_PLANTS = 20
POSTING_DISTRICT = "130281"  # 迁安: none of the synthetic plants is there
POSTING_HISTORY_DAYS = 35

# One in a hundred movements corrected once: its first version kept, the row now version 2.
_CORRECTED = """
    WITH v AS (
        INSERT INTO movement_version (record_pass_date, movement_id, record_id, gate_no, barrier_no, direction,
            pass_time, pass_date, plate_no, plate_color, vehicle_type, emission_standard, goods_name, goods_amount,
            reupload, late, enterprise_id, version, content_hash, received_at, first_received_at, warnings,
            missing_fields, missing_photos)
        SELECT pass_date, id, record_id, gate_no, barrier_no, direction, pass_time, pass_date, plate_no, plate_color,
               vehicle_type, emission_standard, goods_name, goods_amount, reupload, late, enterprise_id, 1,
               content_hash, received_at, first_received_at, warnings, missing_fields, missing_photos
        FROM movement WHERE id BETWEEN $1 AND $2 AND id % 100 = 0
        RETURNING enterprise_id, record_id, record_pass_date)
    UPDATE movement AS m SET version = 2, content_hash = decode(md5(m.record_id || 'v2'), 'hex')
    FROM v WHERE m.enterprise_id = v.enterprise_id AND m.record_id = v.record_id AND m.pass_date = v.record_pass_date
"""


async def stored(dsn: str) -> int:
    connection = await asyncpg.connect(plain_dsn(dsn))
    try:
        return int(await connection.fetchval("SELECT count(*) FROM movement_key"))
    finally:
        await connection.close()


async def fill(dsn: str, target: int, enterprise_ids: list[int], days: int) -> None:
    connection = await asyncpg.connect(plain_dsn(dsn))
    try:
        # The synthetic records are B<n>; the posting plants' are H<n> (their history) or have letters and dashes.
        first = int(await connection.fetchval("SELECT coalesce(max(substr(record_id, 2)::bigint), 0) FROM movement_key "
                                              "WHERE record_id ~ '^B[0-9]+$'")) + 1
        have = int(await connection.fetchval("SELECT count(*) FROM movement_key WHERE record_id ~ '^B[0-9]+$'"))
        if have >= target:
            return
        end = datetime.now(UTC) - timedelta(days=2)
        await make_months(dsn, (end - timedelta(days=days + 1)).date(), end.date() + timedelta(days=1))
        last_id = int(await connection.fetchval("SELECT coalesce(max(id), 0) FROM movement"))
        started = time.perf_counter()
        await write_movements(connection, enterprise_ids, first, first + target - have - 1, end, days, started)
        await connection.execute(_CORRECTED, last_id + 1, 2**62)
        print(f"  one in a hundred corrected ({time.perf_counter() - started:.0f} s)", flush=True)
        await connection.execute("VACUUM ANALYZE")
        await connection.execute("""
            INSERT INTO stat_dirty (enterprise_id, pass_date, marked_at)
            SELECT e.id, d::date, now() FROM enterprise AS e,
                   generate_series(CAST($1 AS date), CAST($2 AS date), interval '1 day') AS d
            ON CONFLICT DO NOTHING""", (end - timedelta(days=days + 1)).date(), end.date() + timedelta(days=1))
    finally:
        await connection.close()


async def give_history(dsn: str, posting: list[tuple[int, str, str]], per_day: int) -> None:
    """The days before today of each posting plant, `per_day` movements a day, its days marked to be counted."""
    connection = await asyncpg.connect(plain_dsn(dsn))
    try:
        end = datetime.now(UTC) - timedelta(hours=1)
        # A day on either side: the months are Beijing's, the dates here UTC's.
        await make_months(dsn, (end - timedelta(days=POSTING_HISTORY_DAYS + 1)).date(), end.date() + timedelta(days=1))
        ids = [enterprise_id for enterprise_id, _, _ in posting]
        await write_movements(connection, ids, 1, per_day * POSTING_HISTORY_DAYS * len(ids), end,
                              POSTING_HISTORY_DAYS, time.perf_counter(), prefix="H")
        await connection.execute("""
            INSERT INTO stat_dirty (enterprise_id, pass_date, marked_at)
            SELECT DISTINCT enterprise_id, pass_date, now() FROM movement_key WHERE enterprise_id = ANY($1::bigint[])
            ON CONFLICT DO NOTHING""", ids)
    finally:
        await connection.close()


def stalled_microseconds(resource: str) -> int | None:
    """How long, since boot, some task has waited for the resource (io, cpu), or None where the kernel does not
    say (Linux pressure stall information)."""
    try:
        some = Path(f"/proc/pressure/{resource}").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(some.rsplit("total=", 1)[1])


# Ten batches from each of the 20 posting plants: 100,000 records, about five seconds. With two each (one second)
# a single slow second on a shared machine decided the stage's ingest figure.
LIVE_BATCHES_PER_PLANT = 10

# The synthetic plants' codes: 9113 and their number padded with zeros (the posting plants' go on 0203 and letters).
SYNTHETIC = "code LIKE '91130000%'"


def live_batches(posting: list[tuple[int, str, str]], stage: int) -> list[tuple[str, dict[str, Any]]]:
    """New passes from each posting plant, with the key to post them with."""
    batches = []
    for index, (_, code, key) in enumerate(posting):
        generator = RecordGenerator(seed=stage * 100 + index, enterprise_code=code)
        batches += [(key, generator.batch(BATCH)) for _ in range(LIVE_BATCHES_PER_PLANT)]
    return batches


async def io_counters(dsn: str, since: dict[str, float] | None = None) -> dict[str, float]:
    """What PostgreSQL has written and read: WAL bytes, full-page images (a page's first change after a
    checkpoint logs the whole page) and blocks read from outside its shared buffers; `since`: the difference.
    Backends publish their counts within a second of going idle, hence the wait."""
    connection = await asyncpg.connect(plain_dsn(dsn))
    try:
        lsn = await connection.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        await asyncio.sleep(1.5 if since else 0)
        row = await connection.fetchrow("""
            SELECT (SELECT wal_fpi FROM pg_stat_wal) AS fpi,
                   (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()) AS reads""")
    finally:
        await connection.close()
    now = {"WAL bytes": float(lsn), "full-page images": float(row["fpi"]), "blocks read": float(row["reads"])}
    return {name: value - since[name] for name, value in now.items()} if since else now


async def measure(dsn: str, base: str, supervisor: int, headers: dict[str, str], codes: list[str],
                  posting: list[tuple[int, str, str]], batches: list[tuple[str, dict[str, Any]]],
                  stage: int) -> tuple[dict[str, float], str]:
    """The stage's figures, and how the ingest's 4 connections spread over the 2 workers (opened evenly; all on
    one cost the throughput benchmark about a fifth of its rate)."""
    bodies = [(key, orjson.dumps(body)) for key, body in batches]
    before = await io_counters(dsn)
    seconds, spread = await run_service(base, bodies, 4, supervisor)
    figures: dict[str, float] = {"ingest records/s": len(bodies) * BATCH / seconds}
    figures |= {f"ingest {name} a record": value / (len(bodies) * BATCH)
                for name, value in (await io_counters(dsn, since=before)).items()}
    singles = await run_single_records(base, posting, 100, 10, seed=10_000 * (stage + 1))
    figures["single p50 ms"] = percentile(singles, 0.5) * 1000
    figures["single p99 ms"] = percentile(singles, 0.99) * 1000

    today = datetime.now(BEIJING).date()
    # Ending three days back: a figure first recounts the changed days up to the day after its last, and every
    # live batch marks yesterday (its entries pair with today's exits). A window ending the day before
    # yesterday had the posting plants' figures recount yesterday with today's rows, which pile up from stage
    # to stage: what the benchmark posted, not what the store holds.
    window = {"from": (today - timedelta(days=33)).isoformat(), "to": (today - timedelta(days=3)).isoformat()}
    day = {"date": (today - timedelta(days=3)).isoformat()}
    rng = random.Random(stage)
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        async def p95(path: str, params: dict[str, str], calls: int, plants: list[str] | None = None) -> float:
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                code = rng.choice(plants) if plants else ""
                query = {**params, "enterpriseCode": code} if plants and "{code}" not in path else params
                response = await client.get(path.format(code=code), params=query, headers=headers)
                response.raise_for_status()
                samples.append(time.perf_counter() - started)
            return percentile(samples, 0.95) * 1000

        for name, plants, report in (("", codes, day),
                                     ("posting plants' ", [code for _, code, _ in posting],
                                      {**day, "regionCode": POSTING_DISTRICT})):
            figures[f"{name}clean-transport p95 ms"] = await p95("/api/v1/enterprises/{code}/clean-transport",
                                                                 window, 30, plants)
            figures[f"{name}completeness p95 ms"] = await p95("/api/v1/enterprises/{code}/completeness", window, 30,
                                                              plants)
            figures[f"{name}daily report p95 ms"] = await p95("/api/v1/reports/daily", report, 6)
            figures[f"{name}movements page p95 ms"] = await p95("/api/v1/movements", {"limit": "100"}, 30, plants)
    return figures, spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", default="0,10000000,50000000")
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--workdir", type=Path, help="keep the database here, and reuse it on the next run")
    args = parser.parse_args()
    stages = [int(s) for s in args.stages.split(",")]
    days = args.months * 30

    workdir, dsn = benchmark_store("hj1321-growth-", args.workdir)
    env = {**os.environ, "DATABASE_URL": plain_dsn(dsn), "PYTHONPATH": str(PROJECT)}

    async def plants() -> list[tuple[int, str]]:
        connection = await asyncpg.connect(plain_dsn(dsn))
        # Fresh when the database has no synthetic plants yet, however it was made (--workdir may hold a server
        # prepared with settings of its own).
        if not await connection.fetchval(f"SELECT count(*) FROM enterprise WHERE {SYNTHETIC}"):
            await connection.execute(ENTERPRISES_SQL, args.enterprises)
        found = [(row[0], row[1]) for row in await connection.fetch(
            f"SELECT id, code FROM enterprise WHERE {SYNTHETIC} ORDER BY id")]
        await connection.close()
        return found

    synthetic = asyncio.run(plants())
    codes = [code for _, code in synthetic]
    posting = asyncio.run(register(dsn, POSTING_PLANTS, region_code=POSTING_DISTRICT))
    staff = subprocess.run([sys.executable, "-m", "service.cli", "staff", "add", "--name", "bench", "--role",
                            "viewer"], env=env, capture_output=True, text=True, check=True).stdout.split()[-1]
    headers = {"Authorization": f"Bearer {staff}"}
    print(f"stages {stages}, {len(codes)} plants over {args.months} months, {machine()}", flush=True)
    per_day = max(1, round(max(stages) / len(codes) / days))
    print(f"the {POSTING_PLANTS} posting plants' {POSTING_HISTORY_DAYS} days before today, {per_day} movements a day "
          "each:", flush=True)
    asyncio.run(give_history(dsn, posting, per_day))

    results: list[tuple[int, dict[str, float]]] = []
    for stage in stages:
        started = time.perf_counter()
        asyncio.run(fill(dsn, stage, [enterprise_id for enterprise_id, _ in synthetic], days))
        with served(dsn, workdir, 2) as (process, base):
            asyncio.run(count_everything(base, headers, days + 3))
            asyncio.run(settle(dsn))
            batches = live_batches(posting, stage)
            asyncio.run(hold_photos(dsn, [body for _, body in batches]))
            before = {resource: stalled_microseconds(resource) for resource in ("io", "cpu")}
            measuring = time.perf_counter()
            figures, spread = asyncio.run(measure(dsn, base, process.pid, headers, codes, posting, batches, stage))
            for resource, since in before.items():
                now = stalled_microseconds(resource)
                if since is not None and now is not None:
                    figures[f"{resource} stalled %"] = (now - since) / 1e4 / (time.perf_counter() - measuring)
        count = asyncio.run(stored(dsn))
        results.append((count, figures))
        print(f"{count:>12,} stored (stage ready in {time.perf_counter() - started:.0f} s; ingest connections on "
              f"each worker {spread}): " + ", ".join(f"{name} {value:,.1f}" if value >= 10 else f"{name} {value:.3f}"
                                                     for name, value in figures.items()),
              flush=True)
    (first_count, first), (last_count, last) = results[0], results[-1]
    print(f"{last_count:,} against {first_count:,}: ingest {last['ingest records/s'] / first['ingest records/s']:.2f} "
          "(target >= 0.8); " + ", ".join(f"{name} {last[name] / first[name]:.2f}x" for name in first
                                          if name.endswith("ms")) + " (target p95s within 2x)")


if __name__ == "__main__":
    main()
