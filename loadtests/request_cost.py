"""What one request costs the service and PostgreSQL in CPU, by kind, measured in one run.

    python -m loadtests.request_cost [--requests 1500] [--rounds 2]

Starts a fresh embedded PostgreSQL and `hj1321 serve` (one worker, the per-plant rate limit off), then sends,
one after another on one connection, `--requests` of each kind, in alternating rounds so machine noise falls
on every kind alike:
- GET /healthz: no credential, no database; what every request pays to the server and the middleware;
- GET /api/v1/control-measures: a gateway's cheapest read (its key checked from the worker's cache, two small
  statements);
- POST /api/v1/movements with one record: a live pass.
Prints the CPU a request of each kind spent in the service's process and in PostgreSQL's. A one-record post
costs about what a small read does: the request, not the record, is most of a live pass's cost.
"""

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from loadtests.generator import RecordGenerator
from loadtests.throughput import (
    CpuMeter,
    benchmark_store,
    machine,
    make_months,
    postgres_meter,
    register,
    served,
)

Send = Callable[[], Coroutine[Any, Any, None]]


async def measure(base: str, code: str, key: str, service: CpuMeter, postgres: CpuMeter, requests: int,
                  rounds: int) -> None:
    generator = RecordGenerator(seed=1, enterprise_code=code)
    bodies = [orjson.dumps(generator.batch(1)) for _ in range((requests + 100) * rounds)]
    posted = 0
    gateway = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(base_url=base, connector=aiohttp.TCPConnector(limit=1)) as client:
        async def get(path: str, headers: dict[str, str]) -> None:
            async with client.get(path, headers=headers) as response:
                body = await response.read()
                if response.status != 200:
                    raise SystemExit(f"{path}: {response.status} {body[:300]!r}")

        async def post() -> None:
            nonlocal posted
            body, posted = bodies[posted], posted + 1
            async with client.post("/api/v1/movements", data=body,
                                   headers={**gateway, "Content-Type": "application/json"}) as response:
                answer = await response.read()
                if response.status != 200 or orjson.loads(answer)["accepted"] != 1:
                    raise SystemExit(f"post: {response.status} {answer[:300]!r}")

        async def health() -> None:
            await get("/healthz", {})

        async def control_measures() -> None:
            await get("/api/v1/control-measures", gateway)

        kinds: dict[str, Send] = {"GET /healthz": health, "GET control-measures": control_measures,
                                  "POST one movement": post}
        for round_ in range(1, rounds + 1):
            for name, send in kinds.items():
                for _ in range(100):  # connection, pooled database connections and prepared statements made
                    await send()
                before = service.seconds(), postgres.seconds()
                for _ in range(requests):
                    await send()
                meters = zip((service, postgres), before, strict=True)
                spent = [(meter.seconds() - since) / requests * 1e6 for meter, since in meters]
                print(f"round {round_}, {name + ':':<22} service {spent[0]:6.0f} µs, PostgreSQL {spent[1]:5.0f} µs "
                      "a request", flush=True)


async def run(workdir: Path, dsn: str, requests: int, rounds: int) -> None:
    [(_, code, key)] = await register(dsn, 1)
    today = datetime.now(UTC).date()
    await make_months(dsn, today - timedelta(days=2), today + timedelta(days=2))
    print(machine())
    # One plant sends them all, faster than a gate would.
    with served(dsn, workdir, 1, settings={"HJ1321_RATE_LIMIT_PER_SECOND": "0"}) as (process, base):
        await measure(base, code, key, CpuMeter(process.pid), postgres_meter(workdir), requests, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    workdir, dsn = benchmark_store("hj1321-cost-")
    asyncio.run(run(workdir, dsn, args.requests, args.rounds))


if __name__ == "__main__":
    main()
