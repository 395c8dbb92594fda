"""A live pass's round trips to the database. On a busy server each one waits for a core: in a backfill storm a
live pass's latency is mostly these waits, so a pass makes as few as it can."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, text

from tests.conftest import register, scalar
from tests.factories import BEIJING, batch, beijing, movement, png_bytes, sha256_hex

# A plant where no other test announces an alert: one covering it would have a pass judged and its days marked
# after the findings, in more round trips (ingest/service.py).
_NO_ALERT_HERE = "650102"

# Set for the requests a test makes meanwhile, and the tasks they start: other tests' work left running in
# the background has its own statements.
_OURS: ContextVar[bool] = ContextVar("ours", default=False)


@contextmanager
def statements_sent(app: FastAPI) -> Iterator[list[str]]:
    """The start of every statement the requests made meanwhile send, each a round trip: a transaction's first
    goes through SQLAlchemy; its BEGIN, the rest and its COMMIT straight on the driver."""
    sent: list[str] = []
    engine = app.state.engine.sync_engine
    watched: list[Any] = []

    def through_sqlalchemy(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if _OURS.get():
            sent.append(_first_words(statement))

    def on_the_driver(record: Any) -> None:  # called soon after, in a copy of the query's context
        if _OURS.get():
            sent.append(_first_words(record.query))

    def checkout(dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection.driver_connection
        driver.add_query_logger(on_the_driver)
        watched.append(driver)

    event.listen(engine, "before_cursor_execute", through_sqlalchemy)
    event.listen(engine, "checkout", checkout)
    token = _OURS.set(True)
    try:
        yield sent
    finally:
        _OURS.reset(token)
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "before_cursor_execute", through_sqlalchemy)
        for driver in watched:
            driver.remove_query_logger(on_the_driver)


def _first_words(statement: str) -> str:
    return " ".join(statement.split()[:8])


async def test_a_new_pass_takes_five_round_trips_and_marks_its_days_in_its_insert(app, client, engine):
    plant = await register(engine, region_code=_NO_ALERT_HERE)
    # As a gate sends a pass: its photo uploaded first. The plant's first pass also looks up its key and makes
    # the month: the second is the gate's every pass.
    photo = png_bytes()
    uploaded = await client.put(f"/api/v1/photos/{sha256_hex(photo)}", content=photo,
                                headers={**plant.auth, "Content-Type": "image/png"})
    assert uploaded.status_code == 201, uploaded.text
    named = dict.fromkeys(("passPhoto", "listPhoto"), f"sha256:{sha256_hex(photo)}")
    first = await client.post("/api/v1/movements", json=batch(plant, movement(**named)), headers=plant.auth)
    assert first.json()["accepted"] == 1
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM stat_dirty WHERE enterprise_id = :e"), {"e": plant.id})

    with statements_sent(app) as sent:
        response = await client.post("/api/v1/movements", json=batch(plant, movement(**named)), headers=plant.auth)

    assert response.json()["accepted"] == 1 and not response.json()["results"][0]["warnings"]
    # BEGIN, the watch-list and alerts, the photo it names, the insert with its days marked, COMMIT.
    assert len(sent) == 5, sent
    assert not any("stat_dirty" in statement for statement in sent), sent
    today = datetime.now(BEIJING).date()
    marked = await scalar(engine, "SELECT array_agg(pass_date ORDER BY pass_date) FROM stat_dirty "
                                  "WHERE enterprise_id = :e", e=plant.id)
    assert set(marked) >= {today - timedelta(days=1), today}


async def test_a_batch_not_all_new_marks_every_day_it_changed_at_its_end(client, engine, plant):
    now = datetime.now(BEIJING)
    moved = movement(passTime=beijing(now - timedelta(days=6)))
    assert (await client.post("/api/v1/movements", json=batch(plant, moved),
                              headers=plant.auth)).json()["accepted"] == 1
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM stat_dirty WHERE enterprise_id = :e"), {"e": plant.id})

    # A correction moving a pass three days on, beside a new pass: the insert finds a stored key.
    corrected = {**moved, "passTime": beijing(now - timedelta(days=3))}
    fresh = movement(passTime=beijing(now - timedelta(minutes=1)))
    answer = (await client.post("/api/v1/movements", json=batch(plant, corrected, fresh), headers=plant.auth)).json()

    assert [r["status"] for r in answer["results"]] == ["updated", "accepted"]
    marked = await scalar(engine, "SELECT array_agg(pass_date ORDER BY pass_date) FROM stat_dirty "
                                  "WHERE enterprise_id = :e", e=plant.id)
    today = now.date()
    assert marked == sorted({today - timedelta(days=d) for d in (7, 6, 4, 3, 1, 0)})
