"""Day digests a plant can compare with its own ledger, and finding rows edited behind the service's back."""

import hashlib

from sqlalchemy import text

from tests.conftest import register, staff_token
from tests.factories import batch, movement
from tests.serving import hj1321_env, run_hj1321

DAY = "2026-11-10"


async def test_the_day_digest_is_what_the_plant_computes_over_its_own_ledger(client, engine):
    plant = await register(engine)
    sent = [movement(recordId=record_id, passTime=f"{DAY} {hour}:00:00")
            for record_id, hour in (("R-b", "09"), ("R-a", "10"), ("R-Z", "23"))]
    late_evening = movement(recordId="R-next", passTime="2026-11-11 00:30:00")  # another Beijing day
    answer = (await client.post("/api/v1/movements", json=batch(plant, *sent, late_evening), headers=plant.auth)).json()
    receipts = {r["recordId"]: r["contentHash"] for r in answer["results"]}
    # What the gateway does on its side: its records of the day, sorted bytewise, one line each.
    lines = "".join(f"{rid}\t{receipts[rid]}\n" for rid in sorted(["R-b", "R-a", "R-Z"], key=str.encode))
    expected = "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
    own = (await client.get("/api/v1/digest", params={"date": DAY}, headers=plant.auth)).json()
    assert own == {"enterpriseCode": plant.code, "date": DAY, "records": 3, "digest": expected}
    bureau = await client.get(f"/api/v1/enterprises/{plant.code}/digest", params={"date": DAY},
                              headers=await staff_token(engine, region="1302"))
    assert bureau.json() == own
    corrected = {**sent[0], "goodsAmount": 1.5}
    await client.post("/api/v1/movements", json=batch(plant, corrected), headers=plant.auth)
    after = (await client.get("/api/v1/digest", params={"date": DAY}, headers=plant.auth)).json()
    assert after["records"] == 3 and after["digest"] != expected  # the current version counts


async def test_verify_names_a_row_edited_behind_the_services_back(client, engine, database_url, tmp_path):
    plant = await register(engine)
    record = movement(recordId="EVIDENCE-1", passTime=f"{DAY} 08:00:00")
    await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)
    await client.post("/api/v1/movements", json=batch(plant, {**record, "goodsAmount": 5.0}), headers=plant.auth)
    env = hj1321_env(DATABASE_URL=database_url)
    clean = run_hj1321(["verify", "--from", DAY, "--to", DAY], tmp_path, env)
    assert clean.returncode == 0 and "every content hash matches" in clean.stdout, clean.stdout + clean.stderr
    async with engine.begin() as connection:  # a quiet change of the plate in the earlier version
        await connection.execute(text("UPDATE movement_version SET plate_no = '冀B99999' WHERE enterprise_id = :e"),
                                 {"e": plant.id})
    try:
        found = run_hj1321(["verify", "--from", DAY, "--to", DAY], tmp_path, env)
        assert found.returncode == 1
        assert f"movement_version: enterprise {plant.code} movements EVIDENCE-1 version 1" in found.stdout
        assert "1 of" in found.stdout
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE movement_version SET plate_no = :p WHERE enterprise_id = :e"),
                                     {"e": plant.id, "p": record["plateNo"]})
