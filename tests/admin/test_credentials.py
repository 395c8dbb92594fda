"""The credential lifecycle over HTTP: expiry, revocation, overlapping keys, disabled enterprises, and
what an admin may issue."""

import asyncio

from tests.conftest import issue_staff, register, scalar, staff_token
from tests.factories import batch, movement, new_enterprise_code


async def post_one(client, headers, code):
    return await client.post("/api/v1/movements", json={"enterpriseCode": code, "records": [movement()]},
                             headers=headers)


async def test_an_expired_staff_token_is_401(client, engine):
    issued = await issue_staff(engine, days=0.5 / 86400)  # half a second
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert (await client.get("/api/v1/enterprises", headers=headers)).status_code == 200
    await asyncio.sleep(0.6)  # the worker's cached copy knows the expiry too
    expired = await client.get("/api/v1/enterprises", headers=headers)
    assert (expired.status_code, expired.json()["error"]) == (401, "invalid_credentials")
    assert expired.headers["WWW-Authenticate"] == "Bearer"


async def test_staff_tokens_expire_after_90_days_unless_told(engine):
    issued = await issue_staff(engine)
    lifetime = await scalar(engine, "SELECT expires_at - created_at FROM staff_token WHERE public_id = :t",
                            t=issued.id)
    assert 89.99 < lifetime.total_seconds() / 86400 <= 90.01
    assert issued.id.startswith("tok_") and issued.secret.startswith("hjs_")


async def test_a_gateway_rotates_without_downtime(client, engine):
    plant = await register(engine)
    admin = await staff_token(engine, role="admin", region="1302")
    new = (await client.post(f"/api/v1/admin/enterprises/{plant.code}/keys", json={}, headers=admin)).json()
    new_headers = {"Authorization": f"Bearer {new['secret']}"}
    assert (await post_one(client, plant.auth, plant.code)).status_code == 200  # the old key still works
    assert (await post_one(client, new_headers, plant.code)).status_code == 200
    revoked = await client.delete(f"/api/v1/admin/enterprises/{plant.code}/keys/{plant.key_id}", headers=admin)
    assert revoked.status_code == 204
    old = await post_one(client, plant.auth, plant.code)
    assert (old.status_code, old.json()["error"]) == (401, "invalid_credentials")
    assert (await post_one(client, new_headers, plant.code)).status_code == 200
    keys = (await client.get(f"/api/v1/admin/enterprises/{plant.code}/keys", headers=admin)).json()["items"]
    by_id = {key["id"]: key for key in keys}
    assert by_id[plant.key_id]["revokedAt"] is not None and by_id[new["id"]]["revokedAt"] is None
    assert by_id[new["id"]]["lastUsedAt"] is not None
    again = await client.delete(f"/api/v1/admin/enterprises/{plant.code}/keys/{plant.key_id}", headers=admin)
    assert (again.status_code, again.json()["error"]) == (404, "unknown_key")


async def test_a_key_with_days_expires(client, engine):
    plant = await register(engine)
    admin = await staff_token(engine, role="admin", region="13")
    short = (await client.post(f"/api/v1/admin/enterprises/{plant.code}/keys", json={"days": 0.5 / 86400},
                               headers=admin)).json()
    assert short["expiresAt"] is not None
    await asyncio.sleep(0.6)
    answer = await post_one(client, {"Authorization": f"Bearer {short['secret']}"}, plant.code)
    assert answer.status_code == 401


async def test_a_disabled_enterprise_keeps_its_data_and_loses_its_keys(client, engine):
    plant = await register(engine)
    admin = await staff_token(engine, role="admin", region="1302")
    assert (await post_one(client, plant.auth, plant.code)).status_code == 200
    disabled = await client.patch(f"/api/v1/admin/enterprises/{plant.code}", json={"disabled": True}, headers=admin)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refused = await post_one(client, plant.auth, plant.code)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_credentials")
    viewer = await staff_token(engine, region="1302")
    stored = await client.get("/api/v1/movements", params={"enterpriseCode": plant.code}, headers=viewer)
    assert len(stored.json()["items"]) == 1
    listed = (await client.get("/api/v1/admin/enterprises", headers=admin)).json()["items"]
    assert next(e for e in listed if e["code"] == plant.code)["disabled"] is True
    enabled = await client.patch(f"/api/v1/admin/enterprises/{plant.code}", json={"disabled": False}, headers=admin)
    assert enabled.json()["disabled"] is False
    assert (await post_one(client, plant.auth, plant.code)).status_code == 200


async def test_an_admin_registers_enterprises_in_its_jurisdiction_only(client, engine):
    admin = await staff_token(engine, role="admin", region="1302")
    code = new_enterprise_code()
    body = {"code": code, "name": "唐山新厂", "regionCode": "130203", "industry": "steel"}
    created = await client.post("/api/v1/admin/enterprises", json=body, headers=admin)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key["id"].startswith("key_") and key["secret"].startswith("hjg_")
    assert (await post_one(client, {"Authorization": f"Bearer {key['secret']}"}, code)).status_code == 200
    twice = await client.post("/api/v1/admin/enterprises", json=body, headers=admin)
    assert (twice.status_code, twice.json()["error"]) == (409, "enterprise_exists")
    elsewhere = await client.post("/api/v1/admin/enterprises", headers=admin,
                                  json={**body, "code": new_enterprise_code(), "regionCode": "110105"})
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (403, "outside_jurisdiction")
    unknown_field = await client.post("/api/v1/admin/enterprises", headers=admin,
                                      json={**body, "code": new_enterprise_code(), "owner": "x"})
    assert unknown_field.status_code == 422


async def test_an_admin_issues_viewer_and_admin_tokens_inside_its_jurisdiction_only(client, engine):
    admin = await staff_token(engine, role="admin", region="1302")
    issued = await client.post("/api/v1/admin/staff", headers=admin,
                               json={"name": "唐山查看员", "role": "viewer", "regionCode": "130203", "days": 7})
    assert issued.status_code == 201
    token = issued.json()
    assert (await client.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {token['secret']}"})
            ).status_code == 200
    for body, code in (({"name": "x", "role": "auditor", "regionCode": "1302"}, "wrong_role"),
                       ({"name": "x", "role": "viewer", "regionCode": "13"}, "outside_jurisdiction"),
                       ({"name": "x", "role": "admin", "regionCode": ""}, "outside_jurisdiction"),
                       ({"name": "x", "role": "viewer", "regionCode": "1101"}, "outside_jurisdiction")):
        refused = await client.post("/api/v1/admin/staff", json=body, headers=admin)
        assert (refused.status_code, refused.json()["error"]) == (403, code), body
    listed = (await client.get("/api/v1/admin/staff", headers=admin)).json()["items"]
    assert token["id"] in {t["id"] for t in listed}
    assert all(t["regionCode"].startswith("1302") for t in listed)
    assert all("secret" not in t for t in listed)
    revoked = await client.delete(f"/api/v1/admin/staff/{token['id']}", headers=admin)
    assert revoked.status_code == 204
    gone = await client.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {token['secret']}"})
    assert gone.status_code == 401
    auditor = await issue_staff(engine, role="auditor", region="1302")
    kept = await client.delete(f"/api/v1/admin/staff/{auditor.id}", headers=admin)
    assert (kept.status_code, kept.json()["error"]) == (403, "wrong_role")
    missing = await client.delete("/api/v1/admin/staff/tok_0000000000000000", headers=admin)
    assert missing.status_code == 404


async def test_secrets_are_stored_only_as_hashes(client, engine):
    plant = await register(engine)
    stored = await scalar(engine, "SELECT key_hash FROM gateway_key WHERE public_id = :k", k=plant.key_id)
    assert plant.key not in stored and len(stored) == 64
    posted = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
    assert posted.status_code == 200
