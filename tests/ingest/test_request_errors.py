"""Request-level failures: the one error envelope, the right status, and nothing stored."""

import orjson
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.config import Settings
from tests.conftest import register, scalar, staff_token
from tests.factories import batch, movement


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "detail"}
    assert body["error"] == code and body["message"]
    return body


async def test_body_that_is_not_json_is_400(client, plant):
    response = await client.post("/api/v1/movements", content=b"{not json",
                                 headers={**plant.auth, "Content-Type": "application/json"})
    assert_envelope(response, 400, "invalid_json")


async def test_body_that_is_not_utf8_is_400(client, plant):
    body = f'{{"enterpriseCode": "{plant.code}", "records": [{{"goodsName": "'.encode() + "焦炭".encode("gbk") + b'"}]}'
    response = await client.post("/api/v1/movements", content=body,
                                 headers={**plant.auth, "Content-Type": "application/json"})
    assert_envelope(response, 400, "invalid_encoding")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_content_type_other_than_json_is_415(client, plant, content_type):
    response = await client.post("/api/v1/movements", content=orjson.dumps(batch(plant, movement())),
                                 headers={**plant.auth, "Content-Type": content_type})
    assert_envelope(response, 415, "unsupported_media_type")


async def test_json_in_another_charset_is_415(client, plant):
    response = await client.post("/api/v1/movements", content=orjson.dumps(batch(plant, movement())),
                                 headers={**plant.auth, "Content-Type": "application/json; charset=gbk"})
    assert_envelope(response, 415, "unsupported_charset")


@pytest.mark.parametrize("authorization,code", [
    (None, "missing_key"), ("Basic abc", "missing_key"), ("Bearer hjg_unknown", "invalid_credentials"),
    ("Bearer ", "missing_key")])
async def test_missing_or_unknown_key_is_401(client, plant, authorization, code):
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=headers)
    assert_envelope(response, 401, code)


async def test_revoked_key_is_401(client, engine, plant):
    from service.auth.service import revoke_gateway_keys
    from service.db import create_sessionmaker

    async with create_sessionmaker(engine)() as session:
        from datetime import UTC, datetime

        assert await revoke_gateway_keys(session, enterprise_id=plant.id, now=datetime.now(UTC)) == [plant.key_id]
        await session.commit()
    response = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
    assert_envelope(response, 401, "invalid_credentials")


async def test_another_enterprises_code_is_403_and_stores_nothing(client, engine, plant, other_plant):
    response = await client.post("/api/v1/movements", json=batch(other_plant, movement()), headers=plant.auth)
    assert_envelope(response, 403, "enterprise_mismatch")
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id IN (:a, :b)",
                        a=plant.id, b=other_plant.id) == 0


async def test_staff_token_cannot_post_records(client, engine, plant):
    response = await client.post("/api/v1/movements", json=batch(plant, movement()),
                                 headers=await staff_token(engine, role="admin", region=""))
    assert_envelope(response, 403, "wrong_credential")


async def test_more_than_500_records_is_413(client, engine, plant):
    response = await client.post("/api/v1/movements", json=batch(plant, *(movement() for _ in range(501))),
                                 headers=plant.auth)
    assert_envelope(response, 413, "too_many_records")
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 0


async def test_500_records_is_fine(client, engine, plant):
    response = await client.post("/api/v1/movements", json=batch(plant, *(movement() for _ in range(500))),
                                 headers=plant.auth)
    assert response.json()["accepted"] == 500
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE enterprise_id = :e", e=plant.id) == 500


async def test_body_over_the_limit_is_413(settings, engine):
    small = create_app(settings.model_copy(update={"max_body_bytes": 2000}))
    async with small.router.lifespan_context(small):
        import httpx

        plant = await register(engine)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=small), base_url="http://t") as client:
            response = await client.post("/api/v1/movements", json=batch(plant, *(movement() for _ in range(5))),
                                         headers=plant.auth)
            assert_envelope(response, 413, "payload_too_large")
            fits = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
            assert fits.status_code == 200


@pytest.mark.parametrize("body,code", [
    ([], "invalid_envelope"),
    ({"records": []}, "invalid_enterprise_code"),
    ({"enterpriseCode": "lowercase-code", "records": []}, "invalid_enterprise_code"),
])
async def test_invalid_envelope_is_422(client, plant, body, code):
    response = await client.post("/api/v1/movements", json=body, headers=plant.auth)
    assert_envelope(response, 422, code)


@pytest.mark.parametrize("records", [[], {"a": 1}, None, "x"])
async def test_records_must_be_a_non_empty_list(client, plant, records):
    response = await client.post("/api/v1/movements", json={"enterpriseCode": plant.code, "records": records},
                                 headers=plant.auth)
    assert_envelope(response, 422, "invalid_envelope")


async def test_unknown_route_uses_the_envelope(client):
    assert_envelope(await client.get("/api/v1/nothing-here"), 404, "not_found")


async def test_failed_commit_is_not_a_2xx_and_nothing_is_stored(app: FastAPI, client, engine, plant, monkeypatch):
    from sqlmodel.ext.asyncio.session import AsyncSession

    async def failing_commit(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(AsyncSession, "commit", failing_commit)
    record = movement()
    response = await client.post("/api/v1/movements", json=batch(plant, record), headers=plant.auth)
    monkeypatch.undo()
    assert_envelope(response, 500, "internal_error")
    assert await scalar(engine, "SELECT count(*) FROM movement WHERE record_id = :r", r=record["recordId"]) == 0


async def test_database_unreachable_is_503_with_retry_after(tmp_path, plant):
    unreachable = Settings(database_url=f"postgresql+asyncpg://postgres@/hj1321?host={tmp_path}",
                           db_pool_timeout_seconds=1)
    app = create_app(unreachable)
    async with app.router.lifespan_context(app):
        import httpx

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.post("/api/v1/movements", json=batch(plant, movement()), headers=plant.auth)
            assert_envelope(response, 503, "database_unavailable")
            assert response.headers["Retry-After"] == "5"
            ready = await client.get("/readyz")
            assert ready.status_code == 503
