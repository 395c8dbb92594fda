"""Slow-client attack benchmark: other plants' and the bureau's latency while one plant stalls uploads.

    python -m loadtests.slow_clients [--rate 100] [--seconds 5] [--rounds 4] [--stalled 50] [--flood]

1. Starts a fresh embedded PostgreSQL and `hj1321 serve` (defaults: 10 connections, 8 requests in
   flight per enterprise, 60 s body deadline).
2. Quiet rounds: 20 plants post single records and a bureau account lists movements, together
   `--rate` requests per second (open loop), for `--seconds`.
3. Attacked rounds, alternating with the quiet ones (`--rounds` of each): the same load while one
   more plant keeps `--stalled` raw connections open, each having
   sent the headers and half of a 200 kB body and then nothing; whenever the service answers one
   (429, 408) or closes it, the attacker opens another after the Retry-After it got (`--flood`: at once).
Prints p50/p99 of both phases and their ratio (target: attack p99 within 2x of quiet). Loopback only,
bounded in time.
"""

import argparse
import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from loadtests.generator import RecordGenerator
from loadtests.throughput import benchmark_store, open_loop, percentile, port_of, register, served


async def staff_token(dsn: str) -> str:
    from service.auth.service import add_staff
    from service.config import Settings
    from service.db import create_engine, create_sessionmaker

    engine = create_engine(Settings(database_url=dsn))
    async with create_sessionmaker(engine)() as session:
        issued = await add_staff(session, name="值班员", role="viewer", region_prefix="13", now=datetime.now(UTC))
        token = issued.secret
        await session.commit()
    await engine.dispose()
    return token


async def workload(base: str, plants: list[tuple[int, str, str]], token: str, rate: int,
                   seconds: int) -> tuple[list[float], Counter[int]]:
    """Open loop: nine single-record posts from the plants to one bureau read, on schedule."""
    generators = [(RecordGenerator(seed=7000 + i, enterprise_code=code), key) for i, (_, code, key) in
                  enumerate(plants)]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=100)) as client:
        async def one(n: int) -> None:
            started = time.perf_counter()
            if n % 10 == 9:
                response = await client.get("/api/v1/movements", params={"limit": 20},
                                            headers={"Authorization": f"Bearer {token}"})
            else:
                generator, key = generators[n % len(generators)]
                response = await client.post("/api/v1/movements", content=orjson.dumps(generator.batch(1)),
                                             headers={"Authorization": f"Bearer {key}",
                                                      "Content-Type": "application/json"})
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1

        await open_loop(rate * seconds, rate, one)
    return latencies, statuses


async def attacker(port: int, code: str, key: str, connections: int, stop: asyncio.Event,
                   flood: bool) -> Counter[str]:
    """Keep `connections` uploads open, each stalled after half its body; a refused one is opened again
    after the Retry-After it was given, or at once with `flood`."""
    body = orjson.dumps(RecordGenerator(seed=99, enterprise_code=code).batch(400))[:200_000]
    head = (f"POST /api/v1/movements HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    answers: Counter[str] = Counter()

    async def one_connection() -> None:
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                answers["connect_error"] += 1
                await asyncio.sleep(0.1)
                continue
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            waiting = asyncio.create_task(reader.readline())
            stopping = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            pause = 0.05
            if waiting in done:
                status_line = waiting.result().decode(errors="replace").split(" ")
                answers[status_line[1] if len(status_line) > 1 else "closed"] += 1
                if not flood and len(status_line) > 1 and status_line[1] == "429":
                    pause = 1.0  # what the service's Retry-After says
            else:
                waiting.cancel()
            stopping.cancel()
            writer.close()
            await asyncio.sleep(pause)

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return answers


def summary(name: str, latencies: list[float], statuses: Counter[int]) -> str:
    return (f"{name}: {len(latencies)} requests, statuses {dict(statuses)}, "
            f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms")


async def main_async(args: argparse.Namespace, workdir: Path, dsn: str) -> None:
    plants = await register(dsn, 21)
    attacker_plant, others = plants[0], plants[1:]
    token = await staff_token(dsn)
    with served(dsn, workdir, args.workers) as (_, base):
        port = port_of(base)
        await workload(base, others, token, args.rate, 3)  # warm-up, not counted
        quiet: list[float] = []
        loaded: list[float] = []
        quiet_statuses: Counter[int] = Counter()
        loaded_statuses: Counter[int] = Counter()
        answers: Counter[str] = Counter()
        # Alternating rounds: the database grows and the machine's noise drifts during a run, and
        # both must fall on the quiet and the attacked measurements alike.
        for _ in range(args.rounds):
            latencies, statuses = await workload(base, others, token, args.rate, args.seconds)
            quiet += latencies
            quiet_statuses += statuses
            stop = asyncio.Event()
            attack = asyncio.create_task(attacker(port, attacker_plant[1], attacker_plant[2], args.stalled, stop,
                                                  args.flood))
            await asyncio.sleep(1)  # every stalled connection open before measuring
            latencies, statuses = await workload(base, others, token, args.rate, args.seconds)
            loaded += latencies
            loaded_statuses += statuses
            stop.set()
            answers += await attack
        print(summary("quiet ", quiet, quiet_statuses))
        print(summary("attack", loaded, loaded_statuses))
        print(f"attacker ({args.stalled} stalled uploads kept open, "
              f"{'reopened at once' if args.flood else 'reopened after Retry-After'}): answers {dict(answers)}")
        ratio = percentile(loaded, 0.99) / percentile(quiet, 0.99)
        print(f"p99 under attack / quiet p99: {ratio:.2f} (target <= 2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=100,
                        help="requests per second from the other plants and the bureau")
    parser.add_argument("--seconds", type=int, default=5, help="length of each quiet and each attacked round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument("--stalled", type=int, default=50, help="stalled uploads the attacking plant keeps open")
    parser.add_argument("--flood", action="store_true",
                        help="reopen a refused upload at once, ignoring Retry-After (a request flood)")
    args = parser.parse_args()
    workdir, dsn = benchmark_store("hj1321-slow-")
    asyncio.run(main_async(args, workdir, dsn))


if __name__ == "__main__":
    main()
