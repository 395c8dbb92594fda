"""What the audit log adds to a bureau read, measured in one run.

    python -m loadtests.audit_overhead [--requests 3000] [--rows 20000]

Starts a fresh embedded PostgreSQL, loads `--rows` movements of one plant, then times
GET /api/v1/movements?enterpriseCode=…&limit=50 in-process (the same app, the same database) in
alternating rounds with the audit entry written and with the audit middleware passed through, so
machine noise falls on both alike. The entries' writing (batched, off the request's path) is inside
the measured time: it shares the one event loop with the reads. Prints p50/p95 of each and the
ratio of the p95s (target <= 1.10).
"""

import argparse
import asyncio
import statistics
import time

import httpx
import orjson

from loadtests.generator import RecordGenerator
from loadtests.throughput import benchmark_store, percentile, register
from service.app import create_app
from service.audit.middleware import AuditMiddleware
from service.config import Settings


async def staff_token(dsn: str) -> str:
    from datetime import UTC, datetime

    from service.auth.service import add_staff
    from service.db import create_engine, create_sessionmaker

    engine = create_engine(Settings(database_url=dsn))
    async with create_sessionmaker(engine)() as session:
        issued = await add_staff(session, name="基准", role="viewer", region_prefix="13", now=datetime.now(UTC))
        await session.commit()
    await engine.dispose()
    return issued.secret


async def main_async(args: argparse.Namespace, dsn: str) -> None:
    (_, code, key), = await register(dsn, 1)
    token = await staff_token(dsn)
    app = create_app(Settings(database_url=dsn, rate_limit_per_second=0))
    original = AuditMiddleware.__call__
    audited = {"on": True}

    async def switchable(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if audited["on"]:
            await original(self, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    AuditMiddleware.__call__ = switchable  # type: ignore[method-assign]
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        generator = RecordGenerator(seed=5, enterprise_code=code)
        for _ in range(args.rows // 500):
            response = await client.post("/api/v1/movements", content=orjson.dumps(generator.batch(500)),
                                         headers={"Authorization": f"Bearer {key}",
                                                  "Content-Type": "application/json"})
            assert response.status_code == 200
        headers = {"Authorization": f"Bearer {token}"}
        params = {"enterpriseCode": code, "limit": 50}
        timings: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(200):  # warm-up
            await client.get("/api/v1/movements", params=params, headers=headers)
        rounds = 20
        for round_number in range(rounds * 2):
            audited["on"] = round_number % 2 == 0
            for _ in range(args.requests // rounds // 2):
                started = time.perf_counter()
                response = await client.get("/api/v1/movements", params=params, headers=headers)
                timings[audited["on"]].append(time.perf_counter() - started)
                assert response.status_code == 200
    AuditMiddleware.__call__ = original  # type: ignore[method-assign]
    for on in (False, True):
        values = timings[on]
        print(f"{'with audit   ' if on else 'without audit'}: {len(values)} reads, p50 "
              f"{percentile(values, 0.5) * 1000:.2f} ms, p95 {percentile(values, 0.95) * 1000:.2f} ms, "
              f"mean {statistics.mean(values) * 1000:.2f} ms")
    ratio = percentile(timings[True], 0.95) / percentile(timings[False], 0.95)
    print(f"p95 with audit / without: {ratio:.3f} (target <= 1.10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    _, dsn = benchmark_store("hj1321-audit-")
    asyncio.run(main_async(args, dsn))


if __name__ == "__main__":
    main()
