"""Slow and hostile clients: stalled uploads, locked tables and a full pool end in bounded 4xx/503
answers, and never take the service away from the other plants or the bureau."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest
from sqlalchemy import text

from service.app import create_app
from tests.conftest import register, scalar, staff_token
from tests.factories import batch, movement
from tests.serving import serving


def stalled_body(body: bytes, release: asyncio.Event):
    async def chunks():
        yield body[: len(body) // 2]
        await release.wait()
        yield body[len(body) // 2:]
    return chunks()


async def until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_fifty_stalled_uploads_hold_no_connection_and_others_still_answer(settings, engine):
    attacker, neighbour = await register(engine), await register(engine)
    staff = await staff_token(engine)
    release = asyncio.Event()
    async with serving(settings, db_pool_size=3, db_pool_timeout_seconds=1,
                       max_requests_in_flight_per_enterprise=0) as (client, app):
        body = orjson.dumps(batch(attacker, *[movement() for _ in range(20)]))
        stalls = [asyncio.create_task(client.post(
            "/api/v1/movements", content=stalled_body(body, release),
            headers={**attacker.auth, "Content-Type": "application/json"})) for _ in range(50)]
        await until(lambda: app.state.in_flight._in_flight[attacker.id] == 50)
        assert app.state.engine.pool.checkedout() == 0  # fifty bodies arriving, not one connection held
        for _ in range(5):
            answer = await client.post("/api/v1/movements", json=batch(neighbour, movement()),
                                       headers=neighbour.auth)
            assert answer.status_code == 200, answer.text
            assert (await client.get("/api/v1/enterprises", headers=staff)).status_code == 200
        release.set()
        answers = await asyncio.gather(*stalls)
    assert {a.status_code for a in answers} == {200}
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=attacker.id) == 20


async def test_large_bodies_past_the_workers_memory_budget_get_503_and_a_gates_pass_still_goes_in(settings, engine):
    # As gateways re-sending large batches at once after an outage: bodies held until answered, however many.
    plant = await register(engine)
    release = asyncio.Event()
    held = orjson.dumps(batch(plant, *[movement() for _ in range(400)]))
    large = [movement() for _ in range(300)]
    headers = {**plant.auth, "Content-Type": "application/json"}

    async def at_once(body: bytes) -> AsyncIterator[bytes]:  # sent without its length, as a stream is
        yield body

    # Room for the stalled body whole, not for half of it and a large one beside it.
    async with serving(settings, max_body_bytes_in_flight=len(held) + 10_000) as (client, app):
        memory = app.state.body_memory
        stalled = asyncio.create_task(client.post("/api/v1/movements", content=stalled_body(held, release),
                                                  headers={**headers, "Content-Length": str(len(held))}))
        # Half of it arrived, and all of it is taken: counted as they arrived, bodies sent together were each
        # partly in when the budget ran out, and every one was refused (40 of 40 over real sockets).
        await until(lambda: memory.held == len(held))
        assert await bodies_held(client) == len(held)
        body = orjson.dumps(batch(plant, *large))
        declared = await client.post("/api/v1/movements", content=body, headers=headers)
        streamed = await client.post("/api/v1/movements", content=at_once(body), headers=headers)
        live = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
        for refused in (declared, streamed):
            assert refused.status_code == 503, refused.text[:300]
            assert refused.json()["error"] == "server_busy" and "Retry-After" in refused.headers
        assert live.status_code == 200 and live.json()["accepted"] == 1  # a gate's pass is never refused for memory
        release.set()
        assert (await stalled).status_code == 200
        assert memory.held == 0 == await bodies_held(client)  # each body given back when its request was answered
        again = await client.post("/api/v1/movements", content=body, headers=headers)
        assert again.status_code == 200 and again.json()["accepted"] == 300, again.text
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 400 + 1 + 300


async def bodies_held(client: httpx.AsyncClient) -> float:
    """What an operator's Prometheus reads of the bodies held."""
    (sample,) = [line for line in (await client.get("/metrics")).text.splitlines()
                 if line.startswith("hj1321_request_body_bytes_held ")]
    return float(sample.split()[1])


async def test_uploads_past_the_in_flight_cap_get_429_with_retry_after(settings, engine):
    attacker, neighbour = await register(engine), await register(engine)
    release = asyncio.Event()
    async with serving(settings, max_requests_in_flight_per_enterprise=4) as (client, _):
        body = orjson.dumps(batch(attacker, movement()))
        stalls = [asyncio.create_task(client.post(
            "/api/v1/movements", content=stalled_body(body, release),
            headers={**attacker.auth, "Content-Type": "application/json"})) for _ in range(50)]
        await until(lambda: sum(task.done() for task in stalls) == 46)
        refused = [task.result() for task in stalls if task.done()]
        assert {r.status_code for r in refused} == {429}
        assert {r.json()["error"] for r in refused} == {"too_many_in_flight"}
        assert {r.headers["Retry-After"] for r in refused} == {"1"}
        calm = await client.post("/api/v1/movements", json=batch(neighbour, movement()), headers=neighbour.auth)
        assert calm.status_code == 200
        waiting = [task for task in stalls if not task.done()]
        release.set()
        kept = await asyncio.gather(*waiting)
    assert [a.status_code for a in kept] == [200] * 4


async def test_a_body_that_stalls_past_the_deadline_is_408_and_nothing_is_stored(settings, engine):
    plant = await register(engine)
    never = asyncio.Event()
    async with serving(settings, body_timeout_seconds=0.3) as (client, _):
        started = time.monotonic()
        answer = await client.post("/api/v1/movements", content=stalled_body(orjson.dumps(batch(plant, movement())),
                                                                             never),
                                   headers={**plant.auth, "Content-Type": "application/json"})
        assert time.monotonic() - started < 5
    assert answer.status_code == 408 and answer.json()["error"] == "body_timeout"
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 0


@asynccontextmanager
async def locked(engine, statement: str, **params) -> AsyncIterator[None]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(text(statement), params)
        try:
            yield
        finally:
            await transaction.rollback()


async def test_a_locked_table_answers_503_with_retry_after_in_bounded_time(settings, engine):
    plant = await register(engine)
    staff = await staff_token(engine)
    async with serving(settings, db_lock_timeout_seconds=0.5) as (client, _):
        async with locked(engine, "LOCK TABLE movement IN ACCESS EXCLUSIVE MODE"):
            started = time.monotonic()
            answer = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
            assert time.monotonic() - started < 5
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "database_busy" and int(answer.headers["Retry-After"]) > 0
            assert (await client.get("/api/v1/enterprises", headers=staff)).status_code == 200
        again = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
        assert again.status_code == 200
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 1


async def test_a_full_pool_answers_503_with_retry_after(settings, engine):
    plant = await register(engine)
    async with serving(settings, db_pool_size=1, db_pool_timeout_seconds=0.3,
                       db_lock_timeout_seconds=3) as (client, _):
        async with locked(engine, "LOCK TABLE movement IN ACCESS EXCLUSIVE MODE"):
            holding = asyncio.create_task(client.post("/api/v1/movements", json=batch(plant, movement()),
                                                      headers=plant.auth))
            await asyncio.sleep(0.5)  # it holds the only connection, waiting on the lock
            answer = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "database_busy" and "Retry-After" in answer.headers
        assert (await holding).status_code == 200


async def test_a_locked_enterprise_row_does_not_stop_its_plant(settings, engine):
    # What an UPDATE of the row takes (a heartbeat, an admin renaming the plant, another request's last-seen).
    plant = await register(engine)
    async with serving(settings, db_lock_timeout_seconds=2, last_seen_resolution_seconds=0) as (client, _):
        async with locked(engine, "SELECT * FROM enterprise WHERE id = :e FOR NO KEY UPDATE", e=plant.id):
            started = time.monotonic()
            answer = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
            assert answer.status_code == 200 and time.monotonic() - started < 1.5


async def test_a_client_that_disconnects_mid_body_is_one_log_line(settings, engine, caplog):
    plant = await register(engine)
    app = create_app(settings)
    messages = iter([{"type": "http.request", "body": b'{"enterpriseCode": "', "more_body": True},
                     {"type": "http.disconnect"}])
    sent: list[dict] = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/v1/movements", "raw_path": b"/api/v1/movements", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 5000), "server": ("t", 80),
             "headers": [(b"authorization", plant.auth["Authorization"].encode()),
                         (b"content-type", b"application/json")]}
    caplog.set_level(logging.INFO, logger="hj1321")
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert sent[0]["status"] == 499
    records = [r for r in caplog.records if r.name.startswith("hj1321")]
    assert len(records) == 1 and records[0].exc_info is None
    assert records[0].fields["status"] == 499


@pytest.mark.parametrize("secret_bearing", ["R-SECRET-RECORD-ID"])
async def test_a_failed_statement_logs_no_parameters(settings, engine, caplog, secret_bearing):
    plant = await register(engine)
    caplog.set_level(logging.WARNING, logger="hj1321")
    async with serving(settings, db_lock_timeout_seconds=0.2) as (client, _):
        async with locked(engine, "LOCK TABLE movement IN ACCESS EXCLUSIVE MODE"):
            answer = await client.post("/api/v1/movements", json=batch(plant, movement(recordId=secret_bearing)),
                                       headers=plant.auth)
    assert answer.status_code == 503
    assert secret_bearing not in caplog.text and "Traceback" not in caplog.text
