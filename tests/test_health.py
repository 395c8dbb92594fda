async def test_health_and_readiness_need_no_key(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_openapi_documents_the_batch_bodies(client):
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/api/v1/movements"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    record = body["properties"]["records"]["items"]
    assert "passTime" in record["required"] and "enum" in record["properties"]["plateColor"]
    assert record["properties"]["vin"]["anyOf"][0]["enum"] == [None, ""]
    assert spec["paths"]["/api/v1/movements"]["post"]["description"].startswith("Upload 进出厂运输车辆记录")


async def test_metrics_can_be_kept_to_a_bearer_token(settings):
    import httpx

    from service.app import create_app

    app = create_app(settings.model_copy(update={"metrics_token": "scrape-secret"}))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200 and "hj1321_database_up" in right.text


async def test_every_answer_carries_the_security_headers(client, plant):
    for response in (await client.get("/healthz"), await client.get("/api/v1/enterprises"),
                     await client.post("/api/v1/heartbeat", json={}, headers=plant.auth)):
        assert response.headers["x-content-type-options"] == "nosniff"
    api = await client.get("/api/v1/missing", params={"date": "2026-11-10"}, headers=plant.auth)
    assert api.status_code == 200 and api.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in api.headers["content-security-policy"]


async def test_large_json_answers_are_compressed_and_files_are_not(client, plant, engine):
    from tests.conftest import staff_token
    from tests.factories import batch, movement

    await client.post("/api/v1/movements", headers=plant.auth,
                      json=batch(plant, *(movement(recordId=f"GZ-{n}") for n in range(60))))
    viewer = await staff_token(engine)
    listed = await client.get("/api/v1/movements", params={"enterpriseCode": plant.code, "limit": 60},
                              headers={**viewer, "Accept-Encoding": "gzip"})
    assert listed.headers["content-encoding"] == "gzip" and len(listed.json()["items"]) == 60
    assert int(listed.headers["content-length"]) * 3 < len(listed.content)  # httpx has decompressed it
    plain = await client.get("/api/v1/movements", params={"enterpriseCode": plant.code, "limit": 60},
                             headers={**viewer, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == listed.json()
    sheet = await client.get("/api/v1/exports/movements", headers={**viewer, "Accept-Encoding": "gzip"},
                             params={"enterpriseCode": plant.code, "from": "2026-11-01", "to": "2026-11-30",
                                     "format": "xlsx"})
    assert sheet.status_code == 200 and "content-encoding" not in sheet.headers
    small = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_health_answers_head(client):
    for path in ("/healthz", "/readyz"):
        answer = await client.head(path)
        assert answer.status_code == 200 and answer.content == b""
