"""Every operation the app publishes, for every role, inside and outside the jurisdiction.

The operations come from the app's own OpenAPI (built from app.routes): a new route that is not in
REQUESTS below fails the first test, so none can be added without saying who may call it.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import issue_staff, register
from tests.factories import batch, movement, new_enterprise_code, png_bytes, sha256_hex

DAY = "2026-11-10"


@dataclass
class World:
    code: str
    movement_id: int
    photo: str
    key_ids: list[str]  # live keys of the plant an admin may revoke, one per call
    token_ids: list[str]  # viewer tokens inside 130203 an admin may revoke, one per call
    alert_id: int  # an alert over 1302


Request = tuple[str, dict[str, Any], Any]  # path, query parameters, JSON body
# (method, path template) -> the request an authorised caller would make. Gateway operations are
# listed too: no staff token may call them.
REQUESTS: dict[tuple[str, str], Callable[[World], Request]] = {
    ("POST", "/api/v1/movements"): lambda w: ("/api/v1/movements", {}, {"enterpriseCode": w.code, "records": []}),
    ("POST", "/api/v1/inplant-vehicles"): lambda w: ("/api/v1/inplant-vehicles", {}, {}),
    ("POST", "/api/v1/nonroad-machinery"): lambda w: ("/api/v1/nonroad-machinery", {}, {}),
    ("POST", "/api/v1/clean-transport-volumes"): lambda w: ("/api/v1/clean-transport-volumes", {}, {}),
    ("POST", "/api/v1/heartbeat"): lambda w: ("/api/v1/heartbeat", {}, {}),
    ("POST", "/api/v1/manifests"): lambda w: ("/api/v1/manifests", {}, {}),
    ("PUT", "/api/v1/photos/{sha256}"): lambda w: (f"/api/v1/photos/{w.photo}", {}, None),
    ("GET", "/api/v1/missing"): lambda w: ("/api/v1/missing", {"date": DAY}, None),
    ("GET", "/api/v1/digest"): lambda w: ("/api/v1/digest", {"date": DAY}, None),
    ("GET", "/api/v1/movements"): lambda w: ("/api/v1/movements", {"enterpriseCode": w.code}, None),
    ("GET", "/api/v1/inplant-vehicles"): lambda w: ("/api/v1/inplant-vehicles", {"enterpriseCode": w.code}, None),
    ("GET", "/api/v1/nonroad-machinery"): lambda w: ("/api/v1/nonroad-machinery", {"enterpriseCode": w.code},
                                                     None),
    ("GET", "/api/v1/photos/{sha256}"): lambda w: (f"/api/v1/photos/{w.photo}", {}, None),
    ("GET", "/api/v1/enterprises"): lambda w: ("/api/v1/enterprises", {}, None),
    ("GET", "/api/v1/movements/{movement_id}/versions"): lambda w: (f"/api/v1/movements/{w.movement_id}/versions",
                                                                    {}, None),
    ("GET", "/api/v1/enterprises/{code}/missing"): lambda w: (f"/api/v1/enterprises/{w.code}/missing",
                                                              {"date": DAY}, None),
    ("GET", "/api/v1/enterprises/{code}/completeness"): lambda w: (f"/api/v1/enterprises/{w.code}/completeness",
                                                                   {"from": DAY, "to": DAY}, None),
    ("GET", "/api/v1/enterprises/{code}/clean-transport"): lambda w: (
        f"/api/v1/enterprises/{w.code}/clean-transport", {"from": DAY, "to": DAY}, None),
    ("GET", "/api/v1/enterprises/{code}/digest"): lambda w: (f"/api/v1/enterprises/{w.code}/digest",
                                                             {"date": DAY}, None),
    ("GET", "/api/v1/reports/daily"): lambda w: ("/api/v1/reports/daily", {"date": DAY, "regionCode": "130203"},
                                                 None),
    ("GET", "/api/v1/exports/movements"): lambda w: ("/api/v1/exports/movements",
                                                     {"enterpriseCode": w.code, "from": DAY, "to": DAY}, None),
    ("GET", "/api/v1/enterprises/{code}/audit-sample"): lambda w: (f"/api/v1/enterprises/{w.code}/audit-sample",
                                                                   {"from": DAY, "to": DAY}, None),
    ("GET", "/api/v1/admin/enterprises"): lambda w: ("/api/v1/admin/enterprises", {}, None),
    ("POST", "/api/v1/admin/enterprises"): lambda w: ("/api/v1/admin/enterprises", {}, {
        "code": new_enterprise_code(), "name": "新登记企业", "regionCode": "130203", "industry": "steel"}),
    ("PATCH", "/api/v1/admin/enterprises/{code}"): lambda w: (f"/api/v1/admin/enterprises/{w.code}", {},
                                                              {"industry": "coking"}),
    ("GET", "/api/v1/admin/enterprises/{code}/keys"): lambda w: (f"/api/v1/admin/enterprises/{w.code}/keys", {},
                                                                 None),
    ("POST", "/api/v1/admin/enterprises/{code}/keys"): lambda w: (f"/api/v1/admin/enterprises/{w.code}/keys", {},
                                                                  {"days": 30}),
    ("DELETE", "/api/v1/admin/enterprises/{code}/keys/{key_id}"): lambda w: (
        f"/api/v1/admin/enterprises/{w.code}/keys/{w.key_ids.pop()}", {}, None),
    ("GET", "/api/v1/admin/staff"): lambda w: ("/api/v1/admin/staff", {}, None),
    ("POST", "/api/v1/admin/staff"): lambda w: ("/api/v1/admin/staff", {}, {
        "name": "新查看员", "role": "viewer", "regionCode": "130203"}),
    ("DELETE", "/api/v1/admin/staff/{token_id}"): lambda w: (f"/api/v1/admin/staff/{w.token_ids.pop()}", {}, None),
    ("GET", "/api/v1/control-measures"): lambda w: ("/api/v1/control-measures", {}, None),
    ("GET", "/api/v1/watchlist"): lambda w: ("/api/v1/watchlist", {}, None),
    ("GET", "/api/v1/emergency/violations"): lambda w: ("/api/v1/emergency/violations",
                                                        {"enterpriseCode": w.code, "from": DAY, "to": DAY}, None),
    ("GET", "/api/v1/enterprises/{code}/emergency"): lambda w: (f"/api/v1/enterprises/{w.code}/emergency",
                                                               {"alertId": w.alert_id}, None),
    ("GET", "/api/v1/alerts"): lambda w: ("/api/v1/alerts", {"from": DAY, "to": DAY}, None),
    ("GET", "/api/v1/admin/enterprises/{code}/grade"): lambda w: (f"/api/v1/admin/enterprises/{w.code}/grade", {},
                                                                  None),
    ("PUT", "/api/v1/admin/enterprises/{code}/grade"): lambda w: (f"/api/v1/admin/enterprises/{w.code}/grade", {},
                                                                  {"grade": "B", "validFrom": "2026-01-01"}),
    ("POST", "/api/v1/admin/alerts"): lambda w: ("/api/v1/admin/alerts", {}, {
        "regionCode": "1302", "level": "orange", "startsAt": f"{DAY} 00:00:00"}),
    ("PATCH", "/api/v1/admin/alerts/{alert_id}"): lambda w: (f"/api/v1/admin/alerts/{w.alert_id}", {},
                                                             {"endsAt": f"{DAY} 12:00:00"}),
    ("POST", "/api/v1/admin/enterprises/{code}/exemptions"): lambda w: (
        f"/api/v1/admin/enterprises/{w.code}/exemptions", {}, {
            "plateNo": "冀B12345", "plateColor": "1", "kind": "livelihood", "validFrom": f"{DAY} 00:00:00",
            "validTo": f"{DAY} 23:00:00", "approval": "唐环应急〔2026〕1号"}),
    ("GET", "/api/v1/admin/enterprises/{code}/exemptions"): lambda w: (
        f"/api/v1/admin/enterprises/{w.code}/exemptions", {}, None),
    ("POST", "/api/v1/admin/watchlist"): lambda w: ("/api/v1/admin/watchlist", {}, {"entries": [
        {"plateNo": "冀B54321", "plateColor": "1", "reason": "5", "listedAt": f"{DAY} 00:00:00"}]}),
    ("GET", "/api/v1/audit"): lambda w: ("/api/v1/audit", {"from": DAY, "to": "2026-12-31"}, None),
    ("GET", "/api/v1/audit/export"): lambda w: ("/api/v1/audit/export", {"from": DAY, "to": "2026-12-31"}, None),
}
OPEN = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# Lists that answer outside the jurisdiction too, only without the plant.
LISTS = {("GET", "/api/v1/enterprises"), ("GET", "/api/v1/admin/enterprises"), ("GET", "/api/v1/admin/staff"),
         ("GET", "/api/v1/audit"), ("GET", "/api/v1/audit/export"), ("GET", "/api/v1/alerts"),
         # an entry posted outside applies to the poster's own jurisdiction
         ("POST", "/api/v1/admin/watchlist")}
ROLES_BY_TAG = {"bureau": {"viewer", "admin"}, "admin": {"admin"}, "audit": {"auditor"}, "gateway": set()}


def operations(app) -> dict[tuple[str, str], str]:
    document = app.openapi()
    return {(method.upper(), path): operation["tags"][0] for path, item in document["paths"].items()
            for method, operation in item.items()}


def test_every_published_operation_has_a_rule(app):
    assert set(operations(app)) - OPEN == set(REQUESTS)


@pytest.fixture
async def world(client, engine) -> World:
    plant = await register(engine, region_code="130203")
    posted = await client.post("/api/v1/movements", json=batch(plant, movement(passTime=f"{DAY} 08:00:00")),
                               headers=plant.auth)
    assert posted.status_code == 200
    photo = png_bytes()
    await client.put(f"/api/v1/photos/{sha256_hex(photo)}", content=photo,
                     headers={**plant.auth, "Content-Type": "image/png"})
    viewer = await issue_staff(engine, role="viewer", region="1302")
    listed = await client.get("/api/v1/movements", params={"enterpriseCode": plant.code},
                              headers={"Authorization": f"Bearer {viewer.secret}"})
    keys = []
    tokens = []
    for _ in range(2):
        issued = await client.post(f"/api/v1/admin/enterprises/{plant.code}/keys", json={},
                                   headers=await bearer(engine, "admin", "13"))
        keys.append(issued.json()["id"])
        tokens.append((await issue_staff(engine, role="viewer", region="130203")).id)
    alert = await client.post("/api/v1/admin/alerts", headers=await bearer(engine, "admin", "13"),
                              json={"regionCode": "1302", "level": "yellow", "startsAt": f"{DAY} 00:00:00"})
    assert alert.status_code == 201, alert.text
    return World(code=plant.code, movement_id=listed.json()["items"][0]["id"], photo=sha256_hex(photo),
                 key_ids=keys, token_ids=tokens, alert_id=alert.json()["id"])


async def bearer(engine, role: str, region: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {(await issue_staff(engine, role=role, region=region)).secret}"}


@pytest.mark.parametrize("role", ["viewer", "admin", "auditor"])
async def test_inside_the_jurisdiction_each_role_reaches_exactly_its_operations(app, client, engine, world, role):
    headers = await bearer(engine, role, "1302")
    for (method, template), tag in sorted(operations(app).items()):
        if (method, template) in OPEN:
            continue
        path, params, body = REQUESTS[(method, template)](world)
        response = await client.request(method, path, params=params, json=body, headers=headers)
        if role in ROLES_BY_TAG[tag]:
            assert response.status_code < 300, (role, method, template, response.text)
        elif tag == "gateway":
            assert (response.status_code, response.json()["error"]) == (403, "wrong_credential"), (role, template)
        else:
            assert (response.status_code, response.json()["error"]) == (403, "wrong_role"), (role, template)


@pytest.mark.parametrize("role", ["viewer", "admin", "auditor"])
async def test_outside_the_jurisdiction_nothing_of_the_plant_is_reached(app, client, engine, world, role):
    headers = await bearer(engine, role, "11")
    for (method, template), tag in sorted(operations(app).items()):
        if (method, template) in OPEN or tag == "gateway":
            continue
        path, params, body = REQUESTS[(method, template)](world)
        response = await client.request(method, path, params=params, json=body, headers=headers)
        if role not in ROLES_BY_TAG[tag]:
            assert (response.status_code, response.json()["error"]) == (403, "wrong_role"), (role, template)
        elif (method, template) in LISTS:
            assert response.status_code == 200 and world.code not in response.text, (role, template)
        else:
            assert response.status_code == 403, (role, method, template, response.text)
            assert response.json()["error"] == "outside_jurisdiction", (role, template)


async def test_a_gateway_key_and_no_key_open_no_staff_operation(app, client, engine, world):
    plant = await register(engine)
    for (method, template), tag in sorted(operations(app).items()):
        if (method, template) in OPEN or tag == "gateway":
            continue
        path, params, body = REQUESTS[(method, template)](world)
        keyed = await client.request(method, path, params=params, json=body, headers=plant.auth)
        assert (keyed.status_code, keyed.json()["error"]) == (403, "wrong_credential"), template
        anonymous = await client.request(method, path, params=params, json=body)
        assert anonymous.status_code == 401, template
        forged = await client.request(method, path, params=params, json=body,
                                      headers={"Authorization": f"Bearer hjs_{secrets.token_urlsafe(32)}"})
        assert (forged.status_code, forged.json()["error"]) == (401, "invalid_credentials"), template
