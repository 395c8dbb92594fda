"""The API description a gateway vendor generates a client from: valid OpenAPI, every operation named,
summarised and typed, every parameter described, every body with an example; and the pages that show it
work without internet access."""

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from service.samples import documents

OPERATIONS = "get put post patch delete head".split()


@pytest.fixture(scope="module")
def spec(app):
    return app.openapi()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in OPERATIONS:
                yield f"{method.upper()} {path}", operation


def resolve(spec, schema):
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def test_the_description_is_valid_openapi(spec):
    validate(spec)


def test_every_operation_has_a_stable_camel_case_id_a_summary_and_a_description(spec):
    ids = [operation["operationId"] for _, operation in operations(spec)]
    assert len(ids) == len(set(ids)) and len(ids) > 40
    for name, operation in operations(spec):
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", operation["operationId"]), name
        # A written summary: Chinese item name and English, not one made from the function's name.
        summary = operation["summary"]
        assert re.search(r"[\u4e00-\u9fff]", summary) and re.search(r"[A-Za-z]{3}", summary), (name, summary)
        assert operation.get("description"), name
    assert {t["name"] for t in spec["tags"]} == {"gateway", "bureau", "admin", "audit", "operations"}
    assert all(t["description"] for t in spec["tags"])


def test_every_answer_is_typed(spec):
    """Each success answer has a schema: JSON ones an object with named properties, files a string."""
    for name, operation in operations(spec):
        successes = {status: answer for status, answer in operation["responses"].items() if status in ("200", "201")}
        for status, answer in successes.items():
            for media, content in answer.get("content", {}).items():
                schema = resolve(spec, content.get("schema", {}))
                if media == "application/json":
                    assert schema.get("type") == "object" and schema.get("properties"), (name, status)
                    assert "additionalProperties" not in schema or schema["additionalProperties"] is False, name
                else:
                    assert schema.get("type") == "string", (name, status, media)
        assert successes or operation["responses"].get("204") is not None, name


def test_every_parameter_is_described_and_every_body_has_an_example(spec):
    for name, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), (name, parameter["name"])
        body = operation.get("requestBody")
        if body is None:
            continue
        for media, content in body["content"].items():
            if media != "application/json":
                continue  # photos: the bytes of a JPEG or PNG
            schema = resolve(spec, content["schema"])
            assert "example" in content or schema.get("examples"), name


def test_the_credential_is_a_bearer_scheme_not_an_optional_header(spec):
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer") and scheme["description"]
    for name, operation in operations(spec):
        assert not any(p["name"].lower() == "authorization" for p in operation.get("parameters", [])), name
        if not name.split()[1].startswith(("/healthz", "/readyz", "/metrics")):
            assert operation.get("security") == [{"bearer": []}], name


async def test_the_upload_examples_are_accepted_as_they_stand(spec, client, plant):
    """The examples in the description are the samples: a vendor pasting one gets it accepted."""
    example = spec["paths"]["/api/v1/movements"]["post"]["requestBody"]["content"]["application/json"]["example"]
    # Less their times: the example was made when the app was, and a Beijing midnight between changes the day.
    def timeless(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{name: value for name, value in record.items() if name not in ("recordId", "passTime")}
                for record in records]

    assert timeless(example["records"]) == timeless(documents()["movements.valid.json"]["records"])
    answer = await client.post("/api/v1/movements", json={**example, "enterpriseCode": plant.code},
                               headers=plant.auth)
    assert answer.status_code == 200 and answer.json()["rejected"] == 0


async def test_the_api_pages_load_everything_from_the_service_itself(client):
    for page in ("/docs", "/redoc"):
        answer = await client.get(page)
        assert answer.status_code == 200
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        addresses = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(["']?([^"')]+)""", answer.text)
        for address in [a or b for a, b in addresses]:
            assert address.startswith("/") and not address.startswith("//"), (page, address)
            assert (await client.get(address)).status_code == 200, address
        assert "http://" not in answer.text and "https://" not in answer.text, page
