"""Live passes first: when the worker is busy, 补传 batches are told to come back; live ones never are."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from service.ingest.kinds import INPLANT_VEHICLES, MOVEMENTS
from service.ingest.service import is_backfill
from service.limits import GIVE_WAY_SECONDS, BackfillLane
from tests.conftest import flush_audit, scalar, staff_token
from tests.factories import batch, beijing, inplant_vehicle, movement

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


def test_a_batch_is_backfill_when_most_of_it_is_flagged_or_old():
    fresh, old = beijing(NOW - timedelta(minutes=1)), beijing(NOW - timedelta(hours=3))
    cases = [
        ([{"passTime": fresh}] * 3, False),
        ([{"passTime": old}] * 3, True),
        ([{"passTime": fresh, "reupload": True}] * 2, True),
        ([{"passTime": old}, {"passTime": fresh}], False),  # half is not most
        ([{"passTime": old}, {"passTime": old}, {"passTime": fresh}], True),
        ([{"passTime": "not a time"}, "not a record", {"passTime": old}], False),
        ([{"passTime": beijing(NOW - WINDOW + timedelta(seconds=1))}], False),  # inside the window: live
    ]
    for records, expected in cases:
        assert is_backfill(MOVEMENTS, records, now=NOW, timeliness_window=WINDOW) is expected, records
    assert is_backfill(INPLANT_VEHICLES, [{"reupload": True}], now=NOW, timeliness_window=WINDOW) is False


def test_the_lane_keeps_places_for_live_batches():
    lane = BackfillLane(capacity=6, reserve=2, max_backfill=3, max_backfill_beside_live=3)
    assert [lane.enter(True) for _ in range(4)] == [True, True, True, False]  # at most 3 backfill
    assert lane.enter(False)  # 4 of 6 taken: live goes ahead
    assert not lane.enter(True) and lane.enter(False) and lane.enter(False)  # live past the reserve too
    lane.leave(True)
    assert not lane.enter(True)  # 2 backfill + 3 live = 5 > 6 - 2: still busy for backfill
    for _ in range(3):
        lane.leave(False)
    assert lane.enter(True)


def test_slow_live_batches_close_the_lane_to_backfill_for_a_while():
    now = [100.0]
    lane = BackfillLane(capacity=10, reserve=2, max_backfill=3, live_seconds=0.05, hold_seconds=1.0,
                        slow_share=0.1, clock=lambda: now[0])

    def live(seconds: float, records: int = 1) -> None:
        assert lane.enter(False)
        lane.leave(False, seconds, records)
        now[0] += 0.01

    for _ in range(10):
        live(0.049)  # quick enough: the lane stays open
    assert lane.enter(True)
    lane.leave(True, 5.0)  # a slow backfill batch says nothing about live ones
    live(0.2, records=11)  # a big live batch is slow on an idle worker too: not a probe
    live(0.051)
    assert lane.enter(True)  # one slow probe in eleven: the machine's noise, not saturation
    lane.leave(True)
    live(0.051)  # two in twelve: more than one in ten
    assert not lane.enter(True) and lane.enter(False)  # closed to backfill only
    lane.leave(False, 0.001)  # a probe, but a quick one: the lane stays closed until the hold ends
    now[0] += 0.98
    assert not lane.enter(True)
    now[0] += 0.02
    assert lane.enter(True)


def test_a_lone_slow_probe_closes_the_lane_when_it_is_the_only_one():
    """A worker with few live posts has few probes: one slow in the last second is a share of them."""
    now = [100.0]
    lane = BackfillLane(capacity=10, reserve=2, max_backfill=3, live_seconds=0.05, clock=lambda: now[0])
    lane.enter(False)
    lane.leave(False, 0.01)
    now[0] += 1.5  # the quick probe has left the window
    lane.enter(False)
    lane.leave(False, 0.06)
    assert not lane.enter(True)


def test_batches_deferred_while_the_lane_is_closed_come_back_at_different_times():
    now = [100.0]
    lane = BackfillLane(capacity=10, reserve=2, max_backfill=1, live_seconds=0.05, hold_seconds=1.0,
                        retry_spread=4, clock=lambda: now[0])
    assert lane.enter(True) and not lane.enter(True)
    assert lane.retry_after() == 1  # no place: one frees up within a batch's time
    lane.leave(True)
    lane.enter(False)
    lane.leave(False, 0.06)
    now[0] += 0.5
    waits = {lane.retry_after() for _ in range(200)}
    assert waits == {1, 2, 3, 4}  # after the lane opens, spread over the next seconds
    now[0] += 0.6
    assert lane.retry_after() == 1


def test_beside_live_batches_fewer_backfill_batches_are_in_flight():
    now = [100.0]
    lane = BackfillLane(capacity=10, reserve=2, max_backfill=2, max_backfill_beside_live=1, hold_seconds=1.0,
                        clock=lambda: now[0])
    assert lane.enter(True) and lane.enter(True) and not lane.enter(True)  # no live batch yet: two
    lane.leave(True)
    lane.leave(True)
    assert lane.enter(False)
    assert lane.enter(True) and not lane.enter(True)  # a live batch in flight: one
    lane.leave(False, 0.001)
    now[0] += 0.9
    assert not lane.enter(True)  # a live batch came in within the last second
    now[0] += 0.1
    assert lane.enter(True)  # a second without one: two again


def test_a_plant_is_catching_up_from_its_backfill_batch_until_a_live_one_or_a_quiet_minute():
    now = [100.0]
    lane = BackfillLane(capacity=10, reserve=2, max_backfill=1, catching_up_seconds=60, clock=lambda: now[0])
    assert lane.enter(True)  # the lane is full now
    assert not lane.defers_unparsed(7)  # nothing known of plant 7: its batch is parsed
    lane.note(7, backfill=True)
    assert lane.defers_unparsed(7) and not lane.defers_unparsed(8)
    lane.leave(True)
    assert not lane.defers_unparsed(7)  # the lane has room: the batch is parsed, and taken if it is backfill
    assert lane.enter(True)
    lane.note(7, backfill=False)  # a live batch: caught up
    assert not lane.defers_unparsed(7)
    lane.note(7, backfill=True)
    now[0] += 59.9
    assert lane.defers_unparsed(7)
    now[0] += 0.1
    assert not lane.defers_unparsed(7)  # a minute without a backfill batch from it here


@pytest.fixture
def saturated(app):
    """A lane on which every live batch counts as slow: the worker looks saturated."""
    original = app.state.backfill_lane
    app.state.backfill_lane = BackfillLane(capacity=original.capacity, reserve=original.reserve,
                                           max_backfill=original.max_backfill, live_seconds=1e-9)
    yield
    app.state.backfill_lane = original


async def test_after_a_slow_live_post_a_backfill_batch_is_429(client, plant, saturated):
    def backfill():
        return batch(plant, movement(passTime=beijing(datetime.now(UTC) - timedelta(days=2)), reupload=True))

    big = await client.post("/api/v1/movements", json=batch(plant, *[movement() for _ in range(11)]),
                            headers=plant.auth)
    assert big.status_code == 200  # slow, but a big batch is not a probe of the worker
    assert (await client.post("/api/v1/movements", json=backfill(), headers=plant.auth)).status_code == 200
    live = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
    assert live.status_code == 200
    refused = await client.post("/api/v1/movements", json=backfill(), headers=plant.auth)
    assert refused.status_code == 429 and refused.json()["error"] == "backfill_deferred"


@pytest.fixture
def busy(app):
    """This worker already carries as much backfill as it ever takes. A fresh lane, filled before any live batch:
    beside one it takes fewer, and a lane filled then would have room again a second later."""
    original = app.state.backfill_lane
    lane = BackfillLane(capacity=original.capacity, reserve=original.reserve, max_backfill=original.max_backfill,
                        max_backfill_beside_live=original.max_backfill_beside_live)
    while lane.enter(True):
        pass
    app.state.backfill_lane = lane
    yield lane
    app.state.backfill_lane = original


async def test_when_busy_a_backfill_batch_is_429_and_a_live_one_is_stored(client, engine, plant, busy):
    from prometheus_client import REGISTRY

    def deferred() -> float:
        return REGISTRY.get_sample_value("hj1321_backfill_deferred_total", {"kind": "movements"}) or 0.0

    before = deferred()
    old = [movement(passTime=beijing(datetime.now(UTC) - timedelta(days=2)), reupload=True) for _ in range(3)]
    refused = await client.post("/api/v1/movements", json=batch(plant, *old), headers=plant.auth)
    assert refused.status_code == 429 and refused.json()["error"] == "backfill_deferred"
    assert int(refused.headers["Retry-After"]) > 0 and deferred() == before + 1
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE record_id = ANY(:ids)",
                        ids=[r["recordId"] for r in old]) == 0
    live = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
    assert live.status_code == 200 and live.json()["accepted"] == 1
    ledger = await client.post("/api/v1/inplant-vehicles", json=batch(plant, inplant_vehicle()), headers=plant.auth)
    assert ledger.status_code == 200


async def test_when_busy_a_plant_catching_up_has_its_large_batches_refused_unparsed(client, plant, other_plant,
                                                                                   busy):
    """Parsing a 500-record batch is most of what refusing it costs: a plant whose last batch was backfill has
    its next large one refused from the headers. Here a body that is not JSON shows whether the body was
    parsed (400) or not (429)."""
    headers = {"Content-Type": "application/json"}
    not_json = b"[" * (20 * 1024)

    async def post(who, content: bytes, path: str = "/api/v1/movements") -> tuple[int, str]:
        answer = await client.post(path, content=content, headers={**who.auth, **headers})
        return answer.status_code, answer.json()["error"] if answer.status_code != 200 else ""

    assert await post(plant, not_json) == (400, "invalid_json")  # not catching up: parsed, and refused as bad JSON
    old = orjson.dumps(batch(plant, movement(passTime=beijing(datetime.now(UTC) - timedelta(days=2)),
                                             reupload=True)))
    assert await post(plant, old) == (429, "backfill_deferred")  # parsed, found backfill: catching up now
    assert await post(plant, not_json) == (429, "backfill_deferred")  # refused unparsed
    assert await post(other_plant, not_json) == (400, "invalid_json")  # another plant's is parsed
    # A ledger is never 补传: the plant's ledger batch is parsed, and does not end its catching up.
    assert await post(plant, not_json, "/api/v1/inplant-vehicles") == (400, "invalid_json")
    ledger = orjson.dumps(batch(plant, inplant_vehicle()))
    assert await post(plant, ledger, "/api/v1/inplant-vehicles") == (200, "")
    assert await post(plant, not_json) == (429, "backfill_deferred")
    assert await post(plant, b" " * 100 + not_json[:100]) == (400, "invalid_json")  # a small body is parsed
    assert await post(plant, orjson.dumps(batch(plant, movement()))) == (200, "")  # live: caught up
    assert await post(plant, not_json) == (400, "invalid_json")


async def test_a_batch_refused_unparsed_is_answered_once_its_body_has_arrived(client, plant, busy):
    """Answering while the client still sends can lose the answer to a connection reset."""
    from service.ingest.router import SMALL_BODY_BYTES
    from tests.test_slow_clients import stalled_body

    old = batch(plant, *[movement(passTime=beijing(datetime.now(UTC) - timedelta(days=2)), reupload=True)
                         for _ in range(40)])
    body = orjson.dumps(old)
    assert len(body) > SMALL_BODY_BYTES
    headers = {**plant.auth, "Content-Type": "application/json", "Content-Length": str(len(body))}
    first = await client.post("/api/v1/movements", content=body, headers=headers)
    assert first.json()["error"] == "backfill_deferred"  # parsed: the plant is catching up now
    release = asyncio.Event()
    second = asyncio.create_task(client.post("/api/v1/movements", content=stalled_body(body, release),
                                             headers=headers))
    await asyncio.sleep(0.3)
    assert not second.done()  # half the body has come: no answer yet
    release.set()
    answer = await second
    assert answer.status_code == 429 and answer.json()["error"] == "backfill_deferred"


async def test_a_batch_held_before_it_was_parsed_is_not_held_again_after(client, plant, busy):
    """A large batch of a plant catching up waits for a place before it is parsed. If another batch takes that
    place while this one is parsed, it is refused then: a gateway's batch is held once, not twice."""
    from service.ingest.router import SMALL_BODY_BYTES

    busy.answer_spread_seconds, busy.fraction = 30.0, lambda: 1.0
    busy.note(plant.id, True)
    wait_for_room = busy.wait_for_room

    async def place_freed_then_taken() -> bool:
        busy.wait_for_room = wait_for_room
        busy.leave(True)
        assert await wait_for_room()
        assert busy.enter(True)  # the other batch, while this one is parsed
        return True

    busy.wait_for_room = place_freed_then_taken
    old = batch(plant, *[movement(passTime=beijing(datetime.now(UTC) - timedelta(days=2)), reupload=True)
                         for _ in range(40)])
    assert len(orjson.dumps(old)) > SMALL_BODY_BYTES
    answer = await asyncio.wait_for(client.post("/api/v1/movements", json=old, headers=plant.auth), 5)
    assert answer.status_code == 429 and answer.json()["error"] == "backfill_deferred"
    assert busy.wait_for_room == wait_for_room  # the hold before parsing was taken


async def test_a_refused_batch_is_answered_a_random_part_of_a_second_later_holding_no_connection(app, client, plant,
                                                                                                busy):
    """Gateways refused together and told "come back in 1 s" would come back together each time: the answer is
    held, by a different part of a second each time, and meanwhile the refused batch holds no database connection."""
    busy.answer_spread_seconds, busy.fraction = 0.5, lambda: 1.0
    old = batch(plant, movement(passTime=beijing(datetime.now(UTC) - timedelta(days=2)), reupload=True))
    await flush_audit()  # earlier requests' audit entries written: the pool holds nothing but what this one takes
    started = asyncio.get_running_loop().time()
    answer = asyncio.create_task(client.post("/api/v1/movements", json=old, headers=plant.auth))
    await asyncio.sleep(0.3)
    assert not answer.done() and app.state.engine.pool.checkedout() == 0
    refused = await answer
    assert asyncio.get_running_loop().time() - started >= 0.5
    assert refused.status_code == 429 and refused.json()["error"] == "backfill_deferred"
    # Refused unparsed now (the plant is catching up): held too.
    busy.fraction = lambda: 0.8
    started = asyncio.get_running_loop().time()
    unparsed = await client.post("/api/v1/movements", content=b"[" * (20 * 1024),
                                 headers={**plant.auth, "Content-Type": "application/json"})
    assert unparsed.json()["error"] == "backfill_deferred"
    assert asyncio.get_running_loop().time() - started >= 0.4


async def test_a_backfill_batch_finding_no_place_is_stored_when_one_frees_while_it_waits(client, engine, plant,
                                                                                         busy):
    """Refused at once, a batch would leave the place it could have had empty until some gateway came back."""
    busy.answer_spread_seconds, busy.fraction = 30.0, lambda: 1.0
    old = [movement(passTime=beijing(datetime.now(UTC) - timedelta(days=2)), reupload=True) for _ in range(3)]
    waiting = asyncio.create_task(client.post("/api/v1/movements", json=batch(plant, *old), headers=plant.auth))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    busy.leave(True)
    answer = await asyncio.wait_for(waiting, 10)
    assert answer.status_code == 200 and answer.json()["accepted"] == 3
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE record_id = ANY(:ids)",
                        ids=[r["recordId"] for r in old]) == 3


def full_lane(**limits: Any) -> BackfillLane:
    """A lane whose two 补传 places are taken, where a batch finding none waits for one up to 30 s."""
    lane = BackfillLane(**{"capacity": 4, "reserve": 2, "max_backfill": 2, "answer_spread_seconds": 30,
                           "fraction": lambda: 1.0, **limits})
    assert lane.enter(True) and lane.enter(True)
    return lane


async def waiting_batch(lane: BackfillLane) -> asyncio.Task[bool]:
    """A 补传 batch that has started waiting for a place."""
    task = asyncio.create_task(lane.enter_or_wait(True))
    await asyncio.sleep(0.01)
    return task


async def test_batches_waiting_for_a_place_take_them_in_turn_and_give_up_at_their_time():
    lane = full_lane()
    first = await waiting_batch(lane)
    second = await waiting_batch(lane)
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done()
    lane.leave(True)
    assert lane.enter(True)  # a batch arriving took the place before the one woken for it could
    await asyncio.sleep(0.05)
    assert not first.done() and not second.done()
    lane.leave(True)
    assert await asyncio.wait_for(first, 1)  # it kept its turn
    await asyncio.sleep(0.05)
    assert not second.done()
    lane.leave(True)
    assert await asyncio.wait_for(second, 1)
    lane.answer_spread_seconds, lane.fraction = 0.2, lambda: 0.5
    started = asyncio.get_running_loop().time()
    assert not await lane.enter_or_wait(True)  # no place came: refused after its part of the spread
    assert asyncio.get_running_loop().time() - started >= 0.1


async def test_a_waiting_batch_is_taken_when_the_second_after_a_live_batch_ends_with_nothing_leaving():
    """Beside live batches fewer backfill batches are in flight; the room that opens a second after the last
    live one is no departure, and must still wake the batch waiting for it."""
    lane = full_lane(capacity=10, max_backfill_beside_live=1, hold_seconds=1.0)
    waiting = await waiting_batch(lane)
    assert lane.enter(False)
    lane.leave(False, seconds=0.001)
    lane.leave(True)  # one 补传 batch in flight: the limit beside live batches, for a second more
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert await asyncio.wait_for(waiting, 2)
    assert not lane.enter(True)  # it took the second place


async def test_a_waiting_batch_is_taken_when_the_lane_reopens_after_slow_live_batches():
    lane = full_lane(capacity=10, live_seconds=0.01, hold_seconds=1.0)
    waiting = await waiting_batch(lane)
    assert lane.enter(False)
    await asyncio.sleep(0.1)
    lane.leave(False, seconds=0.1)  # slow: the lane closes for a second, past the second after this live batch
    lane.leave(True)
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert await asyncio.wait_for(waiting, 2)


async def test_a_batch_woken_for_a_place_whose_client_goes_away_hands_the_place_to_the_next():
    lane = full_lane()
    gone = await waiting_batch(lane)
    next_ = await waiting_batch(lane)
    lane.leave(True)  # wakes the first waiting batch ...
    gone.cancel()  # ... whose client goes away before it takes the place
    assert await asyncio.wait_for(next_, 2)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert not lane.enter(True)  # the next batch took the place


async def test_how_long_batches_waited_and_how_it_ended_is_a_metric():
    from prometheus_client import REGISTRY

    def waits(outcome: str) -> float:
        return REGISTRY.get_sample_value("hj1321_backfill_wait_seconds_count", {"outcome": outcome}) or 0.0

    before = {outcome: waits(outcome) for outcome in ("room", "no_room", "beside_live")}
    lane = full_lane(answer_spread_seconds=0.05)
    assert not await lane.enter_or_wait(True)
    waiting = await waiting_batch(lane)
    lane.leave(True)
    assert await waiting
    assert lane.enter(False)
    assert not await lane.enter_or_wait(True)
    assert {outcome: waits(outcome) - before[outcome] for outcome in before} == {
        "room": 1, "no_room": 1, "beside_live": 1}


async def test_beside_live_batches_a_place_freed_is_theirs_and_the_waiting_batch_is_refused():
    lane = BackfillLane(capacity=10, reserve=2, max_backfill=1, answer_spread_seconds=0.3, fraction=lambda: 1.0)
    assert lane.enter(True)
    assert await asyncio.wait_for(lane.enter_or_wait(False), 1)  # a live batch never waits
    lane.leave(False, seconds=0.001)
    started = asyncio.get_running_loop().time()
    waiting = asyncio.create_task(lane.enter_or_wait(True))
    await asyncio.sleep(0.05)
    lane.leave(True)
    assert not await waiting
    assert asyncio.get_running_loop().time() - started >= 0.3


async def test_a_backfill_batch_goes_ahead_when_the_worker_has_room(client, plant):
    old = [movement(passTime=beijing(datetime.now(UTC) - timedelta(days=2))) for _ in range(3)]
    answer = await client.post("/api/v1/movements", json=batch(plant, *old), headers=plant.auth)
    assert answer.status_code == 200 and answer.json()["accepted"] == 3
    assert {r["late"] for r in answer.json()["results"]} == {True}


async def test_checking_a_large_batch_lets_other_requests_in_between(settings):
    """A 500-record batch is pure Python for tens of milliseconds: it must not hold the event loop whole."""
    from service.ingest.service import check_batch, rule_context
    from service.photos.service import PhotoBundle

    order: list[str] = []

    async def live_request() -> None:
        order.append("live")

    records = [movement() for _ in range(200)]
    waiting = asyncio.create_task(live_request())
    candidates, results = await check_batch(MOVEMENTS, records, rule_context(settings, datetime.now(UTC)),
                                            PhotoBundle(), settings)
    order.append("batch checked")
    await waiting
    assert order == ["live", "batch checked"]
    assert len(candidates) == 200 and [r for r in results if r] == []
    assert [c.index for c in candidates] == list(range(200))


async def test_backfill_waits_between_slices_while_a_live_batch_is_in_flight():
    lane = BackfillLane(capacity=10, reserve=2, max_backfill=2, give_way_seconds=60)
    await asyncio.wait_for(lane.pause_for(True)(), 1)  # nothing live in flight: it only lets others in
    assert lane.enter(False)
    paused = asyncio.create_task(lane.pause_for(True)())
    await asyncio.wait_for(lane.pause_for(False)(), 1)  # a live batch never waits
    await asyncio.sleep(0.05)
    assert not paused.done()
    lane.leave(False)
    await asyncio.wait_for(paused, 1)


async def test_backfill_gives_way_for_a_bounded_time_and_not_at_all_with_the_lane_off():
    lane = BackfillLane(capacity=10, reserve=2, max_backfill=2, give_way_seconds=0.05)
    assert lane.enter(False)  # and never leaves: a steady stream of live batches
    await asyncio.wait_for(lane.pause_for(True)(), 5)
    off = BackfillLane(capacity=10, reserve=2, max_backfill=2, give_way_seconds=0)
    assert off.enter(False)
    await asyncio.wait_for(off.pause_for(True)(), 0.01)


async def test_a_backfill_post_is_held_while_a_live_batch_is_in_flight(app, client, engine, plant):
    original = app.state.backfill_lane
    lane = app.state.backfill_lane = BackfillLane(capacity=original.capacity, reserve=original.reserve,
                                                   max_backfill=original.max_backfill, give_way_seconds=60)
    try:
        old = beijing(datetime.now(UTC) - timedelta(days=2))
        records = [movement(passTime=old, reupload=True) for _ in range(120)]
        assert lane.enter(False)  # a live batch in flight on this worker
        posting = asyncio.create_task(client.post("/api/v1/movements", json=batch(plant, *records),
                                                  headers=plant.auth))
        await asyncio.sleep(0.5)
        assert not posting.done()
        lane.leave(False)
        answer = await asyncio.wait_for(posting, 30)
    finally:
        app.state.backfill_lane = original
    assert answer.status_code == 200 and answer.json()["accepted"] == 120
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 120


@pytest.mark.parametrize("reader", ["gateway", "staff"])
async def test_a_read_is_live_traffic_the_backfill_makes_way_for(app, client, engine, plant, reader):
    """A gateway reading its control measures, or staff querying, during a storm: fewer 补传 batches go on."""
    original = app.state.backfill_lane
    lane = app.state.backfill_lane = BackfillLane(capacity=original.capacity, reserve=original.reserve,
                                                   max_backfill=2, max_backfill_beside_live=1,
                                                   answer_spread_seconds=0)
    old = beijing(datetime.now(UTC) - timedelta(days=2))
    try:
        assert lane.enter(True)  # one 补传 batch in flight on this worker
        alone = await client.post("/api/v1/movements", json=batch(plant, movement(passTime=old, reupload=True)),
                                  headers=plant.auth)
        read = (await client.get("/api/v1/control-measures", headers=plant.auth) if reader == "gateway" else
                await client.get("/api/v1/reports/daily", params={"date": old[:10]},
                                 headers=await staff_token(engine)))
        beside = await client.post("/api/v1/movements", json=batch(plant, movement(passTime=old, reupload=True)),
                                   headers=plant.auth)
    finally:
        app.state.backfill_lane = original
    assert alone.status_code == 200 and read.status_code == 200
    assert beside.status_code == 429 and beside.json()["error"] == "backfill_deferred"


async def test_a_read_is_never_a_probe_of_the_worker():
    """Slow live batches close the lane. A read takes as long as what it reads (a month's report): slow, it does
    not close the lane, and many of them do not outvote the live batches' probes."""
    lane = BackfillLane(capacity=10, reserve=2, max_backfill=2, live_seconds=1e-9)
    for _ in range(20):
        async with lane.live():
            await asyncio.sleep(0.001)
    assert lane.enter(True)  # open
    lane.leave(True)
    lane.enter(False)
    lane.leave(False, 0.01)  # one slow live batch, the only probe: closed
    assert not lane.enter(True)


def test_no_backfill_at_all_beside_live_passes_is_refused_as_a_setting():
    """Backfill that waits until live passes stop could wait for ever: a plant's gates post all day."""
    from pydantic import ValidationError

    from service.config import Settings

    with pytest.raises(ValidationError, match="must be positive"):
        Settings(database_url="postgresql://x/y", backfill_max_in_flight_beside_live=0)


def test_the_lane_takes_its_limits_from_the_settings(settings):
    from service.app import create_app

    lane = create_app(settings.model_copy(update={
        "backfill_max_in_flight": 4, "backfill_max_in_flight_beside_live": 3,
        "backfill_live_latency_ms": 70, "backfill_retry_spread_seconds": 5})).state.backfill_lane
    assert (lane.max_backfill, lane.max_backfill_beside_live) == (4, 3)
    assert (lane.live_seconds, lane.retry_spread) == (0.07, 5)
    assert lane.give_way_seconds == GIVE_WAY_SECONDS  # the lane on: backfill gives way to live batches
    off = create_app(settings.model_copy(update={"backfill_max_in_flight": 0})).state.backfill_lane
    assert off.give_way_seconds == 0
    assert off.enter(False)  # beside a live batch
    taken = sum(off.enter(True) for _ in range(50))
    assert taken == off.capacity - off.reserve - 1 > 1  # the lane off: only the connections' reserve holds
