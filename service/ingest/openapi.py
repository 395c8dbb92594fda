"""OpenAPI text for the batch endpoints, which read their bodies themselves (see body.py)."""

from typing import Any

from service.contract import BATCH_SCHEMAS, bundled


def batch_body(kind: str) -> dict[str, Any]:
    schema = bundled(BATCH_SCHEMAS[kind])
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


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
_ERROR = {"application/json": {"example": {"error": "code", "message": "a sentence", "detail": None}}}

batch_responses: dict[int | str, dict[str, Any]] = {
    200: {"description": "the envelope was valid: a verdict for every record; accepted ones are committed",
          "content": {"application/json": {"example": _EXAMPLE}}},
    400: {"description": "not JSON or not UTF-8", "content": _ERROR},
    401: {"description": "no key, unknown or revoked key", "content": _ERROR},
    403: {"description": "the envelope names another enterprise", "content": _ERROR},
    413: {"description": "body over the limit or more than 500 records", "content": _ERROR},
    415: {"description": "Content-Type is not application/json", "content": _ERROR},
    422: {"description": "envelope invalid", "content": _ERROR},
    429: {"description": "too many requests from this enterprise; see Retry-After", "content": _ERROR},
    503: {"description": "database unavailable; nothing stored; see Retry-After", "content": _ERROR},
}
