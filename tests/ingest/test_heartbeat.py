from datetime import UTC, datetime, timedelta

from tests.conftest import scalar
from tests.factories import beijing


async def test_heartbeat_answers_server_time_and_skew_and_marks_the_plant_seen(client, engine, plant):
    sent = datetime.now(UTC) + timedelta(seconds=90)
    response = await client.post("/api/v1/heartbeat", json={"enterpriseCode": plant.code, "sentAt": beijing(sent)},
                                 headers=plant.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    server_time = datetime.fromisoformat(body["serverTime"])
    assert abs((server_time - datetime.now(UTC)).total_seconds()) < 5
    assert 85 <= body["skewSeconds"] <= 90
    stored = await scalar(engine, "SELECT json_build_array(clock_skew_seconds, last_seen_at IS NOT NULL, "
                                  "last_heartbeat_at IS NOT NULL) FROM enterprise WHERE id = :e", e=plant.id)
    assert stored[0] == body["skewSeconds"] and stored[1:] == [True, True]


async def test_heartbeat_for_another_enterprise_is_403(client, plant, other_plant):
    response = await client.post("/api/v1/heartbeat", headers=plant.auth,
                                 json={"enterpriseCode": other_plant.code, "sentAt": "2026-11-20 08:00:00"})
    assert response.status_code == 403


async def test_invalid_heartbeat_is_422_with_field_errors(client, plant):
    response = await client.post("/api/v1/heartbeat", headers=plant.auth,
                                 json={"enterpriseCode": plant.code, "sentAt": "yesterday"})
    assert response.status_code == 422
    assert response.json()["detail"] == [{"field": "sentAt", "code": "invalid_date", "message":
                                          '发送时间 sentAt is not a time of the form yyyy-MM-dd HH:mm:ss or '
                                          'RFC 3339 with offset, years 1900-2999; got "yesterday"'}]


async def test_any_authenticated_request_marks_the_plant_seen(client, engine, plant):
    assert await scalar(engine, "SELECT last_seen_at FROM enterprise WHERE id = :e", e=plant.id) is None
    await client.put(f"/api/v1/photos/{'0' * 64}", content=b"x", headers={**plant.auth, "Content-Type": "image/png"})
    await client.post("/api/v1/movements", json={"enterpriseCode": plant.code, "records": [{}]}, headers=plant.auth)
    assert await scalar(engine, "SELECT last_seen_at FROM enterprise WHERE id = :e", e=plant.id) is not None
