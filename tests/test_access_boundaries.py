"""Every bureau endpoint, both ways: staff outside the jurisdiction get 403, gateway keys get 403."""


import pytest

from tests.conftest import register, staff_token
from tests.factories import batch, movement

DAY = "2026-11-10"


@pytest.fixture
async def setting(client, engine):
    plant = await register(engine, region_code="130203")
    await client.post("/api/v1/movements", json=batch(plant, movement(passTime=f"{DAY} 08:00:00")),
                      headers=plant.auth)
    staff = await staff_token(engine, role="viewer", region="1302")
    outside = await staff_token(engine, role="admin", region="11")
    listed = (await client.get("/api/v1/movements", params={"enterpriseCode": plant.code}, headers=staff)).json()
    return plant, staff, outside, listed["items"][0]["id"]


def endpoints(code: str, movement_id: int) -> list[tuple[str, dict]]:
    window = {"from": DAY, "to": DAY}
    return [
        ("/api/v1/movements", {"enterpriseCode": code}),
        (f"/api/v1/movements/{movement_id}/versions", {}),
        ("/api/v1/inplant-vehicles", {"enterpriseCode": code}),
        ("/api/v1/nonroad-machinery", {"enterpriseCode": code}),
        (f"/api/v1/enterprises/{code}/clean-transport", window),
        (f"/api/v1/enterprises/{code}/completeness", window),
        (f"/api/v1/enterprises/{code}/missing", {"date": DAY}),
        (f"/api/v1/enterprises/{code}/audit-sample", window),
        ("/api/v1/exports/movements", {"enterpriseCode": code, **window}),
        ("/api/v1/reports/daily", {"date": DAY, "regionCode": "130203"}),
    ]


async def test_inside_the_jurisdiction_every_endpoint_answers(client, setting):
    plant, inside, _, movement_id = setting
    for path, params in endpoints(plant.code, movement_id):
        response = await client.get(path, params=params, headers=inside)
        assert response.status_code == 200, (path, response.text)


async def test_outside_the_jurisdiction_every_endpoint_refuses(client, setting):
    plant, _, outside, movement_id = setting
    for path, params in endpoints(plant.code, movement_id):
        response = await client.get(path, params=params, headers=outside)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"] == "outside_jurisdiction"


async def test_a_gateway_key_opens_no_bureau_endpoint(client, setting):
    plant, _, _, movement_id = setting
    for path, params in [*endpoints(plant.code, movement_id), ("/api/v1/enterprises", {})]:
        response = await client.get(path, params=params, headers=plant.auth)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"] == "wrong_credential"


async def test_no_key_opens_nothing(client, setting):
    plant, _, _, movement_id = setting
    for path, params in [*endpoints(plant.code, movement_id), ("/api/v1/enterprises", {})]:
        assert (await client.get(path, params=params)).status_code == 401, path
