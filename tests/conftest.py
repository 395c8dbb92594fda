"""Tests run against a real PostgreSQL: the embedded server, built through the real migrations.

Each test registers enterprises of its own, so tests never see each other's rows and nothing is
rolled back behind the service's back: what the service commits is what the test reads.
"""

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.app import create_app
from service.auth.service import Issued, add_staff
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.embedded_db import start_embedded
from service.enterprises.service import add_enterprise
from service.migrate import upgrade_to_head
from tests.factories import Enterprise, new_enterprise_code


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or start_embedded(tmp_path_factory.mktemp("db"))
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # The photo store lives under the data folder: the suite's own, never the checkout's var/. The
    # hand-counted tests pass on fixed days of 2026, which must never fall out of the retention window;
    # the retention check itself is tested with its production setting. No maintenance rounds behind the
    # tests' backs (tests/retention runs them itself).
    return Settings(database_url=database_url, data_dir=tmp_path_factory.mktemp("data"), retention_months=1200,
                    maintenance_interval_seconds=0)


_APPS: list[FastAPI] = []


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        _APPS.append(application)
        yield application
        _APPS.remove(application)


async def flush_audit() -> None:
    """Wait until the suite's app has committed the audit entries its requests handed to the writer."""
    for application in _APPS:
        await application.state.audit_writer.flush()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    db_engine = create_engine(settings)
    yield db_engine
    await db_engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session for a test's own reads and setup writes (committed by the test when it writes)."""
    async with create_sessionmaker(engine)() as db_session:
        yield db_session


async def rows_fetched(session: AsyncSession, table_like: str) -> int:
    """Rows fetched through indexes so far in the session's transaction from the tables named like
    `table_like`: what a read cost, counted (a time would be the shared machine's noise)."""
    return int((await session.exec(text(
        "SELECT coalesce(sum(idx_tup_fetch), 0) FROM pg_stat_xact_user_tables WHERE relname LIKE :table"),
        params={"table": table_like})).one()[0])


async def register(engine: AsyncEngine, *, code: str | None = None, region_code: str = "130203") -> Enterprise:
    async with create_sessionmaker(engine)() as db_session:
        enterprise, key = await add_enterprise(db_session, code=code or new_enterprise_code(), name="测试企业",
                                               region_code=region_code, industry="coking", now=datetime.now(UTC))
        await db_session.commit()
    assert enterprise.id is not None
    return Enterprise(id=enterprise.id, code=enterprise.code, key=key.secret, key_id=key.id)


async def issue_staff(engine: AsyncEngine, *, role: str = "viewer", region: str = "13", name: str = "核查员",
                      days: float | None = None) -> Issued:
    """A new staff token, issued as the command line would."""
    async with create_sessionmaker(engine)() as db_session:
        issued = await add_staff(db_session, name=name, role=role, region_prefix=region, now=datetime.now(UTC),
                                 days=days)
        await db_session.commit()
    return issued


async def staff_token(engine: AsyncEngine, *, role: str = "viewer", region: str = "13") -> dict[str, str]:
    """Authorization headers of a new staff token."""
    return {"Authorization": f"Bearer {(await issue_staff(engine, role=role, region=region)).secret}"}


@pytest.fixture
async def plant(engine: AsyncEngine) -> Enterprise:
    return await register(engine)


@pytest.fixture
async def other_plant(engine: AsyncEngine) -> Enterprise:
    return await register(engine)


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as connection:
        return (await connection.execute(text(sql), params)).scalar()
