"""Grades, alerts, exemptions and the watch-list over HTTP: kept with history, inside the jurisdiction,
and turned into what a gateway must apply."""

from datetime import datetime, timedelta, timezone

from tests.conftest import register, staff_token
from tests.factories import batch, movement

BEIJING = timezone(timedelta(hours=8))


def beijing(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


async def test_grades_keep_their_history_and_the_latest_decision_applies(client, engine):
    plant = await register(engine, region_code="130203")
    admin = await staff_token(engine, role="admin", region="1302")
    path = f"/api/v1/admin/enterprises/{plant.code}/grade"
    assert (await client.get(path, headers=admin)).json()["current"] == "none"
    await client.put(path, json={"grade": "B", "validFrom": "2025-01-01"}, headers=admin)
    await client.put(path, json={"grade": "A", "validFrom": "2026-01-01"}, headers=admin)
    future = await client.put(path, json={"grade": "D", "validFrom": "2999-01-01"}, headers=admin)
    history = future.json()
    assert history["current"] == "A"
    assert [(g["grade"], g["validFrom"]) for g in history["items"]] == [
        ("B", "2025-01-01"), ("A", "2026-01-01"), ("D", "2999-01-01")]
    bad = await client.put(path, json={"grade": "E", "validFrom": "2026-01-01"}, headers=admin)
    assert bad.status_code == 422
    outsider = await staff_token(engine, role="admin", region="11")
    assert (await client.put(path, json={"grade": "A", "validFrom": "2026-01-01"}, headers=outsider)
            ).status_code == 403


async def test_a_level_change_supersedes_the_alert_at_that_second_and_lifting_ends_it(client, engine):
    admin = await staff_token(engine, role="admin", region="13")
    yellow = (await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": "1302", "level": "yellow", "startsAt": "2026-12-01 00:00:00"})).json()
    assert yellow["endsAt"] is None
    orange = await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": "1302", "level": "orange", "measure": 3, "startsAt": "2026-12-02 12:00:00",
        "maxHeavyEntryRatio": 0.1, "supersedes": yellow["id"]})
    assert orange.status_code == 201, orange.text
    viewer = await staff_token(engine, region="1302")
    listed = (await client.get("/api/v1/alerts", params={"from": "2026-12-01", "to": "2026-12-03"},
                               headers=viewer)).json()["items"]
    by_id = {a["id"]: a for a in listed}
    assert by_id[yellow["id"]]["endsAt"] == "2026-12-02T12:00:00+08:00"
    assert by_id[orange.json()["id"]]["startsAt"] == "2026-12-02T12:00:00+08:00"
    lifted = await client.patch(f"/api/v1/admin/alerts/{orange.json()['id']}", headers=admin,
                                json={"endsAt": "2026-12-04T00:00:00Z"})
    assert lifted.json()["endsAt"] == "2026-12-04T08:00:00+08:00"
    for body, code in (({"regionCode": "11", "level": "red", "startsAt": "2026-12-01 00:00:00"}, 403),
                       ({"regionCode": "1302", "level": "purple", "startsAt": "2026-12-01 00:00:00"}, 422),
                       ({"regionCode": "1302", "level": "red", "measure": 5, "startsAt": "2026-12-01 00:00:00"}, 422),
                       ({"regionCode": "1302", "level": "red", "startsAt": "2026-12-01 00:00:00",
                         "endsAt": "2026-11-30 00:00:00"}, 422)):
        assert (await client.post("/api/v1/admin/alerts", json=body, headers=admin)).status_code == code, body
    elsewhere = await staff_token(engine, region="11")
    seen = (await client.get("/api/v1/alerts", params={"from": "2026-12-01", "to": "2026-12-03"},
                             headers=elsewhere)).json()["items"]
    assert yellow["id"] not in {a["id"] for a in seen}


async def test_a_gateway_learns_the_rule_for_its_grade(client, engine):
    plant = await register(engine, region_code="130203")
    admin = await staff_token(engine, role="admin", region="13")
    now = datetime.now(BEIJING)
    await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": "1302", "level": "orange", "measure": 3, "startsAt": beijing(now - timedelta(hours=1))})
    measures = (await client.get("/api/v1/control-measures", headers=plant.auth)).json()["items"]
    mine = [m for m in measures if m["measure"] == 3]
    assert mine and mine[-1]["grade"] == "none"
    assert mine[-1]["banned"] == {"maxStage": "4", "maxGasStage": "5", "allRoadTransport": False}
    await client.put(f"/api/v1/admin/enterprises/{plant.code}/grade", headers=admin,
                     json={"grade": "A", "validFrom": "2020-01-01"})
    graded_a = (await client.get("/api/v1/control-measures", headers=plant.auth)).json()["items"]
    assert all(m["banned"] is None for m in graded_a)
    await client.put(f"/api/v1/admin/enterprises/{plant.code}/grade", headers=admin,
                     json={"grade": "D", "validFrom": "2021-01-01"})
    graded_d = (await client.get("/api/v1/control-measures", headers=plant.auth)).json()["items"]
    assert all(m["banned"]["allRoadTransport"] for m in graded_d)


async def test_the_watch_list_reaches_gateways_with_a_cursor_and_warns_at_the_gate(client, engine):
    plant = await register(engine, region_code="130203")
    beijing_plant = await register(engine, region_code="110105")
    admin = await staff_token(engine, role="admin", region="1302")
    listed_at = datetime.now(BEIJING) - timedelta(hours=2)
    posted = await client.post("/api/v1/admin/watchlist", headers=admin, json={"entries": [
        {"plateNo": "冀B66666", "plateColor": "1", "reason": "5", "listedAt": beijing(listed_at)}]})
    assert posted.status_code == 200 and posted.json()["items"][0]["reasonLabel"] == "遥感监测"
    first = await client.get("/api/v1/watchlist", headers=plant.auth)
    plates = {(e["plateNo"], e["plateColor"]) for e in first.json()["items"]}
    assert ("冀B66666", "1") in plates
    cursor, etag = first.json()["cursor"], first.headers["ETag"]
    assert (await client.get("/api/v1/watchlist", headers={**plant.auth, "If-None-Match": etag})).status_code == 304
    unchanged = await client.get("/api/v1/watchlist", params={"since": cursor}, headers=plant.auth)
    assert unchanged.json()["items"] == [] and unchanged.json()["cursor"] == cursor
    outside = (await client.get("/api/v1/watchlist", headers=beijing_plant.auth)).json()["items"]
    assert ("冀B66666", "1") not in {(e["plateNo"], e["plateColor"]) for e in outside}

    entry = movement(plateNo="冀B66666", plateColor="1", direction="1")
    exit_ = movement(plateNo="冀B66666", plateColor="1", direction="2")
    other_colour = movement(plateNo="冀B66666", plateColor="2", direction="1")
    before_listing = movement(plateNo="冀B66666", plateColor="1", direction="1",
                              passTime=beijing(listed_at - timedelta(minutes=1)))
    answer = (await client.post("/api/v1/movements", json=batch(plant, entry, exit_, other_colour, before_listing),
                                headers=plant.auth)).json()
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 4  # stored all the same: evidence
    codes = [[w["code"] for w in r["warnings"]] for r in answer["results"]]
    assert ["watchlisted" in c for c in codes] == [True, False, False, False]

    released = await client.post("/api/v1/admin/watchlist", headers=admin, json={"entries": [
        {"plateNo": "冀B66666", "plateColor": "1", "reason": "5", "listedAt": beijing(listed_at),
         "releasedAt": beijing(datetime.now(BEIJING) - timedelta(minutes=30))}]})
    assert released.status_code == 200
    changed = (await client.get("/api/v1/watchlist", params={"since": cursor}, headers=plant.auth)).json()
    assert [e["releasedAt"] is not None for e in changed["items"]] == [True] and changed["cursor"] != cursor
    later = (await client.post("/api/v1/movements", json=batch(plant, movement(plateNo="冀B66666", plateColor="1")),
                               headers=plant.auth)).json()
    assert "watchlisted" not in [w["code"] for w in later["results"][0]["warnings"]]


async def test_exemptions_are_kept_per_enterprise(client, engine):
    plant = await register(engine, region_code="130203")
    admin = await staff_token(engine, role="admin", region="1302")
    path = f"/api/v1/admin/enterprises/{plant.code}/exemptions"
    body = {"plateNo": "冀B12345", "plateColor": "1", "kind": "livelihood", "validFrom": "2026-12-01 00:00:00",
            "validTo": "2026-12-03 00:00:00", "approval": "唐环应急〔2026〕7号"}
    assert (await client.post(path, json=body, headers=admin)).status_code == 201
    assert (await client.post(path, json={**body, "validTo": "2026-11-30 00:00:00"}, headers=admin)
            ).status_code == 422
    assert (await client.post(path, json={**body, "plateNo": "not a plate"}, headers=admin)).status_code == 422
    items = (await client.get(path, headers=admin)).json()["items"]
    assert [(e["plateNo"], e["validFrom"], e["validTo"]) for e in items] == [
        ("冀B12345", "2026-12-01T00:00:00+08:00", "2026-12-03T00:00:00+08:00")]
