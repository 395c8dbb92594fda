"""OpenAPI text for the batch endpoints, which read their bodies themselves (see body.py)."""

from typing import Any

from service.contract import BATCH_SCHEMAS, bundled
from service.errors import GATEWAY_WRITE_ERRORS
from service.ingest.answers import BatchAnswer
from service.samples import documents


def json_body(schema_file: str, example: str) -> dict[str, Any]:
    """The request body of an operation that reads its body itself, as schemas/<schema_file> says, with the
    sample document of that name (service/samples.py) as its example."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": bundled(schema_file), "example": documents()[example]}}}}


def batch_body(kind: str) -> dict[str, Any]:
    return json_body(BATCH_SCHEMAS[kind], f"{kind}.valid.json")


_EXAMPLE = {
    "received": 3, "accepted": 1, "duplicates": 1, "updated": 0, "rejected": 1,
    "results": [
        {"index": 0, "recordId": "R1", "status": "accepted", "version": 1, "late": False, "warnings": []},
        {"index": 1, "recordId": "R2", "status": "duplicate", "version": 1},
        {"index": 2, "recordId": "R3", "status": "rejected", "errors": [
            {"field": "emissionStandard", "code": "invalid_code",
             "message": "排放标准 emissionStandard must be one of 0-6, D, X; got \"7\""}]},
    ],
}
batch_responses: dict[int | str, dict[str, Any]] = {
    200: {"description": "the envelope was valid: a verdict for every record; accepted ones are committed",
          "model": BatchAnswer, "content": {"application/json": {"example": _EXAMPLE}}},
    **GATEWAY_WRITE_ERRORS,
}
