"""Throughput benchmark: the service over real HTTP against raw PostgreSQL, on the same machine, in one run.

    python -m loadtests.throughput [--records 200000] [--clients 8] [--workers 1] [--rate 200]

1. Starts a fresh embedded PostgreSQL and migrates it.
2. Raw: the same rows go straight into PostgreSQL with asyncpg, as 500-row batched upserts
   (INSERT ... SELECT FROM unnest ... ON CONFLICT DO NOTHING) from as many concurrent connections.
3. Service: `hj1321 serve` in its own process; the same number of records posted as 500-record
   batches by concurrent HTTP clients.
4. Single records: one-record posts at a fixed rate (open loop), latency percentiles, after two seconds
   of the same load that are not counted (connections made, statements prepared).
5. Raw again, on the same rows, the service idle: the ratio is the service's rate against the mean of the
   raw runs before and after it, which brackets the machine's drift (both ratios are printed too).
Prints records/s for both, their ratio, the CPU each spent a record (PostgreSQL's processes, the service's,
the client's: the rates follow the machine's noise, the CPU a record much less), how the batches' client
connections spread over the workers (opened until they spread evenly: all on one worker, the rate is about a
fifth lower), and the latencies.
Bounded in count and time; loopback only.
"""

import argparse
import asyncio
import atexit
import gc
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
import orjson
import psutil

from loadtests.generator import RecordGenerator
from loadtests.provision import register_enterprises
from service.embedded_db import start_embedded
from service.migrate import upgrade_to_head

PROJECT = Path(__file__).resolve().parent.parent
BATCH = 500

RAW_COLUMNS = ["record_id", "gate_no", "barrier_no", "direction", "pass_time", "pass_date", "pass_photo",
               "plate_no", "plate_color", "vehicle_type", "vin", "register_date", "vehicle_model",
               "engine_model", "engine_maker", "engine_no", "fuel_type", "emission_standard", "use_nature",
               "network_status", "list_photo", "goods_name", "goods_amount", "fleet_name", "seq", "reupload",
               "late", "content_hash", "warnings", "missing_fields", "missing_photos"]
RAW_TYPES = ["text", "text", "text", "text", "timestamptz", "date", "text", "text", "text", "text", "text", "date",
             "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "numeric", "text",
             "bigint", "boolean", "boolean", "bytea", "jsonb", "text", "text"]
# The same natural key the service keeps: new keys go into movement_key, and only their rows into the
# partitioned movement table (the partitions of the month exist: the service made them in its run).
RAW_SQL = f"""
    WITH u AS MATERIALIZED (
        SELECT {", ".join(
            f"string_to_array(c{i}, ',') AS {name}" if name in ("missing_fields", "missing_photos")
            else f"c{i} AS {name}" for i, name in enumerate(RAW_COLUMNS))}
        FROM unnest({", ".join(f"${i + 2}::{t}[]" for i, t in enumerate(RAW_TYPES))})
             AS u({", ".join(f"c{i}" for i in range(len(RAW_COLUMNS)))})),
    new_key AS (
        INSERT INTO movement_key (enterprise_id, record_id, pass_date) SELECT $1, record_id, pass_date FROM u
        ON CONFLICT DO NOTHING RETURNING record_id)
    INSERT INTO movement (enterprise_id, version, received_at, first_received_at, {", ".join(RAW_COLUMNS)})
    SELECT $1, 1, now(), now(), {", ".join(f"u.{name}" for name in RAW_COLUMNS)} FROM u JOIN new_key USING (record_id)
"""


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def make_months(dsn: str, first: date, last: date) -> None:
    """The monthly partitions of the days rows are written for by SQL (the service makes its own as it goes)."""
    from service import partitions
    from service.config import Settings
    from service.db import create_engine

    months, month = [], partitions.month_of(first)
    while month <= last:
        months.append(month)
        month = partitions.next_month(month)
    engine = create_engine(Settings(database_url=dsn))
    await partitions.ensure(engine, months)
    await engine.dispose()


async def register(dsn: str, count: int, region_code: str = "130203") -> list[tuple[int, str, str]]:
    from service.config import Settings
    from service.db import create_engine, create_sessionmaker

    engine = create_engine(Settings(database_url=dsn))
    async with create_sessionmaker(engine)() as session:
        registered = await register_enterprises(session, count, "基准企业", region_code)
        await session.commit()
    await engine.dispose()
    return registered


def raw_columns(records: list[dict[str, Any]]) -> list[list[Any]]:
    """The rows as the service would store them, one list per column (prepared before timing)."""
    from datetime import timezone

    beijing = timezone(timedelta(hours=8))
    columns: list[list[Any]] = [[] for _ in RAW_COLUMNS]
    for r in records:
        moment = datetime.strptime(r["passTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=beijing)
        values = [r["recordId"], r["gateNo"], r["barrierNo"], r["direction"], moment, moment.date(), r["passPhoto"],
                  r["plateNo"], r["plateColor"], r["vehicleType"], r["vin"],
                  datetime.strptime(r["registerDate"], "%Y-%m-%d").date(), r["vehicleModel"], r["engineModel"],
                  r["engineMaker"], r["engineNo"], r["fuelType"], r["emissionStandard"], r["useNature"],
                  r["networkStatus"], r["listPhoto"], r["goodsName"], Decimal(repr(r["goodsAmount"])),
                  r["fleetName"], r["seq"], False, False, os.urandom(16), "[]", "", ""]
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return columns


class CpuMeter:
    """CPU seconds spent by a process and its children, those that ended included (once waited for)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)

    def seconds(self) -> float:
        times = self.root.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in self.root.children(recursive=True):
            try:
                times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


def postgres_meter(workdir: Path) -> CpuMeter:
    return CpuMeter(int((workdir / "db" / "pgdata" / "postmaster.pid").read_text().splitlines()[0]))


def cpu_line(count: int, spent: dict[str, float], each: str = "record") -> str:
    return ", ".join(f"{name} {seconds / count * 1e6:.1f}" for name, seconds in spent.items()) + f" µs a {each}"


async def run_raw(dsn: str, jobs: list[tuple[int, list[list[Any]]]], clients: int) -> float:
    pool = await asyncpg.create_pool(plain_dsn(dsn), min_size=clients, max_size=clients)
    queue: asyncio.Queue[tuple[int, list[list[Any]]]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        async with pool.acquire() as connection:
            statement = await connection.prepare(RAW_SQL)
            while not queue.empty():
                enterprise_id, columns = queue.get_nowait()
                async with connection.transaction():
                    await statement.fetch(enterprise_id, *columns)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return elapsed


async def raw_phase(dsn: str, jobs: list[tuple[int, list[list[Any]]]], clients: int, postgres: CpuMeter,
                    label: str) -> float:
    """Rows a second of the raw peer on these jobs, printed with the CPU it took a row."""
    before = postgres.seconds(), time.process_time()
    seconds = await run_raw(dsn, jobs, clients)
    cpu = {"PostgreSQL": postgres.seconds() - before[0], "client": time.process_time() - before[1]}
    rate = len(jobs) * BATCH / seconds
    print(f"{label:<31}{rate:>9,.0f} rows/s    ({seconds:.1f} s; {cpu_line(len(jobs) * BATCH, cpu)})")
    return rate


async def run_service(base: str, jobs: list[tuple[str, bytes]], clients: int, supervisor: int) -> tuple[float, str]:
    """Seconds to post the jobs from `clients` connections spread evenly over the service's workers, and the
    spread those connections still had at the end (as "2+2"): another means one was dropped and made again."""
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    # aiohttp, as the other loads: the client's own CPU comes out of the same two cores as the service's.
    async with await even_client(base, supervisor, clients) as client:
        async def worker() -> None:
            while not queue.empty():
                key, body = queue.get_nowait()
                status, answer = await post_movements(client, key, body)
                if status != 200 or orjson.loads(answer)["accepted"] != BATCH:
                    raise SystemExit(f"unexpected answer {status}: {answer[:300]!r}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - started
        spread = await asyncio.to_thread(connections_per_worker, supervisor, port_of(base))
        return seconds, "+".join(map(str, spread))


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


async def _touch(client: aiohttp.ClientSession) -> None:
    async with client.get("/healthz") as response:
        await response.read()


async def even_client(base: str, supervisor: int, clients: int, attempts: int = 30) -> aiohttp.ClientSession:
    """A client already holding `clients` connections to the service at `base`, spread over its workers as
    evenly as `attempts` tries got them. The kernel spreads connections over the workers by their addresses:
    of 4 on 2 workers, three or four land on one worker five times in eight, and with all four on one the
    rate is a fifth lower. A province's thousands of gateways spread evenly; two runs compared should not
    differ in where a few connections landed."""
    port = port_of(base)
    for _ in range(attempts):
        client = aiohttp.ClientSession(base_url=base, timeout=aiohttp.ClientTimeout(total=120),
                                       connector=aiohttp.TCPConnector(limit=clients))
        # At once, so that each request opens a connection of its own; they stay open for the phase.
        await asyncio.gather(*(_touch(client) for _ in range(clients)))
        spread = await asyncio.to_thread(connections_per_worker, supervisor, port)
        if sum(spread) == clients and spread[0] - spread[-1] <= 1:
            return client
        await client.close()
    raise SystemExit(f"the client's {clients} connections did not spread evenly over the workers in {attempts} tries")


def listening_workers(supervisor: int, port: int) -> list[tuple[psutil.Process, list[Any]]]:
    """The service's workers listening on `port` now, each with its TCP connections."""
    found = []
    for worker in psutil.Process(supervisor).children(recursive=True):
        try:
            held = worker.net_connections("tcp")
        except psutil.NoSuchProcess:
            continue
        if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in held):
            found.append((worker, held))
    return found


def connections_per_worker(supervisor: int, port: int) -> tuple[int, ...]:
    """How this process's open connections to the service on `port` spread over its workers now, most first.
    Matched by the client's own ports: a worker may still hold connections this process has closed, and not
    yet hold ones it has opened (they wait in its socket's queue until it accepts them)."""
    ours = {c.laddr.port for c in psutil.Process().net_connections("tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED}
    counts: list[int] = []
    for _ in range(100):  # until every one of ours is accepted by some worker
        counts = [sum(1 for c in held if c.laddr.port == port and c.raddr and c.raddr.port in ours)
                  for _, held in listening_workers(supervisor, port)]
        if sum(counts) == len(ours):
            break
        time.sleep(0.05)
    return tuple(sorted(counts, reverse=True))


async def post_movements(client: aiohttp.ClientSession, key: str, body: bytes) -> tuple[int, bytes]:
    """One batch posted as a gateway posts it: (status, answer)."""
    async with client.post("/api/v1/movements", data=body, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"}) as response:
        return response.status, await response.read()


# Seconds of a live load sent before its latencies are counted: the client's connections, and the service's
# pooled ones and their prepared statements, are made then, as they are long before a gate's pass in production.
WARMUP_SECONDS = 2


async def run_single_records(base: str, enterprises: list[tuple[int, str, str]], rate: int,
                             seconds: int, seed: int = 1000, warmup: int = WARMUP_SECONDS) -> list[float]:
    """Latencies of one-record posts at `rate` a second for `seconds`, after `warmup` seconds at the same rate
    that are not counted."""
    generators = [(RecordGenerator(seed=seed + i, enterprise_code=code), key)
                  for i, (_, code, key) in enumerate(enterprises)]
    warm = rate * warmup
    # Made before the clock starts: the client shares the machine's cores with the service it measures.
    bodies = [(orjson.dumps(generator.batch(1)), key)
              for generator, key in (generators[n % len(generators)] for n in range(warm + rate * seconds))]
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    # aiohttp, not httpx: at 200 requests a second httpx's own work (~3 ms a request, more as requests queue
    # in its pool) took the core the service needed, and its delays showed as the service's latency.
    async with aiohttp.ClientSession(base_url=base, timeout=aiohttp.ClientTimeout(total=10),
                                     connector=aiohttp.TCPConnector(limit=100)) as client:
        async def one(n: int) -> None:
            started = time.perf_counter()
            status, answer = await post_movements(client, bodies[n][1], bodies[n][0])
            if n < warm:
                return
            if status == 200:
                latencies.append(time.perf_counter() - started)
            else:
                failures[f"{status} {orjson.loads(answer).get('error')}"] += 1

        await open_loop(len(bodies), rate, one)
    if failures:  # the service's own back-pressure, reported beside the latencies of the posts it took
        print(f"  {failures.total()} of {rate * seconds} single-record posts refused: {dict(failures)}", flush=True)
    return latencies


async def open_loop(count: int, rate: float, request: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """Start request(0..count-1) on a fixed schedule, `rate` a second, whether or not earlier ones have come
    back (open loop: a slow service does not slow the load down), then wait for them all.

    What the client holds already is kept out of its garbage collector's reach meanwhile: a full collection
    walking a benchmark's heap stopped the client for 80 ms, and every request in flight then (1-2 % of a
    run's at 200 a second) showed the client's pause as the service's latency (p99 170-226 ms, 8-10 ms without)."""
    tasks: list[asyncio.Task[None]] = []
    gc.freeze()
    try:
        start = time.perf_counter()
        for n in range(count):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(request(n)))
        await asyncio.gather(*tasks)
    finally:
        gc.unfreeze()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def machine() -> str:
    """What ran the benchmark, for its first line: the cores, and the interpreter, which the service runs on
    too. A CPython built without profile-guided optimisation (pyenv's default build) spent about a tenth
    more of the service's CPU a record than Debian's on the same machine."""
    return f"cores: {os.cpu_count()}, Python {platform.python_version()} ({Path(sys.executable).resolve()})"


def scratch_folder(prefix: str) -> Path:
    """A temporary folder for one run's embedded database, removed when the run exits. Registered before the
    server is started in it, so it runs after the server's own exit handler has stopped it (last in, first
    out): a benchmark's database is gigabytes, and runs left behind filled the disk."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def benchmark_store(prefix: str, workdir: Path | None = None) -> tuple[Path, str]:
    """A run's folder and the DSN of an embedded PostgreSQL in it, migrated: in `workdir` if given, kept (an
    earlier run's database reused), else in a scratch folder removed at exit. Before the run's event loop
    starts: alembic runs its own."""
    folder = workdir or scratch_folder(prefix)
    folder.mkdir(parents=True, exist_ok=True)
    dsn = start_embedded(folder / "db")
    upgrade_to_head(dsn)
    return folder, dsn


@contextmanager
def served(dsn: str, workdir: Path, workers: int,
           settings: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`hj1321 serve` on a free port of loopback, with `settings` (HJ1321_… variables) over the environment's,
    ready: its process and base URL. Stopped on leaving, whatever ended the run."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": plain_dsn(dsn), "PYTHONPATH": str(PROJECT),
           "HJ1321_DATA_DIR": str(workdir / "var"), "HJ1321_DB_POOL_SIZE": "10", **(settings or {})}
    with (workdir / "serve.log").open("wb") as log:  # the service writes to its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port),
                                    "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        # Ready when every worker listens: /readyz answers from the first, and connections made before the
        # others listen all land on it.
        for _ in range(300):
            try:
                ready = httpx.get(f"{base}/readyz").status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and len(listening_workers(process.pid, port)) == workers:
                break
            time.sleep(0.1)
        else:
            raise SystemExit("the service did not start; see serve.log")
        yield process, base
    finally:
        process.terminate()
        process.wait(timeout=60)


async def hold_photos(dsn: str, documents: Iterable[dict[str, Any]]) -> None:
    """Store the photos these batches name, as a gateway that uploads each photo (PUT) before the records
    naming it would have: the photo's row, and its link to the plant that uploaded it."""
    named = sorted({(document["enterpriseCode"], value.removeprefix("sha256:")) for document in documents
                    for record in document["records"] for value in record.values()
                    if isinstance(value, str) and value.startswith("sha256:")})
    connection = await asyncpg.connect(plain_dsn(dsn))
    try:
        await connection.execute("""
            WITH named AS (SELECT e.id, u.sha256 FROM unnest($1::text[], $2::text[]) AS u(code, sha256)
                           JOIN enterprise AS e ON e.code = u.code),
            stored AS (INSERT INTO photo (sha256, content_type, size_bytes, enterprise_id, received_at)
                       SELECT DISTINCT ON (sha256) sha256, 'image/jpeg', 4, id, now() FROM named
                       ON CONFLICT DO NOTHING)
            INSERT INTO photo_enterprise (sha256, enterprise_id) SELECT sha256, id FROM named
            ON CONFLICT DO NOTHING""", [code for code, _ in named], [sha256 for _, sha256 in named])
    finally:
        await connection.close()


async def settle(dsn: str) -> None:
    """Let PostgreSQL finish the write burst (vacuum, checkpoint), so the next phase measures itself."""
    connection = await asyncpg.connect(plain_dsn(dsn))
    # Every table: an autovacuum of the key or link tables starting during the next phase showed in its tail.
    await connection.execute("VACUUM ANALYZE")
    await connection.execute("CHECKPOINT")
    await connection.close()


async def truncate(dsn: str) -> None:
    connection = await asyncpg.connect(plain_dsn(dsn))
    await connection.execute("TRUNCATE movement, movement_version, movement_key")
    await connection.close()
    await settle(dsn)


async def main_async(args: argparse.Namespace, workdir: Path, dsn: str) -> None:
    enterprises = await register(dsn, args.enterprises)
    per_enterprise = args.records // len(enterprises) // BATCH * BATCH
    total = per_enterprise * len(enterprises)
    print(f"{total} records, {len(enterprises)} enterprises, batches of {BATCH}, {args.clients} concurrent clients, "
          f"service workers: {args.workers}, {machine()}")

    bodies: list[tuple[str, bytes]] = []
    documents: list[dict[str, Any]] = []
    for index, (_, code, key) in enumerate(enterprises):
        generator = RecordGenerator(seed=index, enterprise_code=code)
        for _ in range(per_enterprise // BATCH):
            body = generator.batch(BATCH)
            bodies.append((key, orjson.dumps(body)))
            documents.append(body)
    enterprise_of = {key: enterprise_id for enterprise_id, _, key in enterprises}

    def raw_jobs_of(bodies: list[tuple[str, bytes]]) -> list[tuple[int, list[list[Any]]]]:
        """The bodies' rows as the raw peer sends them (made before each raw run, and dropped after it)."""
        return [(enterprise_of[key], raw_columns(orjson.loads(body)["records"])) for key, body in bodies]

    if not args.photos_missing:
        await hold_photos(dsn, documents)
    print("photos named by the records: " + ("not uploaded (every record waits for two)" if args.photos_missing
                                             else "uploaded beforehand"))

    documents.clear()
    today = datetime.now(UTC).date()
    await make_months(dsn, today - timedelta(days=2), today + timedelta(days=2))
    postgres = postgres_meter(workdir)
    raw_before = await raw_phase(dsn, raw_jobs_of(bodies), args.clients, postgres, "raw PostgreSQL batched upsert:")
    # Only the encoded bodies stay (the rows above were dropped with the call): a client heap of millions of row
    # objects would spend CPU in garbage collection that the service needs.
    await truncate(dsn)

    with served(dsn, workdir, args.workers) as (process, base):
        service = CpuMeter(process.pid)
        before = postgres.seconds(), service.seconds(), time.process_time()
        service_seconds, spread = await run_service(base, bodies, args.clients, process.pid)
        service_cpu = {"PostgreSQL": postgres.seconds() - before[0], "service": service.seconds() - before[1],
                       "client": time.process_time() - before[2]}
        service_rate = total / service_seconds
        print(f"service over HTTP:             {service_rate:>9,.0f} records/s ({service_seconds:.1f} s; "
              f"{cpu_line(total, service_cpu)}; connections on each worker {spread})")
        await settle(dsn)
        before = postgres.seconds(), service.seconds(), time.process_time()
        latencies = await run_single_records(base, enterprises, args.rate, args.seconds)
        posts = args.rate * (args.seconds + WARMUP_SECONDS)
        single_cpu = {"PostgreSQL": postgres.seconds() - before[0], "service": service.seconds() - before[1],
                      "client": time.process_time() - before[2]}
        print(f"single-record posts at {args.rate}/s for {args.seconds} s, after {WARMUP_SECONDS} s not counted "
              f"({len(latencies)} requests): "
              f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p95 {percentile(latencies, 0.95) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms "
              f"(target p99 < 50 ms; {cpu_line(posts, single_cpu, 'post')})")
        # The same rows straight into PostgreSQL again, the service idle: a machine whose speed drifts during the
        # run (a shared virtual machine's does, by a fifth within an hour) moves the raw rate on both sides of
        # the service's run, and their mean is what the service's rate is compared with.
        await truncate(dsn)
        raw_after = await raw_phase(dsn, raw_jobs_of(bodies), args.clients, postgres, "raw PostgreSQL again, after:")
        raw_rate = (raw_before + raw_after) / 2
        print(f"ratio service / raw:           {service_rate / raw_rate:>9.2f}   (target >= 0.5; "
              f"and >= 10,000 records/s; against the raw run before {service_rate / raw_before:.2f}, "
              f"after {service_rate / raw_after:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--enterprises", type=int, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=int, default=200, help="single-record posts per second")
    parser.add_argument("--seconds", type=int, default=15, help="how long to post single records")
    parser.add_argument("--photos-missing", action="store_true",
                        help="do not upload the photos first: every record then waits for its photos")
    args = parser.parse_args()
    workdir, dsn = benchmark_store("hj1321-bench-")
    asyncio.run(main_async(args, workdir, dsn))


if __name__ == "__main__":
    main()
