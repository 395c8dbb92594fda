"""Findings benchmark: a province-wide 3-day alert over millions of stored movements.

    python -m loadtests.emergency_benchmark [--rows 10000000] [--enterprises 2000] [--days 92]

1. A fresh embedded PostgreSQL, migrated, loaded as loadtests/stats_benchmark.py loads it (synthetic
   movements of `--enterprises` plants in province 13 over the last `--days` days; a quarter of the
   trucks 国四 or worse or of unknown stage), the day aggregates counted once.
2. A tenth of the plants graded A, a tenth C, the rest B (by a hash of the id); a province-wide
   orange alert over three days a week ago, capping heavy entries at half; a hundred listed plates.
3. In-process against the same database: p50/p95 of GET /api/v1/emergency/violations (first page and
   summary, province-wide) and of the 核查 comparison of one plant. Bounded in count and time.
"""

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from loadtests.generator import BEIJING
from loadtests.stats_benchmark import load, timed_ms
from loadtests.throughput import benchmark_store, plain_dsn
from service.app import create_app
from service.config import Settings


async def prepare(dsn: str, start: datetime, end: datetime) -> tuple[list[str], int]:
    connection = await asyncpg.connect(plain_dsn(dsn))
    await connection.execute("""
        INSERT INTO enterprise_grade (enterprise_id, grade, valid_from, decided_at, decided_by)
        SELECT id, CASE abs(hashtext(id::text)) % 10 WHEN 0 THEN 'A' WHEN 1 THEN 'C' ELSE 'B' END, '2020-01-01',
               now(), 'bench'
        FROM enterprise""")  # hashed: the synthetic stages follow the plant id, the grades must not
    alert_id = await connection.fetchval("""
        INSERT INTO emergency_alert (region_code, level, starts_at, ends_at, max_heavy_entry_ratio, note, created_at,
                                     created_by)
        VALUES ('13', 'orange', $1, $2, 0.5, 'benchmark', now(), 'bench') RETURNING id""", start, end)
    await connection.execute("""
        INSERT INTO watchlist_entry (region_prefix, plate_no, plate_color, reason, listed_at, change_seq, changed_at,
                                     changed_by)
        SELECT '13', '冀B' || lpad((g * 997 % 99991)::text, 5, '0'), '1', '5', $1, nextval('watchlist_change_seq'),
               now(), 'bench'
        FROM generate_series(1, 100) AS g ON CONFLICT DO NOTHING""", start - timedelta(days=30))
    codes = [row[0] for row in await connection.fetch("SELECT code FROM enterprise ORDER BY id")]
    await connection.execute("ANALYZE")
    await connection.close()
    return codes, alert_id


async def loaded(dsn: str) -> tuple[list[str], int] | None:
    """The plants and the alert of an earlier run on the same --workdir, if it got that far."""
    connection = await asyncpg.connect(plain_dsn(dsn))
    try:
        alert_id = await connection.fetchval("SELECT max(id) FROM emergency_alert WHERE note = 'benchmark'")
        codes = [row[0] for row in await connection.fetch("SELECT code FROM enterprise ORDER BY id")]
    finally:
        await connection.close()
    return (codes, alert_id) if alert_id is not None else None


async def main_async(args: argparse.Namespace, dsn: str) -> None:
    today = datetime.now(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    earlier = await loaded(dsn)
    if earlier is not None:
        # Reusing a loaded database: the alert keeps the dates it was given then.
        codes, alert_id = earlier
        connection = await asyncpg.connect(plain_dsn(dsn))
        start, end = await connection.fetchrow("SELECT starts_at, ends_at FROM emergency_alert WHERE id = $1", alert_id)
        await connection.close()
        start, end = start.astimezone(BEIJING), end.astimezone(BEIJING)
        print(f"reusing the database loaded earlier ({len(codes)} plants)")
    else:
        print(f"loading {args.rows:,} movements of {args.enterprises} plants over {args.days} days")
        await load(dsn, args.rows, args.enterprises, args.days)
        start, end = today - timedelta(days=8), today - timedelta(days=5)
        codes, alert_id = await prepare(dsn, start, end)
    app = create_app(Settings(database_url=dsn, db_statement_timeout_seconds=600))
    from service.auth.service import add_staff
    from service.db import create_sessionmaker

    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600) as client:
        async with create_sessionmaker(app.state.engine)() as session:
            issued = await add_staff(session, name="基准", role="viewer", region_prefix="13", now=datetime.now(UTC))
            await session.commit()
        headers = {"Authorization": f"Bearer {issued.secret}"}
        if earlier is None:
            counting = time.perf_counter()
            for offset in range(args.days + 2):  # the day aggregates, counted once as ingest would have kept them
                day = (today - timedelta(days=offset)).date().isoformat()
                (await client.get("/api/v1/reports/daily", params={"date": day}, headers=headers)).raise_for_status()
            print(f"  day aggregates counted once ({time.perf_counter() - counting:.0f} s)")
        window = {"from": start.date().isoformat(), "to": (end - timedelta(seconds=1)).date().isoformat()}

        async def sample(path: str, params: dict[str, object]) -> float:
            began = time.perf_counter()
            response = await client.get(path, params=params, headers=headers)
            response.raise_for_status()
            return time.perf_counter() - began

        first = await client.get("/api/v1/emergency/violations", params={**window, "limit": 100}, headers=headers)
        answer = first.json()
        print(f"  {len(answer['summary'])} summary rows, "
              f"{sum(r['violations'] for r in answer['summary']):,} violating movements, "
              f"{sum(r['inScope'] for r in answer['summary']):,} movements in scope")
        violations = [await sample("/api/v1/emergency/violations", {**window, "limit": 100})
                      for _ in range(args.calls)]
        rng = random.Random(3)
        comparison = [await sample(f"/api/v1/enterprises/{rng.choice(codes)}/emergency", {"alertId": alert_id})
                      for _ in range(args.calls * 5)]
    print(f"violations, province-wide 3-day alert, first page + summary: {timed_ms(violations)}  (target < 1 s)")
    print(f"核查 comparison, one plant:                                    {timed_ms(comparison)}  (target < 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the database here and reuse it on the next run "
                             "(default: a temporary one, removed at exit)")
    args = parser.parse_args()
    _, dsn = benchmark_store("hj1321-emergency-", args.workdir)
    asyncio.run(main_async(args, dsn))


if __name__ == "__main__":
    main()
