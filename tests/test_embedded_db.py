"""The embedded server's database: made once, with a locale that does not depend on the machine."""

import asyncpg

from service.embedded_db import start_embedded


async def test_the_embedded_database_compares_text_by_its_bytes_on_every_machine(tmp_path):
    """Record ids, photo hashes and plates are ordered by their bytes in every index, whatever C library the
    machine has: PostgreSQL's own locale, not the C library's, which an upgrade can change under built indexes."""
    url = start_embedded(tmp_path / "db").replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(url)
    try:
        provider, locale = await connection.fetchrow(
            "SELECT datlocprovider, datlocale FROM pg_database WHERE datname = current_database()")
        in_order = await connection.fetchval("SELECT array_agg(v ORDER BY v) FROM unnest(ARRAY['b', 'B', '冀', 'a']) v")
        upper = await connection.fetchval("SELECT upper('é')")
    finally:
        await connection.close()
    assert (provider, locale) == (b"b", "C.UTF-8")
    assert in_order == ["B", "a", "b", "冀"]  # by bytes: upper case before lower, Chinese after ASCII
    assert upper == "É"  # characters still classified by Unicode
