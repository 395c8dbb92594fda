"""POST /api/v1/movements and friends over HTTP: verdicts, dedupe, corrections, backfill."""

import asyncio
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from service.samples import documents
from tests.conftest import register, scalar
from tests.factories import BEIJING, Enterprise, batch, beijing, inplant_vehicle, movement, nonroad_machinery, volume


def sample(name: str, enterprise: Enterprise) -> dict:
    return documents(enterprise.code)[name]


async def post(client: httpx.AsyncClient, enterprise: Enterprise, path: str, body: dict) -> httpx.Response:
    return await client.post(f"/api/v1/{path}", json=body, headers=enterprise.auth)


async def count(engine: AsyncEngine, table: str, enterprise: Enterprise) -> int:
    return int(await scalar(engine, f"SELECT count(*) FROM {table} WHERE enterprise_id = :e", e=enterprise.id))


async def test_valid_samples_are_all_accepted(client, engine, plant):
    for path, table in [("movements", "movement"), ("inplant-vehicles", "inplant_vehicle"),
                        ("nonroad-machinery", "nonroad_machinery")]:
        body = sample(f"{path}.valid.json", plant)
        response = await post(client, plant, path, body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["accepted"] == len(body["records"]) == answer["received"]
        assert {r["status"] for r in answer["results"]} == {"accepted"}
        assert await count(engine, table, plant) == len(body["records"])


async def test_invalid_sample_rejects_each_record_with_its_field_and_code(client, engine, plant):
    response = await post(client, plant, "movements", sample("movements.invalid.json", plant))
    assert response.status_code == 200
    answer = response.json()
    assert answer["rejected"] == 6 and answer["accepted"] == 0
    verdicts = [(r["recordId"], r["status"], [(e["field"], e["code"]) for e in r["errors"]])
                for r in answer["results"]]
    assert verdicts == [
        ("BAD-1", "rejected", [("emissionStandard", "invalid_code")]),
        ("BAD-2", "rejected", [("plateColor", "invalid_code")]),
        ("BAD-3", "rejected", [("vin", "pattern")]),
        ("BAD-4", "rejected", [("passTime", "invalid_date")]),
        ("BAD-5", "rejected", [("direction", "invalid_code")]),
        ("BAD-6", "rejected", [("plateNo", "pattern")]),
    ]
    first_error = answer["results"][0]["errors"][0]
    assert first_error["message"] == '排放标准 emissionStandard must be one of 0-6, D, X; got "7"'
    assert await count(engine, "movement", plant) == 0


async def test_mixed_batch_gets_exact_verdicts_and_keeps_every_version(client, engine, plant):
    stored = movement()
    to_correct = movement()
    first = await post(client, plant, "movements", batch(plant, stored, to_correct))
    assert first.json()["accepted"] == 2

    fresh = movement()
    corrected = {**to_correct, "emissionStandard": "5"}
    invalid = movement(plateColor="9")
    twice = movement()
    changed_in_batch = movement()
    changed_again = {**changed_in_batch, "goodsAmount": 12.5}
    response = await post(client, plant, "movements", batch(
        plant, fresh, stored, corrected, invalid, twice, twice, changed_in_batch, changed_again))
    answer = response.json()
    assert [(r["index"], r["status"], r.get("version")) for r in answer["results"]] == [
        (0, "accepted", 1),
        (1, "duplicate", 1),
        (2, "updated", 2),
        (3, "rejected", None),
        (4, "accepted", 1),
        (5, "duplicate", 1),
        (6, "accepted", 1),
        (7, "updated", 2),
    ]
    assert (answer["received"], answer["accepted"], answer["duplicates"], answer["updated"], answer["rejected"]) \
        == (8, 3, 2, 2, 1)
    assert answer["results"][3]["errors"][0]["field"] == "plateColor"

    # Current rows: 2 from the first batch + fresh, twice, changed_in_batch; nothing for the invalid one.
    assert await count(engine, "movement", plant) == 5
    assert await count(engine, "movement_version", plant) == 2
    current = await scalar(engine, "SELECT emission_standard FROM movement WHERE enterprise_id = :e "
                                   "AND record_id = :r", e=plant.id, r=to_correct["recordId"])
    earlier = await scalar(engine, "SELECT emission_standard FROM movement_version WHERE enterprise_id = :e "
                                   "AND record_id = :r AND version = 1", e=plant.id, r=to_correct["recordId"])
    assert (current, earlier) == ("5", "6")
    amounts = await scalar(engine, "SELECT array_agg(goods_amount::text ORDER BY version) FROM ("
                                   " SELECT goods_amount, version FROM movement_version WHERE record_id = :r"
                                   " UNION ALL SELECT goods_amount, version FROM movement WHERE record_id = :r) v",
                           r=changed_in_batch["recordId"])
    assert amounts == ["34.6", "12.5"]


async def test_resending_a_whole_batch_changes_no_row(client, engine, plant):
    body = batch(plant, *(movement() for _ in range(20)))
    assert (await post(client, plant, "movements", body)).json()["accepted"] == 20
    before = (await count(engine, "movement", plant), await count(engine, "movement_version", plant))
    again = (await post(client, plant, "movements", body)).json()
    assert again["duplicates"] == 20 and again["accepted"] == again["updated"] == 0
    assert (await count(engine, "movement", plant), await count(engine, "movement_version", plant)) == before


async def test_reupload_flag_alone_is_a_duplicate_and_is_stored_as_sent(client, engine, plant):
    record = movement(reupload=True)
    assert (await post(client, plant, "movements", batch(plant, record))).json()["accepted"] == 1
    assert await scalar(engine, "SELECT reupload FROM movement WHERE record_id = :r", r=record["recordId"]) is True
    resent = (await post(client, plant, "movements", batch(plant, {**record, "reupload": False}))).json()
    assert resent["results"][0]["status"] == "duplicate"


async def test_same_instant_in_another_notation_is_a_duplicate(client, plant):
    moment = (datetime.now(BEIJING) - timedelta(hours=2)).replace(microsecond=0)
    record = movement(passTime=beijing(moment))
    await post(client, plant, "movements", batch(plant, record))
    with_offset = moment.isoformat()  # 2026-11-22T08:00:00+08:00
    as_utc = (moment - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for notation in (with_offset, as_utc):
        answer = (await post(client, plant, "movements", batch(plant, {**record, "passTime": notation}))).json()
        assert answer["results"][0]["status"] == "duplicate", notation


async def test_backfill_is_accepted_and_marked_late(client, engine, plant):
    now = datetime.now(BEIJING)
    old = movement(passTime=beijing(now - timedelta(days=40)), reupload=True)
    recent = movement(passTime=beijing(now - timedelta(minutes=5)))
    answer = (await post(client, plant, "movements", batch(plant, old, recent))).json()
    assert [(r["status"], r["late"]) for r in answer["results"]] == [("accepted", True), ("accepted", False)]
    row = await scalar(engine, "SELECT json_build_object('late', late, 'reupload', reupload, "
                               "'pass_date', pass_date, 'delay', received_at - pass_time > interval '39 days') "
                               "FROM movement WHERE record_id = :r", r=old["recordId"])
    assert row == {"late": True, "reupload": True, "pass_date": (now - timedelta(days=40)).date().isoformat(),
                   "delay": True}


async def test_times_without_offset_are_beijing_time(client, engine, plant):
    record = movement(passTime="2026-01-05 07:30:00")
    await post(client, plant, "movements", batch(plant, record))
    stored = await scalar(engine, "SELECT to_char(pass_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
                                  "FROM movement WHERE record_id = :r", r=record["recordId"])
    assert stored == "2026-01-04 23:30:00"


async def test_future_and_expired_pass_times_are_rejected(settings, plant):
    from service.app import create_app

    app = create_app(settings.model_copy(update={"retention_months": 24}))  # the default, as deployed
    now = datetime.now(BEIJING)
    records = [movement(passTime=beijing(now + timedelta(minutes=10))),
               movement(passTime=beijing(now + timedelta(minutes=3))),
               movement(passTime=beijing(now - timedelta(days=25 * 31))),
               movement(passTime=beijing(now - timedelta(days=23 * 31)))]
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = (await post(client, plant, "movements", batch(plant, *records))).json()
    assert [(r["status"], [e["code"] for e in r.get("errors", [])]) for r in answer["results"]] == [
        ("rejected", ["future_time"]), ("accepted", []), ("rejected", ["beyond_retention"]), ("accepted", [])]


async def test_every_error_of_a_record_is_reported(client, plant):
    record = movement(direction=1, plateColor="8", vin="SHORT", registerDate="2099-01-01", goodsAmount=-1,
                      vehicleModel="x" * 65, fleetName="车队\u0000")
    del record["gateNo"]
    answer = (await post(client, plant, "movements", batch(plant, record))).json()
    errors = {(e["field"], e["code"]) for e in answer["results"][0]["errors"]}
    assert errors == {("gateNo", "required"), ("direction", "invalid_type"), ("plateColor", "invalid_code"),
                      ("vin", "pattern"), ("goodsAmount", "out_of_range"), ("vehicleModel", "too_long"),
                      ("fleetName", "pattern")}


async def test_register_date_after_pass_time_is_rejected(client, plant):
    answer = (await post(client, plant, "movements", batch(plant, movement(registerDate="2099-01-01")))).json()
    assert answer["results"][0]["errors"] == [{
        "field": "registerDate", "code": "out_of_range",
        "message": "注册登记日期 registerDate must not be after passTime; got 2099-01-01"}]


async def test_warnings_and_missing_items_make_a_record_incomplete(client, engine, plant):
    bad_check_digit = movement(vin="LZZ1BLSF3KD123456")
    sparse = {k: v for k, v in movement().items()
              if k in ("recordId", "gateNo", "barrierNo", "direction", "passTime", "plateNo", "plateColor")}
    blanks = movement(vin="", engineNo=None)
    unknown_stage = movement(emissionStandard="X")
    answer = (await post(client, plant, "movements",
                         batch(plant, bad_check_digit, sparse, blanks, unknown_stage))).json()
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 4
    assert [w["code"] for w in answer["results"][0]["warnings"]] == ["vin_check_digit", "photo_pending",
                                                                      "photo_pending"]
    missing = await scalar(engine, "SELECT json_object_agg(record_id, missing_fields) FROM movement "
                                   "WHERE enterprise_id = :e", e=plant.id)
    assert missing[bad_check_digit["recordId"]] == []
    assert missing[blanks["recordId"]] == ["vin", "engineNo"]
    assert missing[unknown_stage["recordId"]] == ["emissionStandard"]
    assert "listPhoto" in missing[sparse["recordId"]] and len(missing[sparse["recordId"]]) == 17
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e AND complete",
                        e=plant.id) == 0


async def test_records_that_are_not_objects_are_rejected_beside_good_ones(client, engine, plant):
    good = movement()
    answer = (await post(client, plant, "movements", batch(plant, "text", good, 5, None, []))).json()
    assert [r["status"] for r in answer["results"]] == ["rejected", "accepted", "rejected", "rejected", "rejected"]
    assert answer["results"][0]["errors"][0]["code"] == "invalid_type"
    assert await count(engine, "movement", plant) == 1


async def test_unknown_keys_are_ignored(client, plant):
    answer = (await post(client, plant, "movements", batch(plant, movement(vendorExtra={"a": 1})))).json()
    assert answer["results"][0]["status"] == "accepted"


async def test_same_record_id_in_two_enterprises_is_two_records(client, engine, plant, other_plant):
    record = movement()
    for enterprise in (plant, other_plant):
        answer = (await post(client, enterprise, "movements", batch(enterprise, record))).json()
        assert answer["results"][0]["status"] == "accepted"


async def test_concurrent_batches_with_the_same_new_key_keep_both_versions(client, engine, plant):
    record = movement()
    variant = {**record, "goodsAmount": 1.0}
    answers = await asyncio.gather(post(client, plant, "movements", batch(plant, record)),
                                   post(client, plant, "movements", batch(plant, variant)))
    statuses = sorted(a.json()["results"][0]["status"] for a in answers)
    assert statuses == ["accepted", "updated"]
    assert await count(engine, "movement", plant) == 1
    assert await count(engine, "movement_version", plant) == 1


async def test_ledgers_keep_history_and_retire_entries(client, engine, plant):
    vehicle = inplant_vehicle()
    machine = nonroad_machinery()
    await post(client, plant, "inplant-vehicles", batch(plant, vehicle))
    await post(client, plant, "nonroad-machinery", batch(plant, machine))
    retired = (await post(client, plant, "inplant-vehicles", batch(plant, {**vehicle, "active": False}))).json()
    upgraded = (await post(client, plant, "nonroad-machinery",
                           batch(plant, {**machine, "emissionStandard": "D", "fuelType": "C"}))).json()
    assert retired["results"][0] == {"index": 0, "envRegCode": vehicle["envRegCode"], "status": "updated",
                                     "version": 2, "warnings": retired["results"][0]["warnings"],
                                     "contentHash": retired["results"][0]["contentHash"]}
    assert upgraded["results"][0]["status"] == "updated"
    assert await scalar(engine, "SELECT active FROM inplant_vehicle WHERE enterprise_id = :e", e=plant.id) is False
    assert await scalar(engine, "SELECT active FROM inplant_vehicle_version WHERE enterprise_id = :e",
                        e=plant.id) is True
    assert await scalar(engine, "SELECT emission_standard FROM nonroad_machinery_version WHERE enterprise_id = :e",
                        e=plant.id) == "4"
    again = (await post(client, plant, "nonroad-machinery",
                        batch(plant, {**machine, "emissionStandard": "D", "fuelType": "C"}))).json()
    assert again["results"][0]["status"] == "duplicate"


async def test_ledger_rules(client, plant):
    records = [inplant_vehicle(vin=None), inplant_vehicle(productionDate="2999-01-01"),
               inplant_vehicle(vin="LRDS6PEB7XNT00042")]
    answer = (await post(client, plant, "inplant-vehicles", batch(plant, *records))).json()
    assert [(r["status"], [e["code"] for e in r.get("errors", [])]) for r in answer["results"]] == [
        ("rejected", ["required"]), ("rejected", ["future_time"]), ("accepted", [])]
    assert answer["results"][2]["warnings"][0]["code"] == "vin_check_digit"
    machine = (await post(client, plant, "nonroad-machinery",
                          batch(plant, nonroad_machinery(emissionStandard="9", machineryType="7")))).json()
    assert {(e["field"], e["code"]) for e in machine["results"][0]["errors"]} == {
        ("emissionStandard", "invalid_code"), ("machineryType", "invalid_code")}


async def test_clean_transport_volumes(client, engine, plant):
    rail = volume()
    answer = (await post(client, plant, "clean-transport-volumes",
                         batch(plant, rail, volume(mode="truck"), volume(tonnes="12"), volume(date="2999-01-01")))
              ).json()
    assert [(r["status"], [e["code"] for e in r.get("errors", [])]) for r in answer["results"]] == [
        ("accepted", []), ("rejected", ["invalid_code"]), ("rejected", ["invalid_type"]),
        ("rejected", ["future_time"])]
    assert await scalar(engine, "SELECT tonnes::text FROM clean_transport_volume WHERE record_id = :r",
                        r=rail["recordId"]) == "3200.5"
    corrected = (await post(client, plant, "clean-transport-volumes", batch(plant, {**rail, "tonnes": 3100}))).json()
    assert corrected["results"][0]["status"] == "updated"


async def test_late_records_restate_the_count_of_their_own_day(client, engine, plant):
    day = datetime.now(BEIJING) - timedelta(days=3)
    records = [movement(passTime=beijing(day.replace(hour=h, minute=0, second=0))) for h in (1, 2, 3)]
    await post(client, plant, "movements", batch(plant, *records[:2]))
    await post(client, plant, "movements", batch(plant, records[2], {**records[0], "reupload": True}))
    per_day = await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e AND pass_date = :d",
                           e=plant.id, d=day.date())
    assert per_day == 3


async def test_a_second_enterprise_cannot_see_or_touch_the_first(client, engine, plant):
    # A key only writes its own enterprise's records, even with the same record ids.
    other = await register(engine)
    record = movement()
    await post(client, plant, "movements", batch(plant, record))
    response = await post(client, other, "movements", batch(plant, {**record, "plateNo": "冀B99999"}))
    assert response.status_code == 403
    assert await scalar(engine, "SELECT plate_no FROM movement WHERE record_id = :r", r=record["recordId"]) \
        == "冀B12345"
