"""Retention: whole months of movements go with their keys, versions, figures and the photos only they
named; the natural key holds across months, also for a correction that moves a pass to another month.

The suite keeps records for 100 years, so these tests post passes of 2001 and purge as if it were 2001 with
a two-month window: nothing of the other tests (all later) is in reach."""

import asyncio
import base64
import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from service import metrics, partitions, retention
from service.ingest.payloads import BEIJING
from service.maintenance import LOCK_KEY, run_once
from service.photos.store import FilePhotoStore, photo_store
from tests import factories
from tests.conftest import flush_audit, register, scalar, staff_token
from tests.factories import batch, inplant_vehicle, png_bytes, sha256_hex
from tests.serving import hj1321_env, run_hj1321

# Beijing 2001-05-10: a two-month window starts 2001-03-10, so March is the oldest month kept.
NOW_2001 = datetime(2001, 5, 10, 4, 0, tzinfo=UTC)


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


async def arrived(engine, at: datetime, *photos: bytes) -> None:
    """The photos arrived at `at` (in 2001, as their passes did), not when the test sent them."""
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE photo SET received_at = :at "
                                      "WHERE sha256 = ANY(CAST(:h AS text[]))"),
                                 {"at": at, "h": [sha256_hex(p) for p in photos]})


def movement(**overrides):
    """A pass of 2001, by a truck registered before it."""
    return factories.movement(registerDate="1999-06-01", **overrides)


async def post(client, plant, *records):
    """Posted as a gateway does: a 补传 batch deferred while others run (429) is sent again."""
    response = await client.post("/api/v1/movements", json=batch(plant, *records), headers=plant.auth)
    while response.status_code == 429:
        await asyncio.sleep(0.01)
        response = await client.post("/api/v1/movements", json=batch(plant, *records), headers=plant.auth)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert all(r["status"] != "rejected" for r in results), results
    return results


async def test_a_dry_run_removes_nothing_and_counts_what_the_purge_then_removes(client, engine, settings):
    plant = await register(engine)
    await post(client, plant, movement(recordId="DRY-JAN", passTime="2001-01-20 10:00:00"),
               movement(recordId="DRY-MAR", passTime="2001-03-20 10:00:00"))
    window = settings.model_copy(update={"retention_months": 2})
    planned = await retention.plan(engine, window, NOW_2001)
    assert await scalar(engine, "SELECT count(*) FROM movement_key WHERE enterprise_id = :e", e=plant.id) == 2
    assert planned.horizon.keep_from.isoformat() == "2001-03-01"
    assert [m.isoformat() for m in planned.months] == ["2001-01-01"]
    done = await retention.purge(engine, window, photo_store(settings), NOW_2001)
    assert done.months == planned.months
    assert done.removed["movement"] == planned.removed["movement"] >= 1
    assert done.removed["movement_key"] == done.removed["movement"]


async def test_the_purge_drops_past_months_with_their_keys_versions_figures_and_only_photos(client, engine, settings):
    plant = await register(engine)
    bureau = await staff_token(engine, region="1302")
    only_january, shared, ledger_photo, kept_march = (png_bytes(seed) for seed in (2001, 2002, 2003, 2004))
    january = movement(recordId="JAN-1", passTime="2001-01-15 08:00:00", passPhoto=data_uri(only_january),
                       listPhoto=data_uri(shared), licensePhoto=data_uri(ledger_photo))
    february = movement(recordId="FEB-1", passTime="2001-02-28 23:59:00")
    march = movement(recordId="MAR-1", passTime="2001-03-01 00:00:00", passPhoto=data_uri(kept_march),
                     listPhoto=f"sha256:{sha256_hex(shared)}")
    await post(client, plant, january, february)
    await arrived(engine, datetime(2001, 1, 15, 8, tzinfo=BEIJING), only_january, shared, ledger_photo)
    await post(client, plant, march)
    # Arrived on the first instant of March, the oldest month kept: no March pass needs to name it anew.
    await arrived(engine, datetime(2001, 3, 1, tzinfo=BEIJING), kept_march)
    corrected = await post(client, plant, {**january, "goodsAmount": 12.5})
    assert corrected[0]["status"] == "updated"
    vehicle = inplant_vehicle(listPhoto=f"sha256:{sha256_hex(ledger_photo)}")
    response = await client.post("/api/v1/inplant-vehicles", json=batch(plant, vehicle), headers=plant.auth)
    assert response.status_code == 200, response.text
    figures = await client.get(f"/api/v1/enterprises/{plant.code}/completeness",
                               params={"from": "2001-01-01", "to": "2001-03-31"}, headers=bureau)
    assert figures.status_code == 200
    assert await scalar(engine, "SELECT count(*) FROM movement_day_stat WHERE enterprise_id = :e", e=plant.id) > 0
    store = photo_store(settings)

    report = await retention.purge(engine, settings.model_copy(update={"retention_months": 2}), store, NOW_2001)

    assert {m.isoformat() for m in report.months} >= {"2001-01-01", "2001-02-01"}
    for table in partitions.PARTITIONED:
        assert await scalar(engine, "SELECT to_regclass(:n)::text", n=partitions.partition_name(
            table, datetime(2001, 1, 1).date())) is None
        assert await scalar(engine, "SELECT to_regclass(:n)::text", n=partitions.partition_name(
            table, datetime(2001, 3, 1).date())) is not None
    listed = await client.get("/api/v1/movements", params={"enterpriseCode": plant.code, "limit": 100}, headers=bureau)
    assert [item["recordId"] for item in listed.json()["items"]] == ["MAR-1"]
    assert await scalar(engine, "SELECT json_agg(record_id) FROM movement_key WHERE enterprise_id = :e",
                        e=plant.id) == ["MAR-1"]
    assert await scalar(engine, "SELECT count(*) FROM movement_version WHERE enterprise_id = :e", e=plant.id) == 0
    assert await scalar(engine, "SELECT min(pass_date)::text FROM movement_day_stat WHERE enterprise_id = :e",
                        e=plant.id) >= "2001-03-01"
    gone, kept = [sha256_hex(only_january)], [sha256_hex(p) for p in (shared, ledger_photo, kept_march)]
    for sha256 in gone:
        assert await scalar(engine, "SELECT count(*) FROM photo WHERE sha256 = :h", h=sha256) == 0
        assert not store.path(sha256).exists()
    for sha256 in kept:
        assert await scalar(engine, "SELECT count(*) FROM photo WHERE sha256 = :h", h=sha256) == 1
        assert store.path(sha256).exists()
    await flush_audit()
    entry = await scalar(engine, "SELECT after FROM audit_entry WHERE action = 'retention.purge' "
                                 "ORDER BY id DESC LIMIT 1")
    assert entry["keepFrom"] == "2001-03-01" and entry["removed"]["movement"] >= 2

    # The key is free again: the same record sent once more (the suite's window takes it) is new.
    again = await post(client, plant, january)
    assert (again[0]["status"], again[0]["version"]) == ("accepted", 1)


class PausingStore(FilePhotoStore):
    """Stops in the middle of removing one photo, its row locked by the purge, until the test lets it go on."""

    def __init__(self, root, sha256: str) -> None:
        super().__init__(root)
        self.sha256, self.removing, self.go_on = sha256, asyncio.Event(), asyncio.Event()

    async def delete(self, sha256: str) -> None:
        if sha256 == self.sha256:
            self.removing.set()
            await self.go_on.wait()
        await super().delete(sha256)


async def test_a_ledger_entry_naming_a_photo_the_purge_is_removing_holds_its_place_as_missing(
        client, engine, settings):
    plant = await register(engine)
    photo = png_bytes(2030)
    sha256 = sha256_hex(photo)
    uploaded = await client.put(f"/api/v1/photos/{sha256}", content=photo,
                                headers={**plant.auth, "Content-Type": "image/png"})
    assert uploaded.status_code in (200, 201), uploaded.text
    # Arrived in January 2001 and named by nothing: the purge's to take.
    await arrived(engine, datetime(2001, 1, 15, 8, tzinfo=BEIJING), photo)
    store = PausingStore(photo_store(settings).root, sha256)
    purge = asyncio.create_task(retention.purge(engine, settings.model_copy(update={"retention_months": 2}),
                                                store, NOW_2001))
    await asyncio.wait_for(store.removing.wait(), timeout=30)

    vehicle = inplant_vehicle(listPhoto=f"sha256:{sha256}", licensePhoto=f"sha256:{sha256}")
    naming = asyncio.create_task(client.post("/api/v1/inplant-vehicles", json=batch(plant, vehicle),
                                             headers=plant.auth))
    await asyncio.sleep(0.3)  # time to commit, were it not waiting for the purge
    store.go_on.set()
    await purge
    response = await naming

    assert response.status_code == 200, response.text
    assert await scalar(engine, "SELECT missing_photos FROM inplant_vehicle WHERE enterprise_id = :e",
                        e=plant.id) == [sha256]
    # The photo's place is held for it, and an upload now completes the entry.
    assert await scalar(engine, "SELECT received_at FROM photo WHERE sha256 = :h", h=sha256) is None
    again = await client.put(f"/api/v1/photos/{sha256}", content=photo,
                             headers={**plant.auth, "Content-Type": "image/png"})
    assert again.status_code in (200, 201), again.text
    assert await scalar(engine, "SELECT missing_photos FROM inplant_vehicle WHERE enterprise_id = :e",
                        e=plant.id) == []


async def test_a_correction_moving_a_pass_to_another_month_moves_the_record_and_its_history(client, engine):
    plant = await register(engine)
    bureau = await staff_token(engine, region="1302")
    photo = png_bytes(2010)
    first = movement(recordId="MOVE-1", passTime="2001-04-30 23:30:00", passPhoto=data_uri(photo))
    await post(client, plant, first)
    moved = await post(client, plant, {**first, "passTime": "2001-05-01 00:10:00", "passPhoto": f"sha256:{'c' * 64}"})
    assert (moved[0]["status"], moved[0]["version"]) == ("updated", 2)

    rows = await scalar(engine, "SELECT json_agg(json_build_array(tableoid::regclass::text, version)) FROM movement "
                                "WHERE enterprise_id = :e", e=plant.id)
    assert rows == [["movement_y2001m05", 2]]
    assert await scalar(engine, "SELECT pass_date::text FROM movement_key WHERE enterprise_id = :e",
                        e=plant.id) == "2001-05-01"
    versions = await scalar(engine, "SELECT json_agg(json_build_array(tableoid::regclass::text, version)) "
                                    "FROM movement_version WHERE enterprise_id = :e", e=plant.id)
    assert versions == [["movement_version_y2001m05", 1]]
    # The earlier version, in May now, still names the photo: it stays as long as May does.
    assert await scalar(engine, "SELECT named_month::text FROM photo WHERE sha256 = :h",
                        h=sha256_hex(photo)) == "2001-05-01"
    movement_id = await scalar(engine, "SELECT id FROM movement WHERE enterprise_id = :e", e=plant.id)
    history = await client.get(f"/api/v1/movements/{movement_id}/versions", headers=bureau)
    items = history.json()["items"]
    assert [i["version"] for i in items] == [1, 2] and items[0]["passTime"] != items[1]["passTime"]

    back = await post(client, plant, {**first, "goodsAmount": 1.0})
    assert (back[0]["status"], back[0]["version"]) == ("updated", 3)
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 1
    assert await scalar(engine, "SELECT string_agg(DISTINCT tableoid::regclass::text, ',') FROM movement_version "
                                "WHERE enterprise_id = :e", e=plant.id) == "movement_version_y2001m04"


async def test_one_record_sent_at_once_for_two_months_is_stored_once(client, engine):
    plant = await register(engine)
    june = movement(recordId="RACE-1", passTime="2001-06-30 23:00:00")
    july = {**june, "passTime": "2001-07-01 01:00:00"}
    answers = await asyncio.gather(*(post(client, plant, record) for record in (june, july, june, july)))
    statuses = sorted(a[0]["status"] for a in answers)
    assert statuses.count("accepted") == 1
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 1
    assert await scalar(engine, "SELECT count(*) FROM movement_key WHERE enterprise_id = :e", e=plant.id) == 1


async def test_ledger_history_goes_after_five_years_and_an_entry_in_service_stays(client, engine, settings):
    plant = await register(engine)
    retired, in_service = inplant_vehicle(envRegCode="RETIRED-1"), inplant_vehicle(envRegCode="SERVING-1")
    for records in ((retired, in_service), ({**retired, "active": False}, {**in_service, "owner": "新车主"})):
        response = await client.post("/api/v1/inplant-vehicles", json=batch(plant, *records), headers=plant.auth)
        assert response.status_code == 200, response.text
    async with engine.begin() as connection:
        for table in ("inplant_vehicle", "inplant_vehicle_version"):
            await connection.execute(text(f"UPDATE {table} SET received_at = received_at - interval '6 years' "
                                          "WHERE enterprise_id = :e"), {"e": plant.id})
    now = datetime.now(UTC)
    planned = await retention.plan(engine, settings, now)
    assert planned.removed["inplant_vehicle_retired"] >= 1

    await retention.purge(engine, settings, photo_store(settings), now)

    left = await scalar(engine, "SELECT json_agg(json_build_array(env_reg_code, version) ORDER BY env_reg_code) "
                                "FROM inplant_vehicle WHERE enterprise_id = :e", e=plant.id)
    assert left == [["SERVING-1", 2]]
    assert await scalar(engine, "SELECT count(*) FROM inplant_vehicle_version WHERE enterprise_id = :e",
                        e=plant.id) == 0


async def test_the_command_line_dry_run_reports_as_json_and_changes_nothing(client, engine, database_url, tmp_path):
    plant = await register(engine)
    await post(client, plant, movement(recordId="CLI-1", passTime="2001-08-10 10:00:00"))
    env = hj1321_env(DATABASE_URL=database_url, HJ1321_RETENTION_MONTHS="12")
    answer = run_hj1321(["retention", "--dry-run", "--json"], tmp_path, env)
    assert answer.returncode == 0, answer.stderr
    report = json.loads(answer.stdout)
    assert report["dryRun"] is True and "2001-08" in report["months"] and report["removed"]["movement"] >= 1
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 1


async def test_maintenance_runs_on_one_worker_at_a_time_and_makes_the_coming_months(engine, settings):
    # As if it were November 2998 with windows of a thousand years: months never made yet, nothing to purge.
    far = settings.model_copy(update={"retention_months": 12000, "ledger_retention_years": 1000})
    now = datetime(2998, 11, 5, tzinfo=UTC)
    async with engine.connect() as holder:
        await holder.execute(text(f"SELECT pg_advisory_lock({LOCK_KEY})"))
        assert await run_once(engine, far, now) is None
        await holder.execute(text(f"SELECT pg_advisory_unlock({LOCK_KEY})"))
    assert await scalar(engine, "SELECT to_regclass('movement_y2998m11')::text") is None
    partitions.forget()
    before = time.time()
    report = await run_once(engine, far, now)
    assert report is not None and report.months == [] and not any(report.removed.values())
    assert metrics.MAINTENANCE_LAST_SUCCESS._value.get() >= before  # what the stalled-maintenance alert watches
    for name in ("movement_y2998m11", "movement_y2998m12", "movement_version_y2998m12"):
        assert await scalar(engine, "SELECT to_regclass(:n)::text", n=name) == name


async def test_a_purge_stopped_between_detaching_and_dropping_a_month_is_finished_by_the_next(
        client, engine, settings):
    plant = await register(engine)
    await post(client, plant, movement(recordId="HALF-1", passTime="2001-09-12 10:00:00"))
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("ALTER TABLE movement DETACH PARTITION movement_y2001m09"))
    window = settings.model_copy(update={"retention_months": 2})
    report = await retention.purge(engine, window, photo_store(settings), datetime(2001, 12, 10, 4, tzinfo=UTC))
    assert datetime(2001, 9, 1).date() in report.months
    for name in ("movement_y2001m09", "movement_version_y2001m09"):
        assert await scalar(engine, "SELECT to_regclass(:n)::text", n=name) is None
    assert await scalar(engine, "SELECT count(*) FROM movement_key WHERE enterprise_id = :e", e=plant.id) == 0


async def test_a_month_dropped_behind_the_workers_back_is_a_retry_not_a_server_error(client, engine):
    plant = await register(engine)
    await post(client, plant, movement(recordId="GONE-1", passTime="2001-11-05 10:00:00"))
    await partitions.drop(engine, datetime(2001, 11, 1).date())
    partitions._known.add(datetime(2001, 11, 1).date())  # as another worker, which made it, still believes

    record = movement(recordId="GONE-2", passTime="2001-11-06 10:00:00")
    first = await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)
    assert (first.status_code, first.json()["error"], first.headers["Retry-After"]) == (503, "database_busy", "1")
    again = await post(client, plant, record)
    assert again[0]["status"] == "accepted"


async def test_a_photo_the_store_fails_to_remove_stops_the_purge_and_no_row_outlives_its_file(client, engine,
                                                                                                settings):
    # A row says the bureau holds the photo: it must never stay behind once the file is gone. The second photo's
    # path is a folder, which the store cannot unlink (a real failure of the filesystem, as EIO or EROFS would be).
    from service.errors import PhotoStoreUnavailable

    plant = await register(engine)
    photos = sorted((png_bytes(seed) for seed in (2041, 2042, 2043)), key=sha256_hex)
    for photo in photos:
        uploaded = await client.put(f"/api/v1/photos/{sha256_hex(photo)}", content=photo,
                                    headers={**plant.auth, "Content-Type": "image/png"})
        assert uploaded.status_code == 201
    await arrived(engine, datetime(2001, 1, 15, 8, tzinfo=BEIJING), *photos)
    store = photo_store(settings)
    first, stuck, last = (sha256_hex(photo) for photo in photos)
    store.path(stuck).unlink()
    store.path(stuck).mkdir()
    window = settings.model_copy(update={"retention_months": 2})

    try:
        with pytest.raises(PhotoStoreUnavailable):
            await retention.purge(engine, window, store, NOW_2001)
        held = {sha256: await scalar(engine, "SELECT count(*) FROM photo WHERE sha256 = :h", h=sha256)
                for sha256 in (first, stuck, last)}
        assert held == {first: 0, stuck: 1, last: 1}  # removed, failed, not reached: each row as its file
        assert not store.path(first).exists() and store.path(last).exists()
        # What it removed before it stopped is in the audit log, marked as a purge that failed.
        entry = await scalar(engine, "SELECT json_build_object('status', status, 'after', after) FROM audit_entry "
                                     "WHERE action = 'retention.purge' ORDER BY id DESC LIMIT 1")
        assert entry["status"] == 503 and entry["after"]["removed"]["photo"] >= 1
        assert "photo store" in entry["after"]["failed"]
    finally:
        store.path(stuck).rmdir()

    await retention.purge(engine, window, store, NOW_2001)  # the disk mended, the next round finishes
    assert await scalar(engine, "SELECT count(*) FROM photo WHERE sha256 = ANY(CAST(:h AS text[]))",
                        h=[stuck, last]) == 0


async def test_a_purge_stopped_by_the_database_is_audited_as_the_database_busy(client, engine, settings):
    # A month dropped, then a table the purge clears next held by an operator's lock past lock_timeout: what went is
    # in the audit log, classed as a request's answer would be (503, the driver's error and SQLSTATE).
    from sqlalchemy.exc import DBAPIError

    from service.db import create_engine

    plant = await register(engine)
    await post(client, plant, movement(recordId="LOCKED-JAN", passTime="2001-01-20 10:00:00"))
    impatient = create_engine(settings.model_copy(update={"retention_months": 2, "db_lock_timeout_seconds": 0.2}))
    try:
        async with engine.begin() as holder:
            await holder.execute(text("LOCK TABLE manifest IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(DBAPIError):
                await retention.purge(impatient, settings.model_copy(update={"retention_months": 2}),
                                      photo_store(settings), NOW_2001)
    finally:
        await impatient.dispose()

    entry = await scalar(engine, "SELECT json_build_object('status', status, 'after', after) FROM audit_entry "
                                 "WHERE action = 'retention.purge' ORDER BY id DESC LIMIT 1")
    assert entry["status"] == 503, entry
    assert entry["after"]["failed"] == "database busy: LockNotAvailableError (SQLSTATE 55P03)"
    assert entry["after"]["removed"]["movement"] >= 1
