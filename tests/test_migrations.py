"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.migrate import is_at_head
from service.models import metadata


async def test_migrated_database_matches_the_models(engine):
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata))
    assert diff == []


def test_database_is_at_head(database_url):
    assert is_at_head(database_url)
