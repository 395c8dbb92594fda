"""statistics.md figures against a small plant whose trips, tonnes, stages and manifest are counted by hand."""

from tests.conftest import register
from tests.factories import nonroad_machinery, png_bytes, sha256_hex
from tests.stats.conftest import DAY, NEXT, post, staff_headers, trip


async def completeness(client, engine, plant, start=DAY, end=DAY):
    response = await client.get(f"/api/v1/enterprises/{plant.code}/completeness", params={"from": start, "to": end},
                                headers=await staff_headers(engine))
    assert response.status_code == 200, response.text
    return response.json()


async def clean(client, engine, plant, policy="ule-2024"):
    response = await client.get(f"/api/v1/enterprises/{plant.code}/clean-transport",
                                params={"from": DAY, "to": NEXT, "policy": policy}, headers=await staff_headers(engine))
    assert response.status_code == 200, response.text
    return response.json()


def rate(value, numerator, denominator):
    return {"value": value, "numerator": numerator, "denominator": denominator}


async def test_upload_completeness_of_the_hand_counted_day(client, engine, plant):
    day = (await completeness(client, engine, plant))["days"][0]
    assert day["date"] == DAY and day["received"] == 6 and day["expected"] == 8 and day["missing"] == 2
    assert day["uploadRate"] == rate(0.75, 6, 8)
    assert day["fieldCompletenessRate"] == rate(0.3333, 2, 6)
    assert day["timelinessRate"] == rate(0.0, 0, 6)  # every record arrived days after its pass
    assert day["pairingRate"] == rate(0.4, 2, 5)  # R1 (by R2) and R5 (by R6, next day) of five entries
    assert (day["late"], day["reupload"], day["meetsTarget"]) == (6, 1, False)


async def test_the_missing_list_and_a_backfill_that_restates_the_day(client, engine, plant):
    own = (await client.get("/api/v1/missing", params={"date": DAY}, headers=plant.auth)).json()
    assert own["missingRecordIds"] == [{"gateNo": "1", "barrierNo": "01", "recordId": "LOST-1"}]
    assert own["seqGaps"] == [{"gateNo": "1", "barrierNo": "01", "from": 4, "to": 4}]

    await post(client, plant, "movements", trip("LOST-1", f"{DAY} 10:30:00", "1", "冀B10008", "6", "Q11", 25.0, 4,
                                                 reupload=True))
    after = (await client.get(f"/api/v1/enterprises/{plant.code}/missing", params={"date": DAY},
                              headers=await staff_headers(engine))).json()
    assert after["missingRecordIds"] == [] and after["seqGaps"] == []
    day = (await completeness(client, engine, plant))["days"][0]
    assert day["uploadRate"] == rate(0.875, 7, 8) and day["reupload"] == 2

    figures = await clean(client, engine, plant)
    assert figures["roadTonnes"] == 116.0  # 91 + the backfilled 25 t
    assert figures["cleanTransportRatio"] == rate(0.7752, 400.0, 516.0)
    assert next(r for r in figures["requirements"] if r["id"] == "clean-transport")["anyOf"][0]["pass"] is False


async def test_clean_transport_figures_and_policies(client, engine, plant):
    figures = await clean(client, engine, plant)
    assert (figures["trips"], figures["tripsIn"], figures["tripsOut"], figures["heavyTrips"]) == (7, 5, 2, 5)
    assert figures["byEmissionStandard"] == {"0": 0, "1": 0, "2": 0, "3": 0, "4": 2, "5": 1, "6": 3, "D": 1, "X": 0}
    assert figures["heavyByEmissionStandard"]["6"] == 2 and figures["heavyNevTrips"] == 1
    assert figures["heavyNevTripShare"] == rate(0.2, 1, 5)
    assert figures["heavyChinaVIOrNevShare"] == rate(0.6, 3, 5)
    assert figures["heavyChinaVOrBetterShare"] == rate(0.8, 4, 5)
    assert (figures["roadTonnes"], figures["roadNevTonnes"], figures["cleanModeTonnes"]) == (91.0, 31.0, 400.0)
    assert figures["cleanModeTonnesByMode"] == {"rail": 300.0, "belt_corridor": 100.0}
    assert figures["cleanTransportRatio"] == rate(0.8147, 400.0, 491.0)
    assert figures["cleanTransportRatioWithNev"] == rate(0.8778, 431.0, 491.0)
    assert figures["inplant"]["total"] == 2 and figures["inplant"]["nevShare"] == rate(0.5, 1, 2)
    assert figures["inplant"]["chinaVIOrNevShare"] == rate(1.0, 2, 2)
    assert figures["nonroad"]["stage4OrNevShare"] == rate(0.6667, 2, 3)
    assert figures["nonroad"]["stage3OrBetterShare"] == rate(1.0, 3, 3)

    verdicts = {r["id"]: r["pass"] for r in figures["requirements"]}
    assert verdicts == {"clean-transport": True, "inplant-nev": False, "nonroad-iv": False}
    assert figures["pass"] is False and figures["policy"]["id"] == "ule-2024"
    performance = await clean(client, engine, plant, "performance-a")
    assert {r["id"]: r["pass"] for r in performance["requirements"]} == {"clean-ratio": True,
                                                                         "heavy-v-or-better": False}
    tianjin = await clean(client, engine, plant, "tianjin-a-2024")
    first = tianjin["requirements"][0]
    assert (first["figure"], first["value"], first["threshold"], first["pass"]) == (
        "cleanTransportRatioWithNev", 0.8778, 0.9, False)


async def test_a_correction_of_the_emission_stage_changes_the_figures(client, engine, plant):
    await post(client, plant, "movements", trip("R4", f"{DAY} 11:00:00", "1", "冀B10004", "6", "H11", 20.0, 5))
    figures = await clean(client, engine, plant)
    assert figures["byEmissionStandard"]["5"] == 0 and figures["byEmissionStandard"]["6"] == 4
    assert figures["heavyChinaVIOrNevShare"] == rate(0.8, 4, 5)
    await post(client, plant, "movements", trip("R5", f"{DAY} 23:00:00", "1", "冀BD10005", "D", None, 10.0, 6))
    figures = await clean(client, engine, plant)
    assert figures["roadNevTonnes"] == 41.0
    # R5 changed plate, so R6 no longer pairs it: the day's pairing rate restates too.
    assert (await completeness(client, engine, plant))["days"][0]["pairingRate"] == rate(0.2, 1, 5)


async def test_a_photo_arriving_later_raises_field_completeness(client, engine, plant):
    before = (await completeness(client, engine, plant))["days"][0]["fieldCompletenessRate"]
    photo = png_bytes()
    record = trip("R9", f"{DAY} 15:00:00", "1", "冀B10009", "6", "Q11", 1.0, 8,
                  passPhoto=f"sha256:{sha256_hex(photo)}", listPhoto=f"sha256:{sha256_hex(photo)}")
    await post(client, plant, "movements", record)
    assert (await completeness(client, engine, plant))["days"][0]["fieldCompletenessRate"] == rate(
        round(2 / 7, 4), 2, 7)
    await client.put(f"/api/v1/photos/{sha256_hex(photo)}", content=photo,
                     headers={**plant.auth, "Content-Type": "image/png"})
    after = (await completeness(client, engine, plant))["days"][0]["fieldCompletenessRate"]
    assert before == rate(0.3333, 2, 6) and after == rate(0.4286, 3, 7)


async def test_no_denominator_means_null_not_zero(client, engine):
    empty = await register(engine)
    report = await completeness(client, engine, empty, "2026-11-01", "2026-11-03")
    assert len(report["days"]) == 3
    for figures in [*report["days"], report["total"]]:
        assert figures["uploadRate"]["value"] is None and figures["fieldCompletenessRate"]["value"] is None
        assert figures["meetsTarget"] is None and figures["expected"] is None and figures["missing"] is None
    figures = await clean(client, engine, empty)
    assert figures["cleanTransportRatio"] == rate(None, 0.0, 0.0)
    assert figures["heavyNevTripShare"]["value"] is None
    assert figures["pass"] is False  # a ratio that cannot be computed does not pass


async def test_totals_sum_the_days(client, engine, plant):
    report = await completeness(client, engine, plant, DAY, NEXT)
    assert [d["received"] for d in report["days"]] == [6, 1]
    total = report["total"]
    # The next day has no manifest and one seq number, so its expected (1) is known too.
    assert total["received"] == 7 and total["expected"] == 9 and total["uploadRate"] == rate(0.7778, 7, 9)
    assert total["missing"] == 2


async def test_access_boundaries_for_figures(client, engine, plant):
    elsewhere = await staff_headers(engine, "11")
    for path in ("completeness", "clean-transport"):
        response = await client.get(f"/api/v1/enterprises/{plant.code}/{path}", params={"from": DAY, "to": DAY},
                                    headers=elsewhere)
        assert response.status_code == 403
        gateway = await client.get(f"/api/v1/enterprises/{plant.code}/{path}", params={"from": DAY, "to": DAY},
                                   headers=plant.auth)
        assert gateway.status_code == 403
    assert (await client.get(f"/api/v1/enterprises/{plant.code}/missing", params={"date": DAY},
                             headers=elsewhere)).status_code == 403
    other = await register(engine)
    foreign = {"enterpriseCode": other.code, "date": DAY, "barriers": [{"gateNo": "1", "barrierNo": "01", "count": 1}]}
    assert (await client.post("/api/v1/manifests", json=foreign, headers=plant.auth)).status_code == 403
    bad = {"enterpriseCode": plant.code, "date": "2026-13-01", "barriers": [{"gateNo": "1", "barrierNo": "01",
                                                                           "count": -1}]}
    response = await client.post("/api/v1/manifests", json=bad, headers=plant.auth)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["detail"]} == {"date", "barriers.0.count"}
    window = await client.get(f"/api/v1/enterprises/{plant.code}/completeness", params={"from": NEXT, "to": DAY},
                              headers=await staff_headers(engine))
    assert window.status_code == 422
    unknown = await client.get(f"/api/v1/enterprises/{plant.code}/clean-transport",
                               params={"from": DAY, "to": DAY, "policy": "nope"}, headers=await staff_headers(engine))
    assert unknown.status_code == 404


async def test_tianjin_a_judges_new_machinery_and_stops_aged_stage_iii(client, engine):
    """The window ends 2026-11-11, so aged means produced on or before 2020-11-11; new means from 2024-01-01."""
    enterprise = await register(engine)
    machines = [("4", "2024-03-01", True),   # new, 国四: fine
                ("3", "2024-05-01", True),   # new, 国三: breaks the rule on new machinery
                ("3", "2019-01-01", True),   # 国三 aged 7 years, still in service: must be stopped
                ("2", "2020-11-11", True),   # 国二 exactly 6 years old at the window's end: aged too
                ("3", "2020-11-12", True),   # 国三 a day short of 6 years: may still work
                ("3", "2021-01-01", True),   # 国三 under 6 years: may still work
                ("3", None, True),           # age unknown: reported, not judged
                ("D", "2018-01-01", True),   # new energy, old: fine
                ("3", "2015-01-01", False)]  # aged 国三 already retired: fine
    await post(client, enterprise, "nonroad-machinery", *[
        nonroad_machinery(emissionStandard=stage, productionDate=produced, active=active)
        for stage, produced, active in machines])
    tianjin = await clean(client, engine, enterprise, "tianjin-a-2024")
    nonroad = tianjin["nonroad"]
    assert nonroad["newTotal"] == 2 and nonroad["newStage4OrNevShare"] == rate(0.5, 1, 2)
    assert (nonroad["agedStage3OrOlder"], nonroad["agedBefore"], nonroad["stage3OrOlderAgeUnknown"]) == (
        2, "2020-11-11", 1)
    verdicts = {r["id"]: (r["value"], r["pass"]) for r in tianjin["requirements"]}
    assert verdicts["nonroad-new-iv"] == (0.5, False) and verdicts["nonroad-aged-iii-stopped"] == (2, False)
    assert "nonroad-iv" not in verdicts  # 国四 is no longer asked of every machine
