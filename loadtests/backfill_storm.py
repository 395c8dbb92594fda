"""Backfill storm benchmark: live passes while many plants re-send days of records at once (补传).

    python -m loadtests.backfill_storm [--live-plants 20] [--live-rate 10] [--backfill-plants 50]
                                       [--days 3] [--per-day 600] [--seconds 10] [--rounds 3] [--workers 2]
                                       [--no-lane] [--live-request pass|read|health]

1. A fresh embedded PostgreSQL and `hj1321 serve --workers 2` (pool of 10 per worker).
2. `--rounds` rounds of three phases of `--seconds` each (and 2 s before, when live posts are sent
   but not counted: connections being made), fresh records every time:
   quiet: `--live-plants` plants each post one live pass `--live-rate` times a second (open loop);
   backfill alone: `--backfill-plants` plants each re-send `--days` past days (batches of 500 flagged
   reupload) as fast as they are answered, honouring 429 Retry-After;
   storm: both together.
Each load runs in its own process, so one's client work does not delay the other's clock. Prints each
round, with the share of each phase the machine's cores were busy (near 100 %: the CPU held the phase
back) and taken by the host (a shared virtual machine), and, pooled over the rounds (the machine is
noisy), the live p99 ratio (target: within 2x of quiet) and the backfill ratio (target: at least 0.7 of
alone; none when nothing was stored alone).

`--live-request read` has the live plants read their control measures (`GET /api/v1/control-measures`) instead
of posting passes, as gateways do during an alert. `--live-request health` has them ask `GET /healthz`: no
credential, no database, a third of a millisecond of the service's CPU; its p99 in the storm is the floor the
machine sets on any live request, however cheap its own path.
"""

import argparse
import asyncio
import multiprocessing
import time
from collections import Counter
from typing import Any

import aiohttp
import orjson
import psutil

from loadtests.generator import RecordGenerator
from loadtests.throughput import (
    WARMUP_SECONDS,
    benchmark_store,
    hold_photos,
    machine,
    open_loop,
    percentile,
    post_movements,
    register,
    served,
)


def live_bodies(plants: list[tuple[int, str, str]], count: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """(key, one-record batch) in turn from each plant; passTime is set when it is sent."""
    generators = [(RecordGenerator(seed=seed + i, enterprise_code=code), key)
                  for i, (_, code, key) in enumerate(plants)]
    return [(key, generator.batch(1)) for n in range(count) for generator, key in [generators[n % len(generators)]]]


def live_load(base: str, bodies: list[tuple[str, dict[str, Any]]], rate: float, request_kind: str,
              out: Any) -> None:
    async def run() -> tuple[list[float], Counter[int]]:
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        # aiohttp for the many small posts: the client's own CPU comes off the cores the service shares.
        async with aiohttp.ClientSession(base_url=base, timeout=aiohttp.ClientTimeout(total=60),
                                         connector=aiohttp.TCPConnector(limit=200)) as client:
            async def one(n: int) -> None:
                key, document = bodies[n]
                if request_kind == "health":
                    request = get(client, "/healthz", {})
                elif request_kind == "read":
                    request = get(client, "/api/v1/control-measures", {"Authorization": f"Bearer {key}"})
                else:
                    beijing_now = time.gmtime(time.time() + 8 * 3600)
                    document["records"][0]["passTime"] = time.strftime("%Y-%m-%d %H:%M:%S", beijing_now)
                    request = post_movements(client, key, orjson.dumps(document))
                started = time.perf_counter()
                try:
                    status = (await request)[0]
                except (aiohttp.ClientError, TimeoutError):
                    status = 0  # counted as an answer that never came
                if n >= rate * WARMUP_SECONDS:
                    statuses[status] += 1
                    latencies.append(time.perf_counter() - started)

            await open_loop(len(bodies), rate, one)
        return latencies, statuses

    out.send(asyncio.run(run()))


async def get(client: aiohttp.ClientSession, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    async with client.get(path, headers=headers) as response:
        return response.status, await response.read()


def backfill_load(base: str, jobs: list[tuple[str, list[bytes]]], seconds: float, out: Any) -> None:
    """Each plant sends its batches one after the other; a 429 waits its Retry-After and sends again."""
    async def run() -> tuple[int, float, Counter[int]]:
        accepted = 0
        statuses: Counter[int] = Counter()
        deadline = time.perf_counter() + seconds
        # aiohttp and orjson, as for the live posts: these clients stand for gateways on other machines, and
        # what they spend of the shared cores is taken from the service they measure.
        async with aiohttp.ClientSession(base_url=base, timeout=aiohttp.ClientTimeout(total=120),
                                         connector=aiohttp.TCPConnector(limit=200)) as client:
            async def plant(key: str, batches: list[bytes]) -> None:
                nonlocal accepted
                for body in batches:
                    while time.perf_counter() < deadline:
                        try:
                            async with client.post("/api/v1/movements", data=body, headers={
                                    "Authorization": f"Bearer {key}", "Content-Type": "application/json"}) as response:
                                status, answer = response.status, await response.read()
                                retry_after = float(response.headers.get("Retry-After", "1"))
                        except (aiohttp.ClientError, TimeoutError):
                            statuses[0] += 1
                            await asyncio.sleep(1)
                            continue
                        statuses[status] += 1
                        if status == 200:
                            accepted += orjson.loads(answer)["accepted"]
                            break
                        await asyncio.sleep(retry_after)

            began = time.perf_counter()
            await asyncio.gather(*(plant(key, batches) for key, batches in jobs))
            return accepted, time.perf_counter() - began, statuses

    out.send(asyncio.run(run()))


def backfill_jobs(plants: list[tuple[int, str, str]], days: int, per_day: int,
                  seed: int) -> list[tuple[str, list[dict[str, Any]]]]:
    jobs = []
    for i, (_, code, key) in enumerate(plants):
        generator = RecordGenerator(seed=seed + i, enterprise_code=code)
        batches = [generator.backfill_batch(min(500, per_day - start), days_ago=day)
                   for day in range(1, days + 1) for start in range(0, per_day, 500)]
        jobs.append((key, batches))
    return jobs


def in_process(target: Any, *args: Any) -> tuple[multiprocessing.Process, Any]:
    receive, send = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(target=target, args=(*args, send))
    process.start()
    return process, receive


class MachineBusy:
    """What the machine's cores did since the last call, as shares of their time: busy (running anything,
    this run's processes or others'), and stolen (a virtual machine's cores waiting for the host's)."""

    def __init__(self) -> None:
        self._last = psutil.cpu_times()

    def since_last(self) -> str:
        now = psutil.cpu_times()
        spent = {name: getattr(now, name) - getattr(self._last, name) for name in now._fields}
        self._last = now
        # guest time is counted in user time already
        total = sum(seconds for name, seconds in spent.items() if name not in ("guest", "guest_nice")) or 1.0
        waiting = spent["idle"] + spent.get("iowait", 0.0) + spent.get("steal", 0.0)
        return f"machine {(total - waiting) / total:.0%} busy, {spent.get('steal', 0.0) / total:.0%} stolen"


def summary(latencies: list[float], statuses: Counter[int]) -> str:
    return (f"p50 {percentile(latencies, 0.5) * 1000:6.1f} ms  p99 {percentile(latencies, 0.99) * 1000:6.1f} ms  "
            f"({len(latencies)} requests, {dict(statuses)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live-plants", type=int, default=20)
    parser.add_argument("--live-rate", type=int, default=10, help="passes per second per live plant")
    parser.add_argument("--backfill-plants", type=int, default=50)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=600, help="passes per plant and day re-sent")
    parser.add_argument("--seconds", type=float, default=10, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of quiet, backfill alone and storm")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-lane", action="store_true", help="turn the backfill lane off, for comparison")
    parser.add_argument("--live-request", choices=("pass", "read", "health"), default="pass",
                        help="what the live load sends: one-record posts, control-measures reads, or health checks")
    args = parser.parse_args()

    workdir, dsn = benchmark_store("hj1321-storm-")
    live_plants = asyncio.run(register(dsn, args.live_plants))
    backfill_plants = asyncio.run(register(dsn, args.backfill_plants))
    rate = args.live_rate * args.live_plants
    print(machine())
    print(f"generating {2 * args.rounds * args.backfill_plants * args.days * args.per_day:,} backfill records")
    # Fresh records for every phase (a resent record would be a cheap duplicate), and their photos held
    # already, as when gateways send photos first: the placeholder path is not what this measures.
    phase = args.seconds + WARMUP_SECONDS  # the storm is on when counting starts
    rounds = [(live_bodies(live_plants, int(rate * phase), seed=1000 * n),
               backfill_jobs(backfill_plants, args.days, args.per_day, seed=1000 * n + 100),
               live_bodies(live_plants, int(rate * phase), seed=1000 * n + 500),
               backfill_jobs(backfill_plants, args.days, args.per_day, seed=1000 * n + 900))
              for n in range(args.rounds)]
    documents = [b for quiet, alone, storm, storm_jobs in rounds for _, b in quiet + storm] + [
        b for _, alone, _, storm_jobs in rounds for _, bs in alone + storm_jobs for b in bs]
    asyncio.run(hold_photos(dsn, documents))
    lane_off = {"HJ1321_BACKFILL_MAX_IN_FLIGHT": "0", "HJ1321_BACKFILL_RESERVE_CONNECTIONS": "0",
                "HJ1321_BACKFILL_LIVE_LATENCY_MS": "0"}
    with served(dsn, workdir, args.workers, settings=lane_off if args.no_lane else None) as (_, base):
        quiet: list[float] = []
        storm: list[float] = []
        alone_records = alone_seconds = storm_records = storm_seconds = 0.0
        busy = MachineBusy()
        for n, (quiet_bodies, alone_jobs, storm_bodies, storm_jobs) in enumerate(rounds, start=1):
            busy.since_last()
            process, result = in_process(live_load, base, quiet_bodies, rate, args.live_request)
            latencies, statuses = result.recv()
            process.join()
            quiet += latencies
            print(f"round {n}, live alone ({args.live_plants} plants x {args.live_rate}/s, {args.live_request}): "
                  f"{summary(latencies, statuses)}; {busy.since_last()}")

            jobs = encoded(alone_jobs)
            busy.since_last()
            process, result = in_process(backfill_load, base, jobs, phase)
            records, seconds, statuses = result.recv()
            process.join()
            alone_records, alone_seconds = alone_records + records, alone_seconds + seconds
            print(f"round {n}, backfill alone ({args.backfill_plants} plants): {records / seconds:,.0f} records/s "
                  f"({dict(statuses)}); {busy.since_last()}")

            jobs = encoded(storm_jobs)
            busy.since_last()
            backfill, backfill_result = in_process(backfill_load, base, jobs, phase)
            live, live_result = in_process(live_load, base, storm_bodies, rate, args.live_request)
            latencies, statuses = live_result.recv()
            records, seconds, backfill_statuses = backfill_result.recv()
            live.join()
            backfill.join()
            storm += latencies
            storm_records, storm_seconds = storm_records + records, storm_seconds + seconds
            print(f"round {n}, storm: live {summary(latencies, statuses)}; backfill {records / seconds:,.0f} "
                  f"records/s ({dict(backfill_statuses)}); {busy.since_last()}")
        alone_rate, storm_rate = alone_records / alone_seconds, storm_records / storm_seconds
        # Every batch refused alone (a lane that admits nothing) leaves no rate to compare with: no ratio.
        share = f"{storm_rate / alone_rate:.2f}" if alone_rate else "none"
        print(f"all rounds: live quiet {summary(quiet, Counter())}, storm {summary(storm, Counter())}")
        print(f"live p99 storm / quiet: {percentile(storm, 0.99) / percentile(quiet, 0.99):.2f}x (target <= 2); "
              f"backfill storm / alone: {share} ({storm_rate:,.0f} / {alone_rate:,.0f} records/s; target >= 0.7)")


def encoded(jobs: list[tuple[str, list[dict[str, Any]]]]) -> list[tuple[str, list[bytes]]]:
    return [(key, [orjson.dumps(b) for b in batches]) for key, batches in jobs]


if __name__ == "__main__":
    main()
