"""The day aggregates answer what the stored records say: random traffic, resends, corrections, photos."""

import random
from collections import defaultdict
from datetime import date, datetime, timedelta

from loadtests.generator import BEIJING, RecordGenerator
from tests.conftest import register
from tests.factories import png_bytes, sha256_hex
from tests.stats.conftest import staff_headers

DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(5)]
PLATES = [f"冀B2{n:04d}" for n in range(12)]


def oracle(records: dict[str, dict], held: set[str]) -> tuple[dict, dict]:
    """§2 counts per day and §1 trip counts, straight from the records that should be stored."""
    rows = []
    for r in records.values():
        moment = datetime.strptime(r["passTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        heavy = r["vehicleType"][:2] in ("H1", "Q1") if r.get("vehicleType") else r["goodsAmount"] > 0
        complete = (r["emissionStandard"] != "X" and r["passPhoto"][7:] in held and r["listPhoto"][7:] in held)
        rows.append({**r, "moment": moment, "day": moment.date(), "heavy": heavy, "complete": complete})
    days: dict[date, dict] = defaultdict(lambda: defaultdict(int))
    seqs: dict[tuple, list[int]] = defaultdict(list)
    for row in rows:
        counts = days[row["day"]]
        counts["received"] += 1
        counts["complete"] += row["complete"]
        counts["reupload"] += bool(row.get("reupload"))
        seqs[(row["day"], row["gateNo"], row["barrierNo"])].append(row["seq"])
        if row["direction"] == "1":
            counts["entries"] += 1
            counts["paired"] += any(o["plateNo"] == row["plateNo"] and o["direction"] == "2"
                                    and row["moment"] < o["moment"] <= row["moment"] + timedelta(hours=24)
                                    for o in rows)
    for (day, _, _), values in seqs.items():
        received_here = len(values)
        days[day]["expected"] += max(max(values) - min(values) + 1, received_here)
    mix = {"trips": len([r for r in rows if r["day"] in DAYS]),
           "heavyTrips": len([r for r in rows if r["heavy"] and r["day"] in DAYS]),
           "heavyVI": len([r for r in rows if r["heavy"] and r["day"] in DAYS and r["emissionStandard"] in "6D"]),
           "roadTonnes": round(sum(r["goodsAmount"] for r in rows if r["day"] in DAYS), 1)}
    return days, mix


async def test_figures_equal_a_recount_of_the_stored_records(client, engine):
    rng = random.Random(20261122)
    plant = await register(engine)
    photo = png_bytes()
    await client.put(f"/api/v1/photos/{sha256_hex(photo)}", content=photo,
                     headers={**plant.auth, "Content-Type": "image/png"})
    held = {sha256_hex(photo)}
    generator = RecordGenerator(seed=11, enterprise_code=plant.code, gates=2)
    stored: dict[str, dict] = {}
    sent: list[dict] = []
    for _ in range(12):
        records = []
        for _ in range(rng.randint(5, 40)):
            moment = datetime.combine(rng.choice(DAYS), datetime.min.time(), BEIJING) + timedelta(
                seconds=rng.randint(0, 86_399))
            record = generator.movement(pass_time=moment, plateNo=rng.choice(PLATES),
                                        reupload=rng.random() < 0.2)
            if rng.random() < 0.5:
                record["passPhoto"] = record["listPhoto"] = f"sha256:{sha256_hex(photo)}"
            records.append(record)
        if sent:  # resends, and corrections of stage, load or even the day of a pass
            for old in rng.sample(sent, min(len(sent), 6)):
                change = rng.choice([{}, {"emissionStandard": rng.choice("456D")}, {"goodsAmount": 12.3},
                                     {"passTime": (datetime.strptime(old["passTime"], "%Y-%m-%d %H:%M:%S")
                                                   + timedelta(hours=rng.choice([-30, 5, 20]))).strftime(
                                         "%Y-%m-%d %H:%M:%S")}])
                records.append({**old, **change, "reupload": True})
        response = await client.post("/api/v1/movements", json={"enterpriseCode": plant.code, "records": records},
                                     headers=plant.auth)
        assert response.status_code == 200 and response.json()["rejected"] == 0, response.text
        for record in records:
            previous = stored.get(record["recordId"])
            same = previous is not None and {k: v for k, v in previous.items() if k != "reupload"} == {
                k: v for k, v in record.items() if k != "reupload"}
            if not same:
                stored[record["recordId"]] = record
        sent += records

    days, mix = oracle(stored, held)
    headers = await staff_headers(engine)
    window = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()}
    report = (await client.get(f"/api/v1/enterprises/{plant.code}/completeness", params=window,
                               headers=headers)).json()
    for entry in report["days"]:
        expected = days[date.fromisoformat(entry["date"])]
        assert entry["received"] == expected["received"], entry["date"]
        assert entry["expected"] == (expected["expected"] or None), entry["date"]
        assert entry["fieldCompletenessRate"]["numerator"] == expected["complete"], entry["date"]
        assert entry["reupload"] == expected["reupload"], entry["date"]
        assert entry["pairingRate"]["numerator"] == expected["paired"], entry["date"]
        assert entry["pairingRate"]["denominator"] == expected["entries"], entry["date"]
    figures = (await client.get(f"/api/v1/enterprises/{plant.code}/clean-transport", params=window,
                                headers=headers)).json()
    assert figures["trips"] == mix["trips"] and figures["heavyTrips"] == mix["heavyTrips"]
    assert figures["heavyChinaVIOrNevShare"]["numerator"] == mix["heavyVI"]
    assert figures["roadTonnes"] == mix["roadTonnes"]
