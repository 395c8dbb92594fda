"""The audit log over HTTP and on the command line: who did what, kept append-only and chained."""

import asyncio
import csv
import hashlib
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.audit import repository as audit_repository
from service.audit import service as audit
from service.audit.service import CLI
from service.db import create_sessionmaker
from tests.conftest import issue_staff, register, rows_fetched, staff_token
from tests.factories import batch, movement
from tests.serving import hj1321_env, run_hj1321

BEIJING = timezone(timedelta(hours=8))
TODAY = datetime.now(BEIJING).date().isoformat()  # the API's days are Beijing days


async def entries(engine, **where) -> list[dict]:
    """The audit log as committed, once the writer has written what the requests so far handed it."""
    from tests.conftest import flush_audit

    await flush_audit()
    clauses = " AND ".join(f"{column} = :{column}" for column in where) or "true"
    async with engine.connect() as connection:
        rows = await connection.execute(text(f"SELECT * FROM audit_entry WHERE {clauses} ORDER BY id"), where)
        return [dict(row._mapping) for row in rows]


async def test_each_staff_request_is_one_entry_whatever_its_status(client, engine):
    plant = await register(engine, region_code="130203")
    viewer = await issue_staff(engine, region="1302")
    headers = {"Authorization": f"Bearer {viewer.secret}", "X-Request-ID": "req-audit-1"}
    listed = await client.get("/api/v1/movements", params={"enterpriseCode": plant.code, "limit": 5},
                              headers=headers)
    assert listed.status_code == 200
    outsider = await register(engine, region_code="110105")
    denied = await client.get(f"/api/v1/enterprises/{outsider.code}/missing", params={"date": TODAY},
                              headers={"Authorization": f"Bearer {viewer.secret}"})
    assert denied.status_code == 403
    mine = [e for e in await entries(engine) if e["actor"]["id"] == viewer.id]
    assert [(e["action"], e["status"]) for e in mine] == [
        ("GET /api/v1/movements", 200), ("GET /api/v1/enterprises/{code}/missing", 403)]
    read = mine[0]
    assert read["actor"] == {"type": "staff", "id": viewer.id, "name": "核查员", "role": "viewer",
                             "regionCode": "1302"}
    assert read["target"] == plant.code and read["target_region"] == "130203"
    assert read["query"] == {"enterpriseCode": plant.code, "limit": "5"} and read["rows"] == 0
    assert read["request_id"] == "req-audit-1" and read["client_ip"]
    assert mine[1]["target"] == outsider.code


async def test_failed_authentication_is_recorded_and_gateway_traffic_is_not(client, engine):
    plant = await register(engine)
    before = len(await entries(engine))
    assert (await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
            ).status_code == 200
    assert len(await entries(engine)) == before  # counted in metrics and stored as data, not audited
    await client.post("/api/v1/movements", json=batch(plant, movement()), headers={"Authorization": "Bearer hjg_x"})
    await client.get("/api/v1/enterprises")
    failed = (await entries(engine))[before:]
    assert [(e["actor"]["type"], e["status"], e["action"]) for e in failed] == [
        ("anonymous", 401, "POST /api/v1/movements"), ("anonymous", 401, "GET /api/v1/enterprises")]


async def test_an_admin_action_is_one_entry_with_before_and_after(client, engine):
    plant = await register(engine, region_code="130203")
    admin = await issue_staff(engine, role="admin", region="13")
    headers = {"Authorization": f"Bearer {admin.secret}"}
    changed = await client.patch(f"/api/v1/admin/enterprises/{plant.code}", json={"name": "改名后的企业"},
                                 headers=headers)
    assert changed.status_code == 200
    refused = await client.post("/api/v1/admin/staff", json={"name": "x", "role": "auditor", "regionCode": "13"},
                                headers=headers)
    assert refused.status_code == 403
    mine = [e for e in await entries(engine) if e["actor"]["id"] == admin.id]
    assert [(e["action"], e["status"]) for e in mine] == [("enterprise.update", 200), ("staff.create", 403)]
    assert mine[0]["before"]["name"] == "测试企业" and mine[0]["after"]["name"] == "改名后的企业"
    assert mine[0]["target"] == plant.code


async def test_the_command_line_is_audited_as_cli(database_url, tmp_path, engine):
    code = "91130203MA0AUD1T0X"
    added = run_hj1321(["enterprise", "add", "--code", code, "--name", "审计测试", "--region", "130203"], tmp_path,
                       hj1321_env(DATABASE_URL=database_url))
    assert added.returncode == 0, added.stderr
    created = await entries(engine, target=code)
    assert [(e["actor"]["type"], e["action"]) for e in created] == [("cli", "enterprise.create")]
    assert added.stdout.strip().splitlines()[-1] not in str(created)  # never a secret


async def test_the_database_refuses_to_change_or_remove_entries(engine):
    newest = (await entries(engine))[-1]["id"] if await entries(engine) else None
    if newest is None:
        async with create_sessionmaker(engine)() as session:
            newest = (await audit.append(session, actor=CLI, action="test.entry", status=200)).id
            await session.commit()
    for statement in (f"UPDATE audit_entry SET status = 200 WHERE id = {newest}",
                      f"DELETE FROM audit_entry WHERE id = {newest}", "TRUNCATE audit_entry",
                      # the purge's own switch, on an entry younger than 180 days
                      "SELECT set_config('hj1321.audit_purge', 'on', true); "
                      f"DELETE FROM audit_entry WHERE id = {newest}"):
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                for part in statement.split("; "):
                    await connection.execute(text(part))
            await connection.rollback()


def test_retention_below_six_months_is_refused():
    from pydantic import ValidationError

    from service.config import Settings

    with pytest.raises(ValidationError, match="180 days"):
        Settings(database_url="postgresql://x/y", audit_retention_days=179)


async def test_audit_verify_names_an_entry_edited_behind_the_services_back(client, engine, database_url, tmp_path):
    await client.get("/api/v1/enterprises", headers=await staff_token(engine))
    await entries(engine)
    env = hj1321_env(DATABASE_URL=database_url)
    holds = run_hj1321(["audit", "verify"], tmp_path, env)
    assert holds.returncode == 0 and "the chain holds" in holds.stdout, holds.stdout + holds.stderr
    victim = (await entries(engine))[-1]
    async with engine.begin() as connection:  # a superuser can switch triggers off: the chain still tells
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(text("UPDATE audit_entry SET status = 200, rows = 0 WHERE id = :id"),
                                 {"id": victim["id"]})
    try:
        broken = run_hj1321(["audit", "verify"], tmp_path, env)
        assert broken.returncode == 1
        assert f"audit entry {victim['id']}:" in broken.stdout and "edited" in broken.stdout
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            await connection.execute(text("UPDATE audit_entry SET status = :s, rows = :r WHERE id = :id"),
                                     {"id": victim["id"], "s": victim["status"], "r": victim["rows"]})
    assert run_hj1321(["audit", "verify"], tmp_path, env).returncode == 0


async def test_the_chain_is_sha256_of_the_previous_hash_and_the_canonical_entry(client, engine):
    import rfc8785

    await client.get("/api/v1/enterprises", headers=await staff_token(engine))
    await entries(engine)
    auditor = await staff_token(engine, role="auditor", region="")
    items = (await client.get("/api/v1/audit", params={"from": TODAY, "to": TODAY, "limit": 3},
                              headers=auditor)).json()["items"]
    newer, older = items[0], items[1]
    assert newer["prevHash"] == older["hash"]
    content = {k: v for k, v in newer.items() if k != "hash"}
    assert newer["hash"] == hashlib.sha256(newer["prevHash"].encode() + rfc8785.dumps(content)).hexdigest()


async def test_auditors_read_their_jurisdiction_only_and_nothing_else(client, engine):
    tangshan_plant = await register(engine, region_code="130203")
    beijing_plant = await register(engine, region_code="110105")
    await client.get(f"/api/v1/enterprises/{tangshan_plant.code}/missing", params={"date": TODAY},
                     headers=await staff_token(engine, region="1302"))
    await client.get(f"/api/v1/enterprises/{beijing_plant.code}/missing", params={"date": TODAY},
                     headers=await staff_token(engine, region="11"))
    await entries(engine)
    auditor = await staff_token(engine, role="auditor", region="1302")
    seen = (await client.get("/api/v1/audit", params={"from": TODAY, "to": TODAY, "limit": 500},
                             headers=auditor)).json()
    targets = {item["target"] for item in seen["items"]}
    assert tangshan_plant.code in targets and beijing_plant.code not in targets
    assert all(item["actor"]["regionCode"].startswith("1302") or (item["targetRegion"] or "").startswith("1302")
               for item in seen["items"])
    for forbidden in ("/api/v1/movements", f"/api/v1/enterprises/{tangshan_plant.code}/missing"):
        answer = await client.get(forbidden, params={"date": TODAY}, headers=auditor)
        assert (answer.status_code, answer.json()["error"]) == (403, "wrong_role")
    exported = await client.get("/api/v1/audit/export", params={"from": TODAY, "to": TODAY}, headers=auditor)
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {row["target"] for row in rows} >= {tangshan_plant.code}
    assert beijing_plant.code not in exported.text and all(len(row["hash"]) == 64 for row in rows)


async def test_audit_pages_and_filters(client, engine):
    viewer = await issue_staff(engine, region="13")
    for _ in range(3):
        await client.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {viewer.secret}"})
    await entries(engine)
    auditor = await staff_token(engine, role="auditor", region="")
    params = {"from": TODAY, "to": TODAY, "actor": viewer.id, "limit": 2}
    first = (await client.get("/api/v1/audit", params=params, headers=auditor)).json()
    assert len(first["items"]) == 2 and first["nextCursor"]
    second = (await client.get("/api/v1/audit", params={**params, "cursor": first["nextCursor"]},
                               headers=auditor)).json()
    assert len(second["items"]) == 1 and second["nextCursor"] is None
    assert [i["id"] for i in first["items"] + second["items"]] == sorted(
        (i["id"] for i in first["items"] + second["items"]), reverse=True)
    none = (await client.get("/api/v1/audit", params={**params, "action": "staff.revoke"}, headers=auditor)).json()
    assert none["items"] == []
    gone = (await client.get("/api/v1/audit", params={**params, "cursor": "999999999999"}, headers=auditor)).json()
    assert (gone["items"], gone["nextCursor"]) == ([], None)  # a cursor whose entry was purged: nothing follows
    bad = await client.get("/api/v1/audit", params={**params, "cursor": "abc"}, headers=auditor)
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_cursor")


async def test_a_page_of_an_old_window_reads_its_entries_not_the_log_after_it(session):
    """Ordered by id alone, PostgreSQL walked the log back from its newest entry to reach an old window (it
    supposes a window's entries spread over every id), and after five such pages kept that plan for any
    window. What a page costs is counted by the rows it fetched, in the transaction's own statistics."""
    now = datetime.now(UTC)
    # A year of entries, never committed: the session's transaction ends with the test.
    await session.exec(text("""
        INSERT INTO audit_entry (id, at, actor, actor_region, target_region, action, status, prev_hash, hash, query)
        SELECT 1000000000000 + g, CAST(:now AS timestamptz) - (20000 - g) * interval '26 minutes',
               '{"type": "staff", "id": "s1"}', '1302', '1302', 'GET /api/v1/movements', 200,
               md5('prev' || g), md5('page-test' || g), '{}'
        FROM generate_series(1, 20000) AS g"""), params={"now": now})
    await session.exec(text("ANALYZE audit_entry"))

    async def fetched(start: datetime, end: datetime, before_id: int | None = None) -> tuple[list[int], int]:
        before = await rows_fetched(session, "audit_entry")
        rows = await audit_repository.page(session, region_prefix="13", start=start, end=end, actor=None,
                                           action=None, before_id=before_id, limit=50)
        return [row.id or 0 for row in rows], await rows_fetched(session, "audit_entry") - before

    old = (now - timedelta(days=300), now - timedelta(days=295))
    for _ in range(6):  # on one connection, so the statement's plan may be kept
        ids, rows_read = await fetched(*old)
        assert len(ids) == 50 and rows_read < 200  # the log after the window holds 16,000
    following, rows_read = await fetched(*old, before_id=ids[-1])
    assert following == list(range(ids[-1] - 1, ids[-1] - 51, -1)) and rows_read < 200
    # A wide window, ending before the other tests' entries: its newest 50 are read and no more.
    newest, rows_read = await fetched(now - timedelta(days=365), now - timedelta(days=2))
    assert newest == list(range(1000000019889, 1000000019839, -1)) and rows_read < 200


async def test_the_purge_keeps_six_months_and_the_chain_still_verifies(tmp_path):
    from service.embedded_db import start_embedded
    from service.migrate import upgrade_to_head

    url = start_embedded(tmp_path / "db")  # its own database: entries dated a year back
    await asyncio.to_thread(upgrade_to_head, url)
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    now = datetime.now(UTC)
    try:
        async with create_sessionmaker(engine)() as session:
            for days in (400, 300, 200, 100, 1):
                await audit.append(session, actor=CLI, action="test.entry", status=200, at=now - timedelta(days=days))
            await session.commit()
        async with create_sessionmaker(engine)() as session:
            assert await audit.purge(session, retention_days=30, now=now) == 3  # 30 asked, 180 kept
            await session.commit()
        async with create_sessionmaker(engine)() as session:
            checked, broken = await audit.verify(session)
        assert broken is None and checked == 3  # the 100- and 1-day entries and the purge's own
        async with engine.connect() as connection:
            kept = (await connection.execute(text("SELECT action FROM audit_entry ORDER BY id"))).scalars().all()
        assert kept == ["test.entry", "test.entry", "audit.purge"]
    finally:
        await engine.dispose()


async def test_when_the_log_cannot_be_written_staff_requests_are_refused_not_answered(settings, engine):
    from tests.serving import serving

    viewer = await staff_token(engine)
    async with serving(settings, audit_backlog_entries=2, retry_after_seconds=7) as (client, app):
        await app.state.audit_writer.stop()  # as if the log's database had gone: nothing drains the backlog
        answers = [await client.get("/api/v1/enterprises", headers=viewer) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 503]
        assert answers[2].json()["error"] == "audit_unavailable" and answers[2].headers["Retry-After"] == "7"
        plant = await register(engine)  # gateways are not held up by the audit log
        posted = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
        assert posted.status_code == 200
