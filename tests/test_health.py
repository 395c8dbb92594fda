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
