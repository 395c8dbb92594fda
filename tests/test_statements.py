"""run_sql: a transaction's first statement through SQLAlchemy, the rest straight on the driver, one transaction."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from service.db import create_engine, create_sessionmaker, run_sql
from service.errors import database_failure
from tests.conftest import scalar

_INSERT = text("INSERT INTO statement_probe (k, note) VALUES (:k, :note) RETURNING k")
_SELECT = text("SELECT k, note FROM statement_probe WHERE k >= :low ORDER BY k")
_FIRST = text("SELECT 1")


@pytest.fixture
async def probe(engine) -> AsyncIterator[None]:
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE statement_probe (k integer PRIMARY KEY, note text)"))
    yield
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE statement_probe"))


async def test_a_failing_statement_on_the_driver_raises_as_sqlalchemy_raises_it(engine, probe):
    async with create_sessionmaker(engine)() as session:
        await run_sql(session, _FIRST, {})
        await run_sql(session, _INSERT, {"k": 1, "note": "SECRET-NOTE"})
        with pytest.raises(DBAPIError) as raised:
            await run_sql(session, _INSERT, {"k": 1, "note": "SECRET-NOTE"})
    assert getattr(raised.value.orig, "sqlstate", None) == "23505"
    assert database_failure(raised.value) is None  # a permanent error, not a 503
    assert "SECRET-NOTE" not in str(raised.value)


async def test_a_lock_wait_on_the_driver_is_busy(engine, probe):
    async with engine.connect() as holder:
        await holder.begin()
        await holder.execute(text("LOCK TABLE statement_probe IN ACCESS EXCLUSIVE MODE"))
        async with create_sessionmaker(engine)() as session:
            await run_sql(session, text("SET LOCAL lock_timeout = '100ms'"), {})
            with pytest.raises(DBAPIError) as raised:
                await run_sql(session, _SELECT, {"low": 0})
        await holder.rollback()
    assert database_failure(raised.value) == "busy"


async def test_statements_after_the_first_commit_and_roll_back_with_it(engine, probe):
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        await run_sql(session, _FIRST, {})
        await run_sql(session, _INSERT, {"k": 1, "note": "rolled back"})
        await session.rollback()
        await run_sql(session, _FIRST, {})
        await run_sql(session, _INSERT, {"k": 2, "note": "committed"})
        await session.commit()
    assert await scalar(engine, "SELECT string_agg(note, ',') FROM statement_probe") == "committed"


async def test_only_each_transactions_first_statement_goes_through_sqlalchemy(engine, probe):
    executed: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        executed.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        async with create_sessionmaker(engine)() as session:
            for k in (1, 2, 3):
                await run_sql(session, _INSERT, {"k": k, "note": str(k)})
            await session.commit()
            # A new transaction, perhaps on another pooled connection: the driver it uses is that one's.
            assert [row[0] for row in (await run_sql(session, _SELECT, {"low": 2})).all()] == [2, 3]
            assert (await run_sql(session, _INSERT, {"k": 4, "note": "4"})).scalars() == [4]
            await session.commit()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)
    assert len(executed) == 2
    assert await scalar(engine, "SELECT count(*) FROM statement_probe") == 4


async def test_a_committed_session_never_runs_on_the_connection_it_gave_back(settings, probe):
    engine = create_engine(settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_seconds": 0.2}))
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as first, sessionmaker() as second:
            await run_sql(first, _FIRST, {})
            await first.commit()
            await run_sql(second, _FIRST, {})  # the pool's only connection, in the second's transaction now
            with pytest.raises(PoolTimeoutError):
                await run_sql(first, _INSERT, {"k": 1, "note": "the first's"})
            await second.rollback()
    finally:
        await engine.dispose()


async def test_rows_answer_alike_through_either_path(engine, probe):
    async with create_sessionmaker(engine)() as session:
        through_sqlalchemy = await run_sql(session, _SELECT, {"low": 0})
        await run_sql(session, _INSERT, {"k": 1, "note": "one"})
        await run_sql(session, _INSERT, {"k": 2, "note": "two"})
        on_the_driver = await run_sql(session, _SELECT, {"low": 0})
        one = await run_sql(session, _SELECT, {"low": 2})
        await session.rollback()
    assert through_sqlalchemy.all() == [] and through_sqlalchemy.first() is None
    with pytest.raises(NoResultFound):
        through_sqlalchemy.one()
    assert on_the_driver.mappings() == [{"k": 1, "note": "one"}, {"k": 2, "note": "two"}]
    assert [tuple(row) for row in on_the_driver.all()] == [(1, "one"), (2, "two")]
    with pytest.raises(MultipleResultsFound):
        on_the_driver.one()
    assert one.scalar_one() == 2 and one.first()[1] == "two"


async def test_a_request_takes_the_connection_given_back_last(settings):
    """Requests one after another keep to one warm connection, however many the pool has made."""
    engine = create_engine(settings.model_copy(update={"db_pool_size": 3}))
    backend = text("SELECT pg_backend_pid()")
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as a, sessionmaker() as b, sessionmaker() as c:
            made = [(await run_sql(s, backend, {})).scalar_one() for s in (a, b, c)]
        # c closed first, a last: a's connection is the one given back last
        after = []
        for _ in range(3):
            async with sessionmaker() as session:
                after.append((await run_sql(session, backend, {})).scalar_one())
    finally:
        await engine.dispose()
    assert len(set(made)) == 3
    assert after == [made[0]] * 3
