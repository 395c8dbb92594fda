"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.migrate import is_at_head
from service.models import include_name, metadata


async def test_migrated_database_matches_the_models(engine):
    async with engine.connect() as connection:
        options = {"compare_type": True, "include_name": include_name}
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts=options), metadata))
    assert diff == []


async def test_the_alert_candidates_index_has_the_predicate_the_findings_query_repeats(engine):
    """The planner uses a partial index only for a query holding its predicate: the migrated index must
    hold the very expression the findings query writes (compare_metadata does not look at predicates)."""
    from sqlalchemy import text

    from service.ingest.models import ALERT_CANDIDATE

    async with engine.connect() as connection:
        await connection.execute(text("CREATE TEMP TABLE candidate_probe (LIKE movement)"))
        await connection.execute(text(f"CREATE INDEX candidate_probe_ix ON candidate_probe (enterprise_id) "
                                      f"WHERE {ALERT_CANDIDATE}"))
        migrated, expected = [(await connection.execute(text(
            "SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = CAST(:name AS regclass)"),
            {"name": name})).scalar() for name in ("ix_movement_alert_candidates", "candidate_probe_ix")]
        await connection.rollback()
    assert migrated is not None and migrated == expected


def test_database_is_at_head(database_url):
    assert is_at_head(database_url)


async def test_upgrading_a_database_of_the_previous_release_keeps_and_mends_its_data(tmp_path, monkeypatch):
    """Rows written under the previous schema get key and token ids, canonical content hashes, photo links;
    photo bytes move out of the database into the photo store the service is configured with."""
    import asyncio
    import hashlib

    import asyncpg
    import rfc8785
    from alembic import command

    from service.config import get_settings
    from service.embedded_db import start_embedded
    from service.migrate import alembic_config, upgrade_to_head

    monkeypatch.setenv("HJ1321_PHOTO_STORE", f"file://{tmp_path / 'store'}")
    get_settings.cache_clear()
    url = start_embedded(tmp_path / "db")
    await asyncio.to_thread(command.upgrade, alembic_config(url), "34de22359412")
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        enterprise = await connection.fetchval(
            "INSERT INTO enterprise (code, name, region_code, industry) VALUES ('91130203MA0UPGRADE', '老企业', "
            "'130203', 'steel') RETURNING id")
        await connection.execute("INSERT INTO gateway_key (enterprise_id, key_hash) VALUES ($1, 'k')", enterprise)
        await connection.execute("INSERT INTO staff_token (name, role, region_prefix, token_hash) "
                                 "VALUES ('老用户', 'viewer', '13', 't')")
        await connection.execute(
            "INSERT INTO movement (enterprise_id, version, received_at, first_received_at, record_id, gate_no, "
            "barrier_no, direction, pass_time, pass_date, plate_no, plate_color, pass_photo, goods_amount, reupload, "
            "late, content_hash, warnings, missing_fields, missing_photos) VALUES ($1, 1, now(), now(), 'R1', '1', "
            "'01', '1', '2026-11-20 08:01:02+08', '2026-11-20', '冀B12345', '1', 'sha256:' || repeat('a', 64), 30.0, "
            "false, false, '\\x00'::bytea, '[]', '{}', '{}')", enterprise)
        photo = b"\x89PNG\r\n\x1a\n" + b"old photo"
        digest = hashlib.sha256(photo).hexdigest()
        await connection.execute("INSERT INTO photo (sha256, content_type, size_bytes, data, enterprise_id) "
                                 "VALUES ($1, 'image/png', $2, $3, $4)", digest, len(photo), photo, enterprise)
        await asyncio.to_thread(upgrade_to_head, url)
        assert (tmp_path / "store" / digest[:2] / digest[2:4] / digest).read_bytes() == photo
        assert await connection.fetchval("SELECT received_at IS NOT NULL FROM photo WHERE sha256 = $1", digest)
        assert (await connection.fetchval("SELECT public_id FROM gateway_key")).startswith("key_")
        assert await connection.fetchval("SELECT public_id LIKE 'tok_%' AND expires_at > now() FROM staff_token")
        content = {"recordId": "R1", "gateNo": "1", "barrierNo": "01", "direction": "1",
                   "passTime": "2026-11-20T00:01:02.000Z", "passPhoto": "sha256:" + "a" * 64, "plateNo": "冀B12345",
                   "plateColor": "1", "goodsAmount": 30}
        assert (await connection.fetchval("SELECT content_hash FROM movement")) == hashlib.sha256(
            rfc8785.dumps(content)).digest()
        assert await connection.fetchval("SELECT enterprise_id FROM photo_enterprise WHERE sha256 = repeat('a', 64)"
                                         ) == enterprise
    finally:
        await connection.close()
        get_settings.cache_clear()


async def test_moving_photos_out_to_a_store_that_fails_says_so_and_keeps_them_in_the_database(tmp_path):
    """`hj1321 migrate` on a database whose photos are still in it, with a photo store that cannot write (here its
    folder is a file; a full disk fails the same way): the line names the store, not the database, and the
    photos stay where they were."""
    import asyncio

    import asyncpg
    from alembic import command

    from service.embedded_db import start_embedded
    from service.migrate import alembic_config
    from tests.serving import hj1321_env, run_hj1321

    url = start_embedded(tmp_path / "var")
    await asyncio.to_thread(command.upgrade, alembic_config(url), "d5e6f7a8b9c0")  # photos still in the database
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        enterprise = await connection.fetchval(
            "INSERT INTO enterprise (code, name, region_code, industry) VALUES ('91130203MA0UPGRADE', '老企业', "
            "'130203', 'steel') RETURNING id")
        await connection.execute("INSERT INTO photo (sha256, content_type, size_bytes, data, enterprise_id) "
                                 "VALUES (repeat('c', 64), 'image/png', 3, '\\x010203'::bytea, $1)", enterprise)
        (tmp_path / "blocked").write_bytes(b"not a folder")
        migrated = run_hj1321(["migrate"], tmp_path, hj1321_env(HJ1321_DATA_DIR=str(tmp_path / "var"),
                                                                 HJ1321_PHOTO_STORE=f"file://{tmp_path / 'blocked'}"))
        assert migrated.returncode == 2
        last = migrated.stderr.strip().splitlines()[-1]
        assert last.startswith(f"hj1321: the photo store {tmp_path / 'blocked'} cannot keep a photo:"), last
        assert "database" not in last and "Traceback" not in migrated.stderr
        assert await connection.fetchval("SELECT data FROM photo WHERE sha256 = repeat('c', 64)") == b"\x01\x02\x03"
    finally:
        await connection.close()
