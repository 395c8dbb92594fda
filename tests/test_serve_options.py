"""`hj1321 serve` options that only show on a real socket: TLS, and several worker processes."""

import asyncio
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
import pytest
import trustme
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.workers import STARTUP_SECONDS
from tests.factories import Enterprise, batch, movement
from tests.serving import Server, free_port, hj1321_env, run_hj1321


async def test_serves_tls_with_the_given_certificate(tmp_path, database_url, plant):
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    authority.cert_pem.write_to_path(str(ca_file))
    trusted = ssl.create_default_context(cafile=str(ca_file))

    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url), "--ssl-certfile", str(cert_file),
                    "--ssl-keyfile", str(key_file), scheme="https", verify=trusted)
    try:
        async with httpx.AsyncClient(verify=trusted) as client:
            response = await client.post(f"{server.base}/api/v1/movements", json=batch(plant, movement()),
                                         headers=plant.auth)
        assert response.status_code == 200 and response.json()["accepted"] == 1
        async with httpx.AsyncClient() as untrusting:  # the system store does not know the test authority
            try:
                await untrusting.get(f"{server.base}/healthz")
                raise AssertionError("a certificate from an unknown authority was accepted")
            except httpx.ConnectError:
                pass
    finally:
        server.stop()


async def test_metrics_are_summed_across_workers(tmp_path, database_url, plant):
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")),
                    "--workers", "2")
    try:
        async with httpx.AsyncClient(base_url=server.base) as client:
            for _ in range(30):  # new connections, so both workers take some
                async with httpx.AsyncClient(base_url=server.base) as fresh:
                    response = await fresh.post("/api/v1/movements", json=batch(plant, movement(), movement()),
                                                headers=plant.auth)
                    assert response.status_code == 200
            text = (await client.get("/metrics")).text
        accepted = next(line for line in text.splitlines()
                        if line.startswith('hj1321_records_total{kind="movements",outcome="accepted"}'))
        assert float(accepted.split()[-1]) == 60
        # Both workers wrote samples of their own, so the 60 above really is a sum over processes.
        folder = _samples_folder(server)
        assert len(list(folder.glob("counter_*.db"))) == 2
        # In memory, not on the data disk: a full disk kills a process that writes a memory-mapped file with
        # SIGBUS, and with the samples on it every worker died and the service stopped.
        assert _filesystem(folder) == "tmpfs"
        assert folder.stat().st_dev != tmp_path.stat().st_dev  # where the data folder is
        assert folder.stat().st_mode & 0o777 == 0o700  # they name every plant
    finally:
        server.stop()
    assert not folder.exists()  # memory, given back


async def test_every_worker_writes_json_request_lines_and_no_server_banner(tmp_path, database_url, plant):
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")),
                    "--workers", "2")
    try:
        for _ in range(30):  # new connections, so both workers take some
            async with httpx.AsyncClient(base_url=server.base) as fresh:
                response = await fresh.get("/healthz")
                assert response.status_code == 200 and "server" not in response.headers
        async with httpx.AsyncClient(base_url=server.base) as fresh:
            probes = [await fresh.head(path) for path in ("/healthz", "/readyz")]
        assert [(p.status_code, p.content) for p in probes] == [(200, b""), (200, b"")]
    finally:
        server.stop()
    output = server.output().splitlines()
    # Besides the two lines `serve` prints for a person, everything is a JSON line, uvicorn's own too.
    assert [line for line in output if not line.startswith(("{", "serving on ", "database: "))] == []
    lines = [json.loads(line) for line in output if line.startswith("{")]
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    requests = [line for line in lines if line.get("route") == "/healthz" and line.get("method") == "GET"]
    assert len(requests) == 30
    assert len({line["pid"] for line in requests}) == 2


async def test_the_log_level_setting_quiets_request_lines(tmp_path, database_url):
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var"),
                                         HJ1321_LOG_LEVEL="warning"))
    try:
        async with httpx.AsyncClient(base_url=server.base) as client:
            assert (await client.get("/healthz")).status_code == 200
    finally:
        server.stop()
    assert [line for line in server.output().splitlines() if line.startswith("{")] == []


async def test_a_log_reader_that_stops_reading_does_not_stop_the_service(tmp_path, database_url):
    # A pipe nobody reads, as journald or a container runtime stuck (or its disk full) leaves standard error: a
    # write to it waits. The requests' lines wait in the worker instead, and none is lost once it is read again.
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")),
                    piped=True)
    assert server.process.stdout is not None
    lines: list[str] = []

    def read(count: int) -> None:
        for line in server.process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if sum('"route":"/healthz"' in line for line in lines) == count:
                return

    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=5) as client:
            for _ in range(600):  # about 200 request lines fill a pipe's 64 KB; the worker stopped at 164
                assert (await client.get("/healthz")).status_code == 200
        await asyncio.wait_for(asyncio.to_thread(read, 600), 20)
    finally:
        server.stop()
    assert not any('"dropped"' in line for line in lines)


def test_a_request_head_that_does_not_arrive_in_time_is_408_and_its_connection_closed(tmp_path, database_url,
                                                                                       plant):
    """Half a request head, held (slowloris), needs no credential: 1,100 such connections took every file
    descriptor of a worker, and it refused everyone for as long as they were held."""
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var"),
                                         HJ1321_HEADER_TIMEOUT_SECONDS="1"))
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow, \
                socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
            slow.sendall(b"POST /api/v1/movements HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            answer = _until_closed(slow)
            assert time.monotonic() - started < 5
            assert answer.startswith(b"HTTP/1.1 408 ") and b'"error":"header_timeout"' in answer, answer
            assert _until_closed(idle).startswith(b"HTTP/1.1 408 ")  # opened, and nothing sent
        # A head sent in pieces within the deadline, twice on one connection: the deadline is the head's, from the
        # connection's opening or from its last answer, not the connection's age.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as steady:
            for _ in range(2):
                for piece in (b"GET /heal", b"thz HTTP/1.1\r\nHost: x\r\n", b"\r\n"):
                    steady.sendall(piece)
                    time.sleep(0.25)
                assert _one_answer(steady).startswith(b"HTTP/1.1 200 ")
            # A body is not a head: it has its own deadline (HJ1321_BODY_TIMEOUT_SECONDS).
            body = json.dumps(batch(plant, movement())).encode()
            steady.sendall(b"POST /api/v1/movements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Authorization: Bearer " + plant.key.encode() + b"\r\n"
                           b"Content-Length: %d\r\n\r\n" % len(body) + body[:20])
            time.sleep(1.5)
            steady.sendall(body[20:])
            assert _one_answer(steady).startswith(b"HTTP/1.1 200 ")
    finally:
        server.stop()


def test_a_request_head_over_32_kib_is_431_and_its_connection_closed(tmp_path, database_url):
    # One 50 MB header was answered 200, after doubling the worker's memory; it needs no credential.
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")))
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as large:
            large.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Large: ")
            try:
                for _ in range(64):  # 4 MB, unless the server closes first
                    large.sendall(b"a" * 65536)
                large.sendall(b"\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = _until_closed(large)
        assert answer.startswith(b"HTTP/1.1 431 ") and b'"error":"header_too_large"' in answer, answer[:200]
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as usual:
            # A head of 30 KB is still a head, and a body many times the limit is no head at all.
            usual.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 30_000 + b"\r\n\r\n")
            assert _one_answer(usual).startswith(b"HTTP/1.1 200 ")
            usual.sendall(b"POST /api/v1/movements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 300000\r\n\r\n" + b" " * 300_000)
            assert _one_answer(usual).startswith(b"HTTP/1.1 401 ")  # read as a body: no key, so 401
    finally:
        server.stop()


def test_workers_may_open_as_many_files_as_the_system_allows(tmp_path, database_url):
    # Each connection is an open file; a soft limit of 1,024 (a service manager's usual) is what a few hundred
    # gateways reconnecting at once and a burst of slow clients reach together.
    soft_256 = [sys.executable, "-c", "import os, resource, sys; "
                "resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1])); "
                "os.execv(sys.executable, [sys.executable, '-m', 'service.cli', *sys.argv[1:]])"]
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")),
                    command=soft_256)
    try:
        (worker,) = server.workers()
        soft, hard = worker.rlimit(psutil.RLIMIT_NOFILE)
    finally:
        server.stop()
    assert soft == hard > 256


def _one_answer(connection: socket.socket) -> bytes:
    """One whole answer, head and body: the server may send them in separate segments, and a second request on the
    connection must not read the first answer's remainder."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(4096)
        assert chunk, received
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    declared = re.search(rb"(?im)^content-length: *(\d+)", head)
    assert declared, head
    length = int(declared.group(1))
    while len(body) < length:
        chunk = connection.recv(4096)
        assert chunk, received
        body += chunk
    assert len(body) == length, (head, body)
    return head + b"\r\n\r\n" + body


def _until_closed(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(4096):
        received += chunk
    return received


def _samples_folder(server: Server) -> Path:
    """The folder the workers write their metric samples in, from the files they hold open."""
    folders = {Path(file.path).parent for worker in server.workers() for file in worker.open_files()
               if file.path.endswith(".db")}
    assert len(folders) == 1, folders
    return folders.pop()


def _filesystem(path: Path) -> str:
    """The type of the filesystem `path` is on (tmpfs: memory), from the kernel's table of mounts."""
    mounts = [line.split()[1:3] for line in Path("/proc/self/mounts").read_text().splitlines()]
    return max(((point, kind) for point, kind in mounts if path.is_relative_to(point)), key=lambda m: len(m[0]))[1]


def _answering_pids(lines: list[dict]) -> set[int]:
    return {line["pid"] for line in lines if line.get("route") == "/healthz"}


async def test_connections_opened_at_once_are_spread_over_the_workers(tmp_path, database_url):
    # As a proxy's upstream pool or gateways reconnecting after an outage open them: all at the same moment.
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")),
                    "--workers", "2")
    try:
        clients = [httpx.AsyncClient(base_url=server.base, limits=httpx.Limits(max_connections=1))
                   for _ in range(16)]
        try:
            for _ in range(5):  # the same connections again: they stay with their worker
                answers = await asyncio.gather(*(client.get("/healthz") for client in clients))
                assert [answer.status_code for answer in answers] == [200] * 16
        finally:
            await asyncio.gather(*(client.aclose() for client in clients))
        listening = listening_sockets(server.port)
    finally:
        server.stop()
    lines = server.log_lines()
    served = Counter(line["pid"] for line in lines if line.get("route") == "/healthz")
    assert sum(served.values()) == 80
    # Each worker listens on a socket of its own, and the kernel spreads connections over them. One shared
    # socket gave every connection waiting at a wake to the worker that woke first. (By chance a worker is
    # given fewer than 2 of the 16 connections once in 2,000 runs.)
    assert listening == 2
    assert len(served) == 2 and min(served.values()) >= 10, served


def listening_sockets(port: int) -> int:
    """The sockets listening on this local TCP port, from the kernel's table."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "0A")


def test_workers_do_not_share_a_port_another_server_listens_on(tmp_path, database_url):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as a second hj1321 would hold it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = run_hj1321(["serve", "--port", str(port), "--workers", "2"], tmp_path,
                            hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")))
    assert served.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in served.stderr + served.stdout


async def _replaced(tmp_path: Path, database_url: str, engine: AsyncEngine, plant: Enterprise, *, signum: int,
                    settle: float, logged: str, workers: str = "2", **settings: str) -> dict:
    """Serve, signal the worker holding a post that waits for the database, and check that the port answers
    every new connection after `settle` seconds, that the supervisor logged `logged` once, of that worker, that a
    new worker took connections of its own, and that /metrics no longer counts the dead worker's connection in
    use; returns the log line."""
    server = Server(tmp_path, hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var"),
                                         HJ1321_DB_LOCK_TIMEOUT_SECONDS="30", **settings), "--workers", workers)

    async def answers() -> list[int]:
        statuses = []
        for _ in range(30):  # new connections: none of them may go to a socket nobody accepts on
            async with httpx.AsyncClient(base_url=server.base, timeout=5) as fresh:
                statuses.append((await fresh.get("/healthz")).status_code)
        return statuses

    async def in_use() -> float:
        async with httpx.AsyncClient(base_url=server.base, timeout=5) as fresh:
            scraped = (await fresh.get("/metrics")).text.splitlines()
        return float(next(line for line in scraped if line.startswith("hj1321_db_pool_connections_in_use ")).split()[1])

    record = movement()
    try:
        await asyncio.sleep(STARTUP_SECONDS)  # after it, losing a worker is not a failure to start
        assert await answers() == [200] * 30
        before = _answering_pids(server.log_lines())
        # The same key, written and not committed: the post waits for this transaction, its connection in use.
        async with engine.connect() as blocker, blocker.begin():
            await blocker.execute(text("INSERT INTO movement_key (enterprise_id, record_id, pass_date) "
                                       "VALUES (:e, :r, CURRENT_DATE)"), {"e": plant.id, "r": record["recordId"]})
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as poster:
                post = asyncio.create_task(poster.post("/api/v1/movements", json=batch(plant, record),
                                                       headers=plant.auth))
                for _ in range(100):
                    if await in_use() == 1:
                        break
                    await asyncio.sleep(0.1)
                assert await in_use() == 1
                worker = next(process.pid for process in server.workers()
                              if any(c.laddr.port == server.port and c.status == psutil.CONN_ESTABLISHED
                                     for c in process.net_connections("tcp")))
                os.kill(worker, signum)
                await asyncio.sleep(settle)
                with pytest.raises(httpx.TransportError):
                    await post  # its worker died with it: never answered, so never taken as stored
        assert await answers() == [200] * 30
        with pytest.raises(ProcessLookupError):
            os.kill(worker, 0)  # gone and reaped, not left behind
        assert server.process.poll() is None
        assert await in_use() == 0
    finally:
        server.stop()
    lines = server.log_lines()
    found = [line for line in lines if line["msg"] == logged]
    assert [line["worker_pid"] for line in found] == [worker]
    assert len(_answering_pids(lines) - before - {worker}) == 1
    return found[0]


async def test_a_worker_that_dies_is_replaced_and_the_port_keeps_answering(tmp_path, database_url, engine, plant):
    died = await _replaced(tmp_path, database_url, engine, plant, signum=signal.SIGKILL, settle=3,
                           logged="a worker exited; starting another")
    assert died["signal"] == "SIGKILL"


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_worker_whose_event_loop_is_stuck_is_killed_and_replaced(tmp_path, database_url, engine, plant,
                                                                         workers):
    """One worker (the default, and the container's) is supervised as several are. Stopped (SIGSTOP), a worker
    holds its socket and runs nothing: as a loop that never yields."""
    killed = await _replaced(tmp_path, database_url, engine, plant, signum=signal.SIGSTOP, settle=6,
                             workers=workers, logged="a worker stopped answering; killing it and starting another",
                             HJ1321_WORKER_TIMEOUT_SECONDS="2")
    assert killed["silent_seconds"] >= 2  # logged to a tenth of a second: 2.04 s silent shows as 2.0


async def test_workers_stop_when_the_supervisor_dies_and_a_new_service_can_take_the_port(tmp_path, database_url):
    env = hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var"))
    server = Server(tmp_path, env, "--workers", "2")
    workers = server.workers()
    assert len(workers) == 2
    left = _samples_folder(server)
    server.kill(supervisor_only=True)  # it cannot stop them itself
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, "workers outlived their supervisor"
    assert listening_sockets(server.port) == 0
    assert left.exists()  # killed, it could not remove its workers' samples...
    again = Server(tmp_path, env, "--workers", "2", port=server.port)
    try:
        assert not left.exists()  # ...from memory: the next start does
        assert _samples_folder(again).exists()
    finally:
        again.stop()
    again = Server(tmp_path, env, "--workers", "2", port=server.port)  # refused while a worker held the port
    try:
        async with httpx.AsyncClient(base_url=again.base, timeout=5) as client:
            assert (await client.get("/healthz")).status_code == 200
    finally:
        again.stop()


def test_serve_refuses_no_workers(tmp_path, database_url):
    served = run_hj1321(["serve", "--port", str(free_port()), "--workers", "0"], tmp_path,
                        hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")))
    assert served.returncode == 2
    assert "hj1321: --workers must be 1 or more; got 0" in served.stderr


def test_a_certificate_that_cannot_be_used_stops_the_start_with_one_clear_line(tmp_path, database_url):
    (tmp_path / "broken.pem").write_text("not a certificate\n")
    for cert in (tmp_path / "broken.pem", tmp_path / "absent.pem"):
        served = run_hj1321(["serve", "--port", str(free_port()), "--workers", "2", "--ssl-certfile", str(cert),
                             "--ssl-keyfile", str(cert)], tmp_path,
                            hj1321_env(DATABASE_URL=database_url, HJ1321_DATA_DIR=str(tmp_path / "var")))
        assert served.returncode == 2, served.stderr
        assert f"hj1321: cannot use the TLS certificate {cert}" in served.stderr
        assert "Traceback" not in served.stderr and "serving on" not in served.stdout


def test_workers_that_cannot_start_stop_the_service_instead_of_being_started_again(tmp_path):
    """The supervisor's own rule, below the command's checks: a worker that dies while starting would only do
    it again, so the service stops, with an error, rather than start workers in a loop."""
    (tmp_path / "broken.pem").write_text("not a certificate\n")
    options = {"host": "127.0.0.1", "port": free_port(), "ssl_certfile": str(tmp_path / "broken.pem"),
               "ssl_keyfile": str(tmp_path / "broken.pem"), "log_level": "info", "timeout_graceful_shutdown": 1}
    started = time.monotonic()
    served = subprocess.run([sys.executable, "-c", f"import sys; from service import workers; "
                             f"sys.exit(workers.serve({options!r}, 2))"],
                            cwd=tmp_path, env=hj1321_env(), capture_output=True, text=True, timeout=120)
    assert served.returncode == 1
    assert "a worker could not start; stopping" in served.stderr + served.stdout
    assert time.monotonic() - started < STARTUP_SECONDS + 20  # stopped, not restarting workers until killed

