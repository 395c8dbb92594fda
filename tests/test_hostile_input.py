"""Malformed input is a 4xx with the envelope, never a 5xx; inside a batch it rejects only its record."""

import base64
import json

import pytest

from tests.conftest import scalar, staff_token
from tests.factories import batch, movement


@pytest.fixture
async def staff(engine) -> dict[str, str]:
    return await staff_token(engine, region="13")


def assert_envelope(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "detail"}, body
    if code is not None:
        assert body["error"] == code, body
    return body


@pytest.mark.parametrize("pass_time", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00",
                                       "0001-01-01 00:00:00", "9999-12-31 23:59:59"])
async def test_a_time_at_the_ends_of_the_calendar_rejects_only_its_record(client, plant, engine, pass_time):
    good = movement()
    response = await client.post("/api/v1/movements", json=batch(plant, movement(passTime=pass_time), good),
                                 headers=plant.auth)
    assert response.status_code == 200, response.text
    bad, fine = response.json()["results"]
    assert bad["status"] == "rejected" and bad["errors"][0]["field"] == "passTime", bad
    assert fine["status"] == "accepted"
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 1


@pytest.mark.parametrize("sent_at", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-12:00"])
async def test_a_heartbeat_at_the_ends_of_the_calendar_is_422(client, plant, sent_at):
    response = await client.post("/api/v1/heartbeat", json={"enterpriseCode": plant.code, "sentAt": sent_at},
                                 headers=plant.auth)
    body = assert_envelope(response, 422, "invalid_heartbeat")
    assert body["detail"][0]["field"] == "sentAt"


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"])
async def test_dates_far_outside_any_ledger_are_422_on_every_bureau_endpoint(client, plant, staff, day):
    for path, params in [
        ("/api/v1/movements", {"from": day}), ("/api/v1/movements", {"to": day}),
        (f"/api/v1/enterprises/{plant.code}/completeness", {"from": day, "to": day}),
        (f"/api/v1/enterprises/{plant.code}/clean-transport", {"from": day, "to": day}),
        (f"/api/v1/enterprises/{plant.code}/missing", {"date": day}),
        (f"/api/v1/enterprises/{plant.code}/audit-sample", {"from": day, "to": day}),
        ("/api/v1/exports/movements", {"from": day, "to": day}),
        ("/api/v1/reports/daily", {"date": day}),
    ]:
        response = await client.get(path, params=params, headers=staff)
        assert_envelope(response, 422, "invalid_request")
    assert_envelope(await client.get("/api/v1/missing", params={"date": day}, headers=plant.auth), 422)


@pytest.mark.parametrize("movement_id", ["18446744073709551616", "9223372036854775808", "-1", "0"])
async def test_a_record_id_beyond_64_bits_is_422(client, staff, movement_id):
    response = await client.get(f"/api/v1/movements/{movement_id}/versions", headers=staff)
    assert_envelope(response, 422, "invalid_request")


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "not-a-cursor", _cursor(["2026-11-10T08:00:00", 5]), _cursor(["2026-11-10T08:00:00+08:00", 2**70]),
    _cursor(["0001-01-01T00:00:00+14:00", 5]), _cursor({"a": 1}), _cursor(["2026-11-10T08:00:00+08:00", "5"]),
    _cursor([1, 2]), _cursor(["2026-11-10T08:00:00+08:00", True]), "%00", "\u00e9"])
async def test_a_tampered_cursor_is_422(client, staff, cursor):
    response = await client.get("/api/v1/movements", params={"cursor": cursor}, headers=staff)
    assert_envelope(response, 422, "invalid_cursor")


@pytest.mark.parametrize("where", ["plateNo", "enterpriseCode", "policy", "path"])
async def test_nul_in_a_parameter_is_4xx(client, plant, staff, where):
    if where == "path":
        response = await client.get(f"/api/v1/enterprises/{plant.code}%00/missing", params={"date": "2026-11-10"},
                                    headers=staff)
    elif where == "policy":
        response = await client.get(f"/api/v1/enterprises/{plant.code}/clean-transport",
                                    params={"from": "2026-11-10", "to": "2026-11-10", "policy": "ule\x00"},
                                    headers=staff)
    else:
        response = await client.get("/api/v1/movements", params={where: "冀B\x0012345"}, headers=staff)
    assert_envelope(response, 400, "invalid_character")


async def test_nul_in_a_photo_path_is_4xx(client, plant):
    response = await client.put("/api/v1/photos/ab%00cd", content=b"\xff\xd8\xff",
                                headers={**plant.auth, "Content-Type": "image/jpeg"})
    assert_envelope(response, 400, "invalid_character")


async def test_a_manifest_without_record_ids_is_stored(client, plant, engine):
    manifest = {"enterpriseCode": plant.code, "date": "2026-11-10",
                "barriers": [{"gateNo": "1", "barrierNo": "01", "count": 12}]}
    response = await client.post("/api/v1/manifests", json=manifest, headers=plant.auth)
    assert response.status_code == 200, response.text
    assert response.json()["expected"] == 12
    assert await scalar(engine, "SELECT declared_count FROM manifest WHERE enterprise_id = :e", e=plant.id) == 12
    assert await scalar(engine, "SELECT cardinality(record_ids) FROM manifest WHERE enterprise_id = :e",
                        e=plant.id) == 0


async def test_a_manifest_naming_a_barrier_twice_is_422_naming_it(client, plant, engine):
    manifest = {"enterpriseCode": plant.code, "date": "2026-11-10", "barriers": [
        {"gateNo": "1", "barrierNo": "01", "count": 12}, {"gateNo": "2", "barrierNo": "01", "count": 3},
        {"gateNo": "1", "barrierNo": "01", "count": 4}]}
    response = await client.post("/api/v1/manifests", json=manifest, headers=plant.auth)
    body = assert_envelope(response, 422, "duplicate_barrier")
    assert body["detail"] == [{"field": "barriers.2", "code": "duplicate_barrier",
                               "message": body["detail"][0]["message"]}]
    assert "1/01" in body["detail"][0]["message"]
    assert await scalar(engine, "SELECT count(*) FROM manifest WHERE enterprise_id = :e", e=plant.id) == 0


async def test_a_seq_beyond_64_bits_rejects_only_its_record(client, plant):
    response = await client.post("/api/v1/movements", json=batch(plant, movement(seq=2**64), movement()),
                                 headers=plant.auth)
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["rejected", "accepted"]


async def test_echoed_invalid_values_are_truncated(client, plant):
    response = await client.post("/api/v1/movements", json=batch(plant, movement(plateColor="9" * 10_000)),
                                 headers=plant.auth)
    message = response.json()["results"][0]["errors"][0]["message"]
    assert len(message) < 200, message
    response = await client.post("/api/v1/movements", headers=plant.auth,
                                 json={"enterpriseCode": "X" * 10_000, "records": [movement()]})
    assert len(response.text) < 600, response.text


@pytest.mark.parametrize("path,body", [
    ("/api/v1/admin/enterprises", {"code": "91130203MA0NULNUL0", "name": "厂\x00", "regionCode": "130203"}),
    ("/api/v1/admin/staff", {"name": "张\x00三", "role": "viewer", "regionCode": "1302"}),
    ("/api/v1/admin/alerts", {"regionCode": "1302", "level": "red", "startsAt": "2026-12-01 00:00:00",
                              "note": "\x00"}),
])
async def test_nul_in_an_admin_body_is_422(client, engine, path, body):
    from tests.conftest import staff_token as token

    response = await client.post(path, json=body, headers=await token(engine, role="admin", region="13"))
    assert_envelope(response, 422, "invalid_request")


async def test_nul_in_a_changed_enterprise_is_422(client, engine, plant):
    from tests.conftest import staff_token as token

    response = await client.patch(f"/api/v1/admin/enterprises/{plant.code}", json={"industry": ")\x00!"},
                                  headers=await token(engine, role="admin", region="13"))
    assert_envelope(response, 422, "invalid_request")


@pytest.mark.parametrize("alert_id", ["2147483648", "9223372036854775807"])
async def test_an_alert_id_beyond_its_column_is_422_not_a_database_error(client, engine, plant, alert_id):
    """Alert ids are 32-bit: a bigger one used to reach PostgreSQL and come back 500 (found by the fuzzer)."""
    from tests.conftest import staff_token

    admin = await staff_token(engine, role="admin")
    answers = [
        await client.get(f"/api/v1/enterprises/{plant.code}/emergency", params={"alertId": alert_id}, headers=admin),
        await client.get("/api/v1/emergency/violations", headers=admin,
                         params={"from": "2026-11-01", "to": "2026-11-02", "alertId": alert_id}),
        await client.patch(f"/api/v1/admin/alerts/{alert_id}", json={"endsAt": "2026-12-01 00:00:00"}, headers=admin),
        await client.post("/api/v1/admin/alerts", headers=admin, json={
            "regionCode": "13", "level": "red", "startsAt": "2026-12-01 00:00:00", "supersedes": int(alert_id)}),
    ]
    assert [a.status_code for a in answers] == [422, 422, 422, 422]
