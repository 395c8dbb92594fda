"""Findings during alerts, counted by hand: each rule of the national table at its boundaries."""

import random

import pytest

from tests.conftest import register, staff_token
from tests.factories import batch, movement

DAY, NEXT = "2026-11-10", "2026-11-11"
# One city a test: two alerts over one city would make every finding of its plants count twice.
CITIES = iter(range(50, 100))


def heavy(record_id, time, stage, **extra):
    values = {"recordId": record_id, "passTime": time, "emissionStandard": stage, "vehicleType": "Q11",
              "fuelType": "B", "direction": "1", "useNature": "F", "goodsAmount": 30.0}
    values.update(extra)
    return movement(**values)


async def post(client, plant, *records):
    answer = await client.post("/api/v1/movements", json=batch(plant, *records), headers=plant.auth)
    assert answer.status_code == 200 and answer.json()["rejected"] == 0, answer.text
    return answer.json()


async def find(client, headers, **params):
    response = await client.get("/api/v1/emergency/violations", params={"from": DAY, "to": NEXT, **params},
                                headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def tangshan(client, engine):
    """An orange alert over the plant's city from 11-10 08:00:00 until 11-11 08:00:00, the national default
    (no measure); the plant is graded B."""
    admin = await staff_token(engine, role="admin", region="13")
    region = f"13{next(CITIES)}{random.randint(10, 99)}"
    plant = await register(engine, region_code=region)
    await client.put(f"/api/v1/admin/enterprises/{plant.code}/grade", headers=admin,
                     json={"grade": "B", "validFrom": "2026-01-01"})
    alert = (await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": region[:4], "level": "orange", "startsAt": f"{DAY} 08:00:00",
        "endsAt": f"{NEXT} 08:00:00"})).json()
    await client.post(f"/api/v1/admin/enterprises/{plant.code}/exemptions", headers=admin, json={
        "plateNo": "冀B00006", "plateColor": "1", "kind": "livelihood", "validFrom": f"{DAY} 00:00:00",
        "validTo": f"{NEXT} 00:00:00", "approval": "应急〔2026〕6号"})
    await post(client, plant,
               heavy("M1", f"{DAY} 07:59:59", "4"),                            # before the start: out of scope
               heavy("M2", f"{DAY} 08:00:00", "4"),                            # the start is inclusive: banned
               heavy("M3", f"{DAY} 09:00:00", "5"),                            # 国五 diesel: allowed
               heavy("M4", f"{DAY} 10:00:00", "X"),                            # stage unknown
               heavy("M5", f"{DAY} 11:00:00", "4", useNature="R"),             # 危化品: exempt
               heavy("M6", f"{DAY} 12:00:00", "3", plateNo="冀B00006"),        # approved exemption
               heavy("M7", f"{DAY} 13:00:00", "4", direction="2"),             # an exit counts too
               heavy("M8", f"{DAY} 14:00:00", "2", vehicleType="K33"),         # not heavy
               heavy("M9", f"{NEXT} 08:00:00", "4"),                           # the end is exclusive
               heavy("M10", f"{DAY} 15:00:00", "3", vehicleType=None, goodsAmount=10.0),  # heavy by its load
               heavy("M11", f"{DAY} 16:00:00", "D", fuelType="C"))             # new energy: allowed
    return plant, alert, admin, region


async def test_the_national_default_for_a_graded_plant(client, engine, tangshan):
    plant, alert, _, region = tangshan
    viewer = await staff_token(engine, region=region[:4])
    found = await find(client, viewer, enterpriseCode=plant.code)
    assert [(i["recordId"], i["rule"]) for i in found["items"]] == [
        ("M2", "stage_banned_during_alert"), ("M4", "stage_unknown_during_alert"),
        ("M7", "stage_banned_during_alert"), ("M10", "stage_banned_during_alert")]
    assert found["items"][0]["alertId"] == alert["id"] and found["items"][0]["grade"] == "B"
    assert found["summary"] == [{"enterpriseCode": plant.code, "alertId": alert["id"], "grade": "B",
                                 "level": "orange", "inScope": 9, "heavyInScope": 8, "exempt": 2, "violations": 4,
                                 "violationShare": {"value": 0.5, "numerator": 4, "denominator": 8},
                                 "capExceededDays": 0}]


async def test_a_correction_restates_the_findings_and_pages_are_stable(client, engine, tangshan):
    plant, _, _, region = tangshan
    viewer = await staff_token(engine, region=region[:4])
    await post(client, plant, heavy("M3", f"{DAY} 09:00:00", "4"))  # 国五 was wrong: 国四
    first = await find(client, viewer, enterpriseCode=plant.code, limit=2)
    second = await find(client, viewer, enterpriseCode=plant.code, limit=2, cursor=first["nextCursor"])
    third = await find(client, viewer, enterpriseCode=plant.code, limit=2, cursor=second["nextCursor"])
    assert [i["recordId"] for i in first["items"] + second["items"] + third["items"]] == [
        "M2", "M3", "M4", "M7", "M10"]
    assert third["nextCursor"] is None and first["summary"][0]["violations"] == 5
    bad = await client.get("/api/v1/emergency/violations", params={"from": DAY, "to": NEXT, "cursor": "x"},
                           headers=viewer)
    assert bad.status_code == 422


async def test_findings_stay_inside_the_jurisdiction(client, engine, tangshan):
    plant, _, _, region = tangshan
    elsewhere = await staff_token(engine, region="11")
    assert (await find(client, elsewhere))["items"] == []
    refused = await client.get("/api/v1/emergency/violations", headers=elsewhere,
                               params={"from": DAY, "to": NEXT, "enterpriseCode": plant.code})
    assert refused.status_code == 403
    wider = await client.get("/api/v1/emergency/violations", headers=await staff_token(engine, region=region[:4]),
                             params={"from": DAY, "to": NEXT, "regionCode": "14"})
    assert wider.status_code == 403


async def test_measure_3_gas_against_diesel_and_a_level_change_at_an_exact_second(client, engine, tangshan):
    _, _, admin, region = tangshan
    city = region[:4]
    plant = await register(engine, region_code=city + "99")
    a_plant = await register(engine, region_code=city + "98")
    d_plant = await register(engine, region_code=city + "97")
    for graded, grade in ((a_plant, "A"), (d_plant, "D")):
        await client.put(f"/api/v1/admin/enterprises/{graded.code}/grade", headers=admin,
                         json={"grade": grade, "validFrom": "2026-01-01"})
    orange = (await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": city + "99", "level": "orange", "measure": 3, "startsAt": f"{NEXT} 09:00:00"})).json()
    red = (await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": city + "99", "level": "red", "measure": 4, "startsAt": f"{NEXT} 12:00:00",
        "supersedes": orange["id"]})).json()
    await post(client, plant,
               heavy("G1", f"{NEXT} 09:10:00", "4"),                    # diesel 国四: banned under 3
               heavy("G2", f"{NEXT} 09:20:00", "5", fuelType="E"),      # gas 国五: banned under 3
               heavy("G3", f"{NEXT} 09:30:00", "6", fuelType="E"),      # gas 国六: allowed
               heavy("G4", f"{NEXT} 09:40:00", "5"),                    # diesel 国五: allowed
               heavy("G5", f"{NEXT} 11:59:59", "5"),                    # last second of orange: allowed
               heavy("G6", f"{NEXT} 12:00:00", "D", fuelType="C"))      # first second of red (4): all stopped
    viewer = await staff_token(engine, region=city)
    found = await find(client, viewer, enterpriseCode=plant.code)
    assert [(i["recordId"], i["rule"], i["alertId"]) for i in found["items"]] == [
        ("G1", "stage_banned_during_alert", orange["id"]), ("G2", "stage_banned_during_alert", orange["id"]),
        ("G6", "road_transport_stopped", red["id"])]
    # The alert over ...99 does not reach ...98 and ...97; an alert over the city does, by grade.
    city_alert = (await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": city, "level": "yellow", "startsAt": f"{NEXT} 13:00:00", "endsAt": f"{NEXT} 14:00:00"})).json()
    await post(client, a_plant, heavy("A1", f"{NEXT} 13:30:00", "3"))
    await post(client, d_plant, heavy("D1", f"{NEXT} 13:30:00", "D", fuelType="C"))
    for graded, expected in ((a_plant, []), (d_plant, [("D1", "road_transport_stopped")])):
        items = (await find(client, viewer, enterpriseCode=graded.code, alertId=city_alert["id"]))["items"]
        assert [(i["recordId"], i["rule"]) for i in items] == expected


async def test_the_comparison_with_normal_days_and_the_entry_cap(client, engine):
    """Alert 11-10 08:00 until 11-12 00:00 capping heavy entries at half of normal. Normal days: the five
    full days before it without an alert for the plant: 11-09, 11-08, (11-07 had one), 11-06, 11-05, 11-04
    with 6 + 4 + 5 + 5 + 10 = 30 heavy entries, mean 6, so the cap of the whole day 11-11 is ceil(3) = 3."""
    region = f"62{random.randint(10, 99)}01"
    plant = await register(engine, region_code=region)
    admin = await staff_token(engine, role="admin", region="62")
    await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": region[:4], "level": "yellow", "startsAt": "2026-11-07 12:00:00",
        "endsAt": "2026-11-07 14:00:00"})
    alert = (await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": region[:2], "level": "orange", "startsAt": "2026-11-10 08:00:00",
        "endsAt": "2026-11-12 00:00:00", "maxHeavyEntryRatio": 0.5})).json()
    counts = {"2026-11-04": 10, "2026-11-05": 5, "2026-11-06": 5, "2026-11-07": 100, "2026-11-08": 4,
              "2026-11-09": 6, "2026-11-10": 2, "2026-11-11": 5}
    records = [heavy(f"C-{day}-{n}", f"{day} {9 + n // 60:02d}:{n % 60:02d}:00", "6")
               for day, count in counts.items() for n in range(count)]
    records += [heavy("C-exit", "2026-11-11 10:00:00", "6", direction="2"),
                heavy("C-light", "2026-11-11 10:00:00", "6", vehicleType="K33")]
    for start in range(0, len(records), 500):
        await post(client, plant, *records[start:start + 500])
    viewer = await staff_token(engine, region=region[:4])
    answer = await client.get(f"/api/v1/enterprises/{plant.code}/emergency", params={"alertId": alert["id"]},
                              headers=viewer)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert [(d["date"], d["heavyEntries"]) for d in found["baselineDays"]] == [
        ("2026-11-04", 10), ("2026-11-05", 5), ("2026-11-06", 5), ("2026-11-08", 4), ("2026-11-09", 6)]
    assert found["baselineDailyHeavyEntries"] == 6
    assert found["alertDays"] == [
        {"date": "2026-11-10", "heavyEntries": 2, "wholeDay": False, "cap": None, "excess": None},
        {"date": "2026-11-11", "heavyEntries": 5, "wholeDay": True, "cap": 3, "excess": 2}]
    assert found["alertToNormalRatio"] == {"value": 0.5833, "numerator": 3.5, "denominator": 6.0}
    assert found["capExceededDays"] == 1
    # The same day is a finding of the alert, for the province's bureau, on the first page.
    listed = (await find(client, await staff_token(engine, region=region[:2]),
                         **{"from": "2026-11-10", "to": "2026-11-11", "alertId": alert["id"]}))
    assert [f for f in listed["items"] if f["rule"] == "entry_cap_exceeded"] == [{
        "rule": "entry_cap_exceeded", "severity": "violation", "enterpriseCode": plant.code, "alertId": alert["id"],
        "level": "orange", "measure": None, "date": "2026-11-11", "cap": 3, "entries": 5, "excess": 2}]
    assert next(r for r in listed["summary"] if r["enterpriseCode"] == plant.code)["capExceededDays"] == 1
    # A backfilled entry of a normal day restates the baseline at once.
    await post(client, plant, heavy("C-late", "2026-11-09 23:00:00", "6", reupload=True))
    again = (await client.get(f"/api/v1/enterprises/{plant.code}/emergency", params={"alertId": alert["id"]},
                              headers=viewer)).json()
    assert again["baselineDailyHeavyEntries"] == 6.2 and again["alertDays"][1]["cap"] == 4
    elsewhere = await client.get(f"/api/v1/enterprises/{plant.code}/emergency", params={"alertId": alert["id"]},
                                 headers=await staff_token(engine, region="11"))
    assert elsewhere.status_code == 403


async def test_listed_vehicles_are_findings_with_or_without_an_alert(client, engine, tangshan):
    plant, alert, _, region = tangshan
    listing = await client.post("/api/v1/admin/watchlist", headers=await staff_token(engine, role="admin",
                                                                                      region=region[:4]),
                                json={"entries": [{"plateNo": "冀B77777", "plateColor": "1", "reason": "2",
                                                   "listedAt": f"{DAY} 00:00:00"}]})
    assert listing.status_code == 200
    await post(client, plant,
               heavy("W1", f"{DAY} 10:30:00", "6", plateNo="冀B77777"),                 # entry during the alert
               heavy("W2", f"{DAY} 11:30:00", "6", plateNo="冀B77777", direction="2"),  # its exit: information
               heavy("W3", f"{NEXT} 09:00:00", "6", plateNo="冀B77777"),                # entry after the alert
               heavy("W4", f"{DAY} 12:30:00", "6", plateNo="冀B77777", plateColor="2"))  # another plate colour
    viewer = await staff_token(engine, region=region[:4])
    found = await find(client, viewer, enterpriseCode=plant.code)
    listed = [(i["recordId"], i["rule"], i["severity"], i["alertId"], i["reason"]) for i in found["items"]
              if i["plateNo"] == "冀B77777"]
    assert listed == [("W1", "watchlisted_vehicle", "violation", alert["id"], "2"),
                      ("W2", "watchlisted_vehicle_exit", "info", alert["id"], "2"),
                      ("W3", "watchlisted_vehicle", "violation", None, "2")]
    from prometheus_client import REGISTRY

    counted = REGISTRY.get_sample_value("hj1321_emergency_violations_total",
                                        {"rule": "watchlisted_vehicle", "enterprise": plant.code})
    assert counted == 2  # the two entries, at receipt; not the exit, not the other colour
    rows = {row["alertId"]: row for row in found["summary"]}
    assert rows[alert["id"]]["violations"] == 5 and rows[alert["id"]]["inScope"] == 12
    assert rows[None]["violations"] == 1 and rows[None]["inScope"] == 0
    only_alert = await find(client, viewer, enterpriseCode=plant.code, alertId=alert["id"])
    assert "W3" not in {i["recordId"] for i in only_alert["items"]}


async def test_the_daily_report_and_the_export_show_the_violations(client, engine, tangshan):
    import csv
    import io

    plant, _, _, region = tangshan
    viewer = await staff_token(engine, region=region[:4])
    report = (await client.get("/api/v1/reports/daily", params={"date": DAY, "regionCode": region},
                               headers=viewer)).json()
    row = next(r for r in report["rows"] if r["enterpriseCode"] == plant.code)
    assert row["alertViolations"] == 4
    exported = await client.get("/api/v1/exports/movements", headers=viewer,
                                params={"enterpriseCode": plant.code, "from": DAY, "to": NEXT, "format": "csv"})
    rows = {r["记录流水号"]: r["应急违规"] for r in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))}
    assert rows["M2"] == "应急期间禁用排放阶段车辆" and rows["M4"] == "应急期间排放阶段不明"
    assert rows["M3"] == "" and rows["M1"] == ""


async def test_violations_are_counted_at_receipt_for_prometheus(client, engine, tangshan):
    from prometheus_client import REGISTRY

    plant, _, _, _ = tangshan

    def counted(rule):
        return REGISTRY.get_sample_value("hj1321_emergency_violations_total",
                                         {"rule": rule, "enterprise": plant.code}) or 0.0

    # The fixture's batch: M2, M7, M10 banned stages and M4 of unknown stage.
    assert (counted("stage_banned_during_alert"), counted("stage_unknown_during_alert")) == (3, 1)
    await post(client, plant, heavy("M12", f"{DAY} 17:00:00", "2"), heavy("M13", f"{DAY} 17:30:00", "6"))
    assert counted("stage_banned_during_alert") == 4
    # A graded plant of a region no alert covers, the same hours: nothing is counted for it.
    admin = await staff_token(engine, role="admin", region="65")
    neighbour = await register(engine, region_code=f"65{random.randint(10, 99)}01")
    await client.put(f"/api/v1/admin/enterprises/{neighbour.code}/grade", headers=admin,
                     json={"grade": "B", "validFrom": "2026-01-01"})
    await post(client, neighbour, heavy("N1", f"{DAY} 17:00:00", "2"), heavy("N2", f"{DAY} 17:30:00", "X"))
    assert [REGISTRY.get_sample_value("hj1321_emergency_violations_total", {"rule": rule, "enterprise": neighbour.code})
            for rule in ("stage_banned_during_alert", "stage_unknown_during_alert")] == [None, None]


async def test_an_alert_over_whole_and_cut_days_counts_every_movement_once_and_a_backfill_restates_it(
        client, engine):
    """Alert 11-20 20:00 until 11-22 06:00 over a C plant: 11-21 is covered whole (counted from the day
    aggregates), 11-20 and 11-22 are cut (counted from the movements). By hand: in scope E2 E3 E4 E5 E6 E7
    L1 F2 = 8, heavy 7 (not L1), exempt 2 (E5 by its approval although 国六, E6 hazardous goods),
    violations E2 (国四), E4 (stage unknown), F2 (国三 exit) = 3."""
    region = f"41{random.randint(10, 99)}02"
    plant = await register(engine, region_code=region)
    admin = await staff_token(engine, role="admin", region="41")
    await client.put(f"/api/v1/admin/enterprises/{plant.code}/grade", headers=admin,
                     json={"grade": "C", "validFrom": "2026-01-01"})
    alert = (await client.post("/api/v1/admin/alerts", headers=admin, json={
        "regionCode": region[:4], "level": "red", "startsAt": "2026-11-20 20:00:00",
        "endsAt": "2026-11-22 06:00:00"})).json()
    exempted = await client.post(f"/api/v1/admin/enterprises/{plant.code}/exemptions", headers=admin, json={
        "plateNo": "豫A00005", "plateColor": "1", "kind": "safety", "validFrom": "2026-11-21 00:00:00",
        "validTo": "2026-11-21 23:00:00", "approval": "应急〔2026〕9号"})
    assert exempted.status_code == 201
    await post(client, plant,
               heavy("E1", "2026-11-20 19:59:59", "4"),                        # cut day, before the start
               heavy("E2", "2026-11-20 20:00:00", "4"),                        # cut day, first second: banned
               heavy("E3", "2026-11-21 00:00:00", "6"),                        # whole day: allowed
               heavy("E4", "2026-11-21 09:00:00", "X"),                        # whole day: stage unknown
               heavy("E5", "2026-11-21 10:00:00", "6", plateNo="豫A00005"),     # approved: exempt
               heavy("E6", "2026-11-21 11:00:00", "5", useNature="R"),         # hazardous goods: exempt
               heavy("E7", "2026-11-21 12:00:00", "5", fuelType="E"),          # gas 国五, national default: allowed
               heavy("L1", "2026-11-21 13:00:00", "3", vehicleType="K33"),     # not heavy
               heavy("E8", "2026-11-22 06:00:00", "4"))                        # cut day, the end is exclusive
    await post(client, plant, heavy("F1", "2026-11-22 07:00:00", "3", direction="2"),  # after the end
               heavy("F2", "2026-11-22 05:59:59", "3", direction="2"))        # cut day, last second: banned
    viewer = await staff_token(engine, region=region[:4])
    window = {"from": "2026-11-20", "to": "2026-11-22", "enterpriseCode": plant.code}

    async def summary():
        answer = await client.get("/api/v1/emergency/violations", params=window, headers=viewer)
        assert answer.status_code == 200, answer.text
        return answer.json()

    found = await summary()
    assert [(i["recordId"], i["rule"]) for i in found["items"]] == [
        ("E2", "stage_banned_during_alert"), ("E4", "stage_unknown_during_alert"), ("F2", "stage_banned_during_alert")]
    assert [(r["alertId"], r["grade"], r["inScope"], r["heavyInScope"], r["exempt"], r["violations"])
            for r in found["summary"]] == [(alert["id"], "C", 8, 7, 2, 3)]
    # Only the whole day asked for: the cut days fall outside the window.
    one_day = await client.get("/api/v1/emergency/violations", headers=viewer,
                               params={**window, "from": "2026-11-21", "to": "2026-11-21"})
    assert [(r["inScope"], r["heavyInScope"], r["exempt"], r["violations"]) for r in one_day.json()["summary"]] == [
        (6, 5, 2, 1)]
    # A backfilled 国四 pass of the whole day and a correction of E3 to 国二 restate the counts at once.
    await post(client, plant, heavy("E9", "2026-11-21 15:00:00", "4", reupload=True),
               heavy("E3", "2026-11-21 00:00:00", "2"))
    again = await summary()
    assert [(r["inScope"], r["heavyInScope"], r["exempt"], r["violations"]) for r in again["summary"]] == [
        (9, 8, 2, 5)]
