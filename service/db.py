import functools
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection, Dialect, TextClause, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from service import metrics
from service.config import Settings

# Stable constraint names, so migrations written today still match the models tomorrow.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# How much longer than statement_timeout a statement's answer may take before the server is taken for unreachable.
UNANSWERED_MARGIN_SECONDS = 5.0


def create_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_pre_ping=False,
        # The connection used last is taken first: a few connections stay busy, their server processes and
        # prepared statements warm, where taking them in turn spreads every request over the whole pool.
        pool_use_lifo=True,
        # Record ids and contents never reach the log through a failed statement's parameters.
        hide_parameters=True,
        connect_args={
            # A host that takes the connection and says nothing (hung, or a path half cut) held a request that
            # needed a new connection, and the app's startup, for asyncpg's own 60 s.
            "timeout": settings.db_connect_timeout_seconds,
            # A server that stops answering (its host gone or cut off, the connection never closed) would hold a
            # request and its connection until TCP gave up, a quarter of an hour later. A statement waits no longer
            # than the server's own statement_timeout and a margin; then the request answers 503.
            "command_timeout": settings.db_statement_timeout_seconds + UNANSWERED_MARGIN_SECONDS,
            "server_settings": {
                # A table locked by a migration or an operator, or a runaway query, answers 503 in bounded time.
                "lock_timeout": str(int(settings.db_lock_timeout_seconds * 1000)),
                "statement_timeout": str(int(settings.db_statement_timeout_seconds * 1000)),
                # Over TCP, the server probes a connection idle for a minute. A firewall between the service and
                # the database keeps it open (intranet firewalls drop idle sessions after 10-60 minutes, silently,
                # and the next request on it would hang), and a service host that vanished frees its processes.
                "tcp_keepalives_idle": "60",
                "tcp_keepalives_interval": "10",
                "tcp_keepalives_count": "6",
            },
        },
    )
    event.listen(engine.sync_engine, "checkout", _count_out)
    event.listen(engine.sync_engine, "checkout", _replace_if_closed)
    event.listen(engine.sync_engine, "checkin", _count_in)
    return engine


# The pool's events do not pair up when connecting fails: a connection that could not be made (the database down)
# is "checked in" without having been checked out, and one replaced at checkout is checked out twice. Each pool
# entry notes whether it is counted, so the gauge counts every connection in use once, and no more.
_COUNTED = "hj1321_counted_in_use"


def _count_out(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    noted = record.record_info
    if noted is not None and not noted.get(_COUNTED):
        noted[_COUNTED] = True
        metrics.DB_POOL_IN_USE.inc()


def _count_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    noted = record.record_info
    if noted is not None and noted.pop(_COUNTED, False):
        metrics.DB_POOL_IN_USE.dec()


def _replace_if_closed(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """A pooled connection whose server process has gone (PostgreSQL restarted or failed over, an operator's
    pg_terminate_backend, idle_session_timeout) is replaced before a request gets it, instead of failing that
    request with 503. The server's goodbye reached the driver while the connection sat idle, so this costs no
    round trip, unlike a ping on every checkout."""
    if record.driver_connection is not None and record.driver_connection.is_closed():
        raise DisconnectionError("the database closed this connection while it was idle")


def session_engine(session: AsyncSession) -> AsyncEngine:
    """The engine a session draws from, for work that must run in a transaction of its own."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        raise TypeError("the session is not bound to an engine")
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def _committed(request: Request) -> AsyncIterator[AsyncSession]:
    """The one commit point of a request: commit after the route returns, roll back on any error."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        started = time.perf_counter()
        await session.connection()  # taken now, so the wait for a pooled connection is measured
        metrics.DB_POOL_WAIT.observe(time.perf_counter() - started)
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request is live traffic while it holds its session: 补传 batches make way for it (limits.py)."""
    async with request.app.state.backfill_lane.live(), _committed(request) as session:
        yield session


async def get_admitted_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A batch's session: its admission has placed it in the lane already, as live or as backfill."""
    async with _committed(request) as session:
        yield session


# scope="function" runs the commit before the response is sent, so a failed commit is a 5xx.
# Routes declare it after their credential and body, so no connection is held while those arrive.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
AdmittedSessionDep = Annotated[AsyncSession, Depends(get_admitted_session, scope="function")]


@asynccontextmanager
async def own_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """A short transaction of its own, committed at once: for looking up a credential and noting it was
    used, which must hold neither a connection nor a row lock while the request goes on."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session
        await session.commit()


class Rows:
    """What a statement returned: its rows, each indexed and unpacked like a tuple, and its columns' names."""

    __slots__ = ("_names", "_rows")

    def __init__(self, rows: list[Any], names: list[str] | None = None) -> None:
        self._rows = rows
        self._names = names

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise NoResultFound("no row") if not self._rows else MultipleResultsFound(f"{len(self._rows)} rows")
        return self._rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]

    def mappings(self) -> list[dict[str, Any]]:
        names = self._names if self._names is not None else list(self._rows[0].keys()) if self._rows else []
        return [dict(zip(names, row, strict=True)) for row in self._rows]


_DRIVER = "driver_connection"


@event.listens_for(Session, "after_begin")
def _note_driver(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    session.info[_DRIVER] = connection.connection.driver_connection


@event.listens_for(Session, "after_transaction_end")
def _forget_driver(session: Session, transaction: SessionTransaction) -> None:
    # The connection goes back to the pool, where another session may begin its own transaction on it.
    if transaction.parent is None:
        session.info.pop(_DRIVER, None)


@functools.lru_cache(maxsize=1024)
def _positional(statement: TextClause, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """A text() statement as the driver takes it: $n placeholders, and the parameter name of each n."""
    compiled = statement.compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup or ())


async def run_sql(session: AsyncSession, statement: TextClause, params: Mapping[str, Any]) -> Rows:
    """Run a text() statement in the session's transaction.

    Once the transaction has begun, straight on asyncpg: SQLAlchemy's layers cost about 0.1 ms of CPU a
    statement over the driver's own prepared statement, about a quarter of a single pass's ingest. The driver
    caches the statement prepared, as SQLAlchemy would. Its first statement goes through SQLAlchemy, which
    issues the BEGIN and so owns the transaction's COMMIT and ROLLBACK: a BEGIN issued here would be
    unknown to it, and its commit would commit nothing."""
    driver = session.info.get(_DRIVER)
    if driver is None or not driver.is_in_transaction():
        result = await session.exec(statement, params=params)  # type: ignore[call-overload]
        return Rows(list(result.all()), list(result.keys())) if result.returns_rows else Rows([])
    sql, names = _positional(statement, session.sync_session.get_bind().dialect)
    try:
        return Rows(await driver.fetch(sql, *(params[name] for name in names)))
    except Exception as exc:
        # Raised as SQLAlchemy raises the driver's errors, so one handler serves both paths.
        raise DBAPIError.instance(sql, None, exc, Exception, hide_parameters=True) from exc


_CUSTOM_PLANS = text("SELECT current_setting('plan_cache_mode'), "
                     "set_config('plan_cache_mode', 'force_custom_plan', true)")
_RESTORE_PLANS = text("SELECT set_config('plan_cache_mode', :mode, true)")


@asynccontextmanager
async def planned_for_values(session: AsyncSession) -> AsyncIterator[None]:
    """Statements run inside are planned for their own parameters, every time.

    The driver prepares statements, and after five runs PostgreSQL may keep a generic plan, made blind to the
    values and often far worse for a read whose best path depends on them: the alerts' findings took 10 s
    instead of 0.4 s over 10 M movements; a page of a plant's movements read the plant's whole month (12,000
    rows, 21 ms) instead of the page (1.2 ms). Planning each time costs a fraction of a millisecond, which
    a bureau read can afford and the ingest's hot path, whose plans do not depend on the values, need not pay."""
    mode = (await run_sql(session, _CUSTOM_PLANS, {})).one()[0]
    try:
        yield
    finally:
        await run_sql(session, _RESTORE_PLANS, {"mode": mode})
