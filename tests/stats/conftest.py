"""A small plant whose trips, tonnes, stages and manifest are counted by hand, for the figure tests."""


import pytest

from tests.conftest import register, staff_token
from tests.factories import batch, inplant_vehicle, movement, nonroad_machinery, png_bytes, sha256_hex, volume

DAY, NEXT = "2026-11-10", "2026-11-11"


async def staff_headers(engine, region: str = "13") -> dict[str, str]:
    return await staff_token(engine, region=region)


async def post(client, plant, path, *records):
    response = await client.post(f"/api/v1/{path}", json=batch(plant, *records), headers=plant.auth)
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == 0, response.text
    return response.json()


def trip(record_id, time, direction, plate, stage, vehicle_type, tonnes, seq, barrier="01", **extra):
    return movement(recordId=record_id, passTime=time, direction=direction, plateNo=plate, emissionStandard=stage,
                    vehicleType=vehicle_type, goodsAmount=tonnes, seq=seq, barrierNo=barrier, **extra)


@pytest.fixture
async def plant(client, engine):
    """Day 2026-11-10 at barrier 1-01 (hand counts in the test bodies):

    R1 in 08:00 冀B10001 国六 Q11 30t seq1 | R2 out 09:00 冀B10001 国六 Q11 0t seq2 (pairs R1)
    R3 in 10:00 冀BD10003 NEV Q11 31t seq3 补传 | R4 in 11:00 冀B10004 国五 H11 20t seq5 (seq 4 never sent)
    R5 in 23:00 冀B10005 国四 no type 10t seq6 (heavy by its load; exits next day 01:00 as R6)
    R7 in 12:00 冀B10007 国六 K33 0t seq7 (not heavy)
    Manifest: 8 passes, ids R1-R5, R7 and LOST-1. R1 and R2 name photos that arrive; the rest do not.
    """
    enterprise = await register(engine)
    photo = png_bytes()
    await client.put(f"/api/v1/photos/{sha256_hex(photo)}", content=photo,
                     headers={**enterprise.auth, "Content-Type": "image/png"})
    held = f"sha256:{sha256_hex(photo)}"
    await post(client, enterprise, "movements",
               trip("R1", f"{DAY} 08:00:00", "1", "冀B10001", "6", "Q11", 30.0, 1, passPhoto=held, listPhoto=held),
               trip("R2", f"{DAY} 09:00:00", "2", "冀B10001", "6", "Q11", 0.0, 2, passPhoto=held, listPhoto=held),
               trip("R3", f"{DAY} 10:00:00", "1", "冀BD10003", "D", "Q11", 31.0, 3, reupload=True),
               trip("R4", f"{DAY} 11:00:00", "1", "冀B10004", "5", "H11", 20.0, 5),
               trip("R5", f"{DAY} 23:00:00", "1", "冀B10005", "4", None, 10.0, 6),
               trip("R6", f"{NEXT} 01:00:00", "2", "冀B10005", "4", None, 0.0, 1, barrier="02"),
               trip("R7", f"{DAY} 12:00:00", "1", "冀B10007", "6", "K33", 0.0, 7))
    manifest = {"enterpriseCode": enterprise.code, "date": DAY, "barriers": [
        {"gateNo": "1", "barrierNo": "01", "count": 8, "recordIds": ["R1", "R2", "R3", "R4", "R5", "R7", "LOST-1"]}]}
    response = await client.post("/api/v1/manifests", json=manifest, headers=enterprise.auth)
    assert response.status_code == 200, response.text
    await post(client, enterprise, "clean-transport-volumes", volume(date=DAY, mode="rail", tonnes=300),
               volume(date=NEXT, mode="belt_corridor", tonnes=100), volume(date="2026-11-12", mode="water", tonnes=50))
    await post(client, enterprise, "inplant-vehicles", inplant_vehicle(emissionStandard="D"),
               inplant_vehicle(emissionStandard="6"), inplant_vehicle(emissionStandard="5", active=False))
    await post(client, enterprise, "nonroad-machinery", nonroad_machinery(emissionStandard="4"),
               nonroad_machinery(emissionStandard="D"), nonroad_machinery(emissionStandard="3"))
    return enterprise
