"""Bureau reads over HTTP: jurisdiction boundaries both ways, filters, keyset pages, versions, ledgers; and
what a page reads, counted on one connection through its repository."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.queries import repository
from tests.conftest import register, rows_fetched
from tests.conftest import staff_token as shared_staff_token
from tests.factories import batch, beijing, inplant_vehicle, movement, nonroad_machinery, png_bytes, sha256_hex


async def staff_token(engine: AsyncEngine, region: str, role: str = "viewer") -> dict[str, str]:
    return await shared_staff_token(engine, role=role, region=region)


@pytest.fixture
async def tangshan(engine):  # 唐山 1302xx
    return await register(engine, region_code="130203")


@pytest.fixture
async def handan(engine):  # 邯郸 1304xx
    return await register(engine, region_code="130402")


async def post(client, enterprise, path, *records):
    response = await client.post(f"/api/v1/{path}", json=batch(enterprise, *records), headers=enterprise.auth)
    assert response.status_code == 200
    return response.json()


async def test_staff_see_only_their_jurisdiction(client, engine, tangshan, handan):
    await post(client, tangshan, "movements", movement())
    await post(client, handan, "movements", movement())
    city = await staff_token(engine, "1302")
    province = await staff_token(engine, "13")

    listed = (await client.get("/api/v1/enterprises", headers=city)).json()["items"]
    codes = {e["code"] for e in listed}
    assert tangshan.code in codes and handan.code not in codes
    assert all(e["regionCode"].startswith("1302") for e in listed)
    wide = (await client.get("/api/v1/enterprises", headers=province)).json()["items"]
    assert {tangshan.code, handan.code} <= {e["code"] for e in wide}

    outside = await client.get("/api/v1/movements", params={"enterpriseCode": handan.code}, headers=city)
    assert outside.status_code == 403 and outside.json()["error"] == "outside_jurisdiction"
    inside = await client.get("/api/v1/movements", params={"enterpriseCode": tangshan.code}, headers=city)
    assert inside.status_code == 200 and len(inside.json()["items"]) == 1
    everything = (await client.get("/api/v1/movements", params={"limit": 1000}, headers=city)).json()["items"]
    assert handan.code not in {item["enterpriseCode"] for item in everything}
    unknown = await client.get("/api/v1/movements", params={"enterpriseCode": "91130203MA0NOPE000"}, headers=city)
    assert unknown.status_code == 404


async def test_keys_and_tokens_stay_on_their_side(client, engine, tangshan):
    staff = await staff_token(engine, "")
    assert (await client.get("/api/v1/movements", headers=tangshan.auth)).status_code == 403
    assert (await client.get("/api/v1/enterprises", headers=tangshan.auth)).json()["error"] == "wrong_credential"
    assert (await client.get("/api/v1/enterprises")).status_code == 401
    refused = await client.post("/api/v1/movements", json=batch(tangshan, movement()), headers=staff)
    assert refused.status_code == 403


async def test_movement_items_carry_what_the_bureau_needs(client, engine, tangshan):
    record = movement(vin="LZZ1BLSF3KD123456", reupload=True, passTime=beijing(datetime.now(UTC) - timedelta(days=2)))
    await post(client, tangshan, "movements", record)
    staff = await staff_token(engine, "1302")
    item = (await client.get("/api/v1/movements", params={"enterpriseCode": tangshan.code}, headers=staff)).json()[
        "items"][0]
    assert item["recordId"] == record["recordId"] and item["enterpriseCode"] == tangshan.code
    assert item["plateNo"] == "冀B12345" and item["goodsAmount"] == 34.6 and item["registerDate"] == "2021-03-15"
    assert item["late"] is True and item["reupload"] is True and item["version"] == 1 and item["complete"] is False
    assert {w["code"] for w in item["warnings"]} == {"vin_check_digit", "photo_pending"}
    assert item["passTime"].endswith("+08:00") and item["receivedAt"] and isinstance(item["id"], int)


async def test_filters(client, engine, tangshan):
    records = [movement(direction="1", emissionStandard="6", plateNo="冀B11111"),
               movement(direction="2", emissionStandard="D", plateNo="冀BD22222"),
               movement(direction="2", emissionStandard="5", plateNo="冀B33333", passTime="2026-01-10 10:00:00")]
    await post(client, tangshan, "movements", *records)
    staff = await staff_token(engine, "")

    async def ids(**params):
        response = await client.get("/api/v1/movements", params={"enterpriseCode": tangshan.code, **params},
                                    headers=staff)
        assert response.status_code == 200, response.text
        return [item["recordId"] for item in response.json()["items"]]

    assert await ids(direction="2") == [records[1]["recordId"], records[2]["recordId"]]
    assert await ids(emissionStandard="D") == [records[1]["recordId"]]
    assert await ids(plateNo="冀B33333") == [records[2]["recordId"]]
    assert await ids(**{"from": "2026-01-10", "to": "2026-01-10"}) == [records[2]["recordId"]]
    assert await ids(late="true") == [records[2]["recordId"]]
    bad = await client.get("/api/v1/movements", params={"emissionStandard": "7"}, headers=staff)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"


async def test_keyset_pages_are_stable_under_backfill(client, engine, tangshan):
    now = datetime.now(UTC)
    records = [movement(passTime=beijing(now - timedelta(minutes=10 * i))) for i in range(1, 8)]
    await post(client, tangshan, "movements", *records)
    staff = await staff_token(engine, "")
    params = {"enterpriseCode": tangshan.code, "limit": 3}
    first = (await client.get("/api/v1/movements", params=params, headers=staff)).json()
    # A backfill lands in the middle of what is still to come, and newer records arrive on top.
    await post(client, tangshan, "movements", movement(passTime=beijing(now - timedelta(minutes=45))),
               movement(passTime=beijing(now - timedelta(seconds=30))))
    seen = [item["recordId"] for item in first["items"]]
    cursor = first["nextCursor"]
    while cursor:
        page = (await client.get("/api/v1/movements", params={**params, "cursor": cursor}, headers=staff)).json()
        seen += [item["recordId"] for item in page["items"]]
        cursor = page["nextCursor"]
    originals = [r["recordId"] for r in records]
    assert [s for s in seen if s in originals] == originals  # each exactly once, newest first
    assert len(seen) == len(set(seen)) == 8  # plus the backfilled one, found in its place
    bad = await client.get("/api/v1/movements", params={"cursor": "nonsense"}, headers=staff)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_cursor"


async def test_pages_run_newest_first_across_months_and_within_a_date_range(client, engine, tangshan):
    now = datetime.now(UTC)
    this_month = beijing(now - timedelta(minutes=5))[:8] + "01 00:00:05"  # the first seconds of this month
    times = [beijing(now - timedelta(minutes=5)), this_month, beijing(now - timedelta(days=40)),
             beijing(now - timedelta(days=70)), beijing(now - timedelta(days=400))]
    records = [movement(passTime=t) for t in times]
    await post(client, tangshan, "movements", *reversed(records))
    staff = await staff_token(engine, "")
    params = {"enterpriseCode": tangshan.code, "limit": 2}
    seen, cursor = [], None
    while True:
        page = (await client.get("/api/v1/movements", params={**params, **({"cursor": cursor} if cursor else {})},
                                 headers=staff)).json()
        seen += [item["recordId"] for item in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == [r["recordId"] for r in sorted(records, key=lambda r: r["passTime"], reverse=True)]
    ranged = await client.get("/api/v1/movements", headers=staff, params={
        "enterpriseCode": tangshan.code, "from": times[3][:10], "to": times[2][:10], "limit": 10})
    assert [item["recordId"] for item in ranged.json()["items"]] == [records[2]["recordId"], records[3]["recordId"]]


async def test_a_page_reads_its_rows_not_the_plants_month_however_often_it_ran(client, engine, session, tangshan):
    """The driver keeps statements prepared, and after five runs PostgreSQL may keep a plan made blind to their
    values. The page's would read the plant's every pass of the month and sort them. What a page costs is
    counted here by the rows it fetched, in the transaction's own statistics (a time would be noise)."""
    now = datetime.now(UTC)
    for start in range(0, 2000, 500):
        await post(client, tangshan, "movements",
                   *(movement(passTime=beijing(now - timedelta(seconds=i))) for i in range(start, start + 500)))
    for _ in range(100):  # a province's month holds many plants: planned blind, each looks small
        await post(client, await register(engine), "movements", movement())
    await session.exec(text("ANALYZE movement"))  # as autovacuum would have, long before a bureau reads

    async def page() -> list[tuple[Any, str]]:
        return await repository.movements_page(
            session, region_prefix="", enterprise_id=tangshan.id, plate_no=None, start=None, end=None,
            direction=None, emission_standard=None, late=None, after=None, limit=21)

    for _ in range(8):  # on one connection: the session's transaction
        await page()
    before = await rows_fetched(session, "movement_y%")
    rows = await page()
    assert len(rows) == 21
    assert await rows_fetched(session, "movement_y%") - before < 200  # the plant's month holds 2,000


async def test_versions_oldest_first_and_hidden_outside_the_jurisdiction(client, engine, tangshan):
    record = movement()
    await post(client, tangshan, "movements", record)
    await post(client, tangshan, "movements", {**record, "emissionStandard": "5"})
    await post(client, tangshan, "movements", {**record, "emissionStandard": "4"})
    staff = await staff_token(engine, "1302")
    item = (await client.get("/api/v1/movements", params={"enterpriseCode": tangshan.code}, headers=staff)).json()[
        "items"][0]
    versions = (await client.get(f"/api/v1/movements/{item['id']}/versions", headers=staff)).json()["items"]
    assert [(v["version"], v["emissionStandard"]) for v in versions] == [(1, "6"), (2, "5"), (3, "4")]
    assert versions[0]["receivedAt"] <= versions[1]["receivedAt"] <= versions[2]["receivedAt"]
    elsewhere = await staff_token(engine, "1304")
    assert (await client.get(f"/api/v1/movements/{item['id']}/versions", headers=elsewhere)).status_code == 403
    assert (await client.get("/api/v1/movements/999999999/versions", headers=staff)).status_code == 404


async def test_current_ledgers(client, engine, tangshan, handan):
    vehicle = inplant_vehicle()
    await post(client, tangshan, "inplant-vehicles", vehicle)
    await post(client, tangshan, "inplant-vehicles", {**vehicle, "active": False})
    await post(client, tangshan, "nonroad-machinery", nonroad_machinery())
    await post(client, handan, "nonroad-machinery", nonroad_machinery())
    staff = await staff_token(engine, "1302")
    vehicles = (await client.get("/api/v1/inplant-vehicles", params={"enterpriseCode": tangshan.code},
                                 headers=staff)).json()["items"]
    assert [(v["envRegCode"], v["active"], v["version"]) for v in vehicles] == [(vehicle["envRegCode"], False, 2)]
    machines = (await client.get("/api/v1/nonroad-machinery", headers=staff)).json()["items"]
    assert tangshan.code in {m["enterpriseCode"] for m in machines}
    assert handan.code not in {m["enterpriseCode"] for m in machines}


async def test_photo_retrieval_within_the_jurisdiction(client, engine, tangshan):
    data = png_bytes()
    await client.put(f"/api/v1/photos/{sha256_hex(data)}", content=data,
                     headers={**tangshan.auth, "Content-Type": "image/png"})
    inside = await client.get(f"/api/v1/photos/{sha256_hex(data)}", headers=await staff_token(engine, "13"))
    assert inside.status_code == 200 and inside.content == data and inside.headers["content-type"] == "image/png"
    outside = await client.get(f"/api/v1/photos/{sha256_hex(data)}", headers=await staff_token(engine, "11"))
    assert outside.status_code == 403
    unknown = await client.get(f"/api/v1/photos/{'9' * 64}", headers=await staff_token(engine, "13"))
    assert unknown.status_code == 404
    gateway = await client.get(f"/api/v1/photos/{sha256_hex(data)}", headers=tangshan.auth)
    assert gateway.status_code == 403
