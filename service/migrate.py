"""Apply the alembic migrations (the only way the schema changes)."""

import asyncio

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from service.config import MIGRATIONS_DIR


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an ini option: configparser would choke on '%' in passwords.
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Synchronous: alembic's env.py runs its own event loop, so call this outside one."""
    command.upgrade(alembic_config(database_url), "head")


def is_at_head(database_url: str) -> bool:
    """Whether the database's schema is at the newest migration (synchronous, like upgrade_to_head)."""
    heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())

    async def current() -> set[str]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: set(MigrationContext.configure(sync).get_current_heads()))
        finally:
            await engine.dispose()

    return asyncio.run(current()) == heads
