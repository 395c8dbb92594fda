import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Result, TextClause, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
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


def create_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_pre_ping=False,
        # Record ids and contents never reach the log through a failed statement's parameters.
        hide_parameters=True,
        connect_args={"server_settings": {
            # A table locked by a migration or an operator, or a runaway query, answers 503 in bounded time.
            "lock_timeout": str(int(settings.db_lock_timeout_seconds * 1000)),
            "statement_timeout": str(int(settings.db_statement_timeout_seconds * 1000)),
        }},
    )
    event.listen(engine.sync_engine, "checkout", lambda *_: metrics.DB_POOL_IN_USE.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: metrics.DB_POOL_IN_USE.dec())
    return engine


def session_engine(session: AsyncSession) -> AsyncEngine:
    """The engine a session draws from, for work that must run in a transaction of its own."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        raise TypeError("the session is not bound to an engine")
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
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


# scope="function" runs the commit before the response is sent, so a failed commit is a 5xx.
# Routes declare it after their credential and body, so no connection is held while those arrive.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@asynccontextmanager
async def own_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """A short transaction of its own, committed at once: for looking up a credential and noting it was
    used, which must hold neither a connection nor a row lock while the request goes on."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session
        await session.commit()


async def run_sql(session: AsyncSession, statement: TextClause, params: Mapping[str, Any]) -> Result[*tuple[Any, ...]]:
    """Run a text() statement in the session's transaction (SQLModel's exec() is typed for ORM statements)."""
    return await session.exec(statement, params=params)  # type: ignore[call-overload,no-any-return]
