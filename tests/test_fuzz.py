"""Property-based testing of every operation in the published OpenAPI, in-process on the real database.

Schemathesis generates valid and invalid requests for each operation; they carry a gateway key or
a staff token whose enterprise and jurisdiction match, so they get past authentication and reach
the code behind it. Every answer must be a documented status, never a server error, and conform to
the published schema. CI runs a bounded number of examples per operation; a long run is

    HJ1321_FUZZ_EXAMPLES=1000 .venv/bin/python -m pytest tests/test_fuzz.py

(figures in the README).
"""

import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.config import Settings
from tests.conftest import register, staff_token
from tests.factories import batch, movement

EXAMPLES = int(os.environ.get("HJ1321_FUZZ_EXAMPLES", "25"))
# CI draws the same examples every run (a red build is reproducible); a long run explores afresh.
DERANDOMIZE = "HJ1321_FUZZ_EXAMPLES" not in os.environ
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="session")
async def fuzz_credentials(engine, client_for_setup) -> dict[str, Any]:
    plant = await register(engine, region_code="130203")
    # Some data to find, so reads get past "nothing there" into the code that formats records.
    response = await client_for_setup.post("/api/v1/movements", json=batch(plant, movement(), movement()),
                                           headers=plant.auth)
    assert response.status_code == 200
    return {"code": plant.code, "gateway": plant.auth,
            "bureau": await staff_token(engine, role="viewer", region="1302"),
            "admin": await staff_token(engine, role="admin", region="1302"),
            "audit": await staff_token(engine, role="auditor", region="1302")}


@pytest.fixture(scope="session")
async def client_for_setup(app):
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


@pytest.fixture(scope="session")
def fuzz_app(settings) -> FastAPI:
    # Its own app: schemathesis runs its lifespan on an event loop of its own. No rate limits here,
    # since the fuzzer is one enterprise sending as fast as it can.
    return create_app(settings.model_copy(update={"rate_limit_per_second": 0,
                                                  "max_requests_in_flight_per_enterprise": 0}))


@pytest.fixture(scope="session")
def api_schema(fuzz_app):
    loaded = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    return loaded


def _document() -> dict[str, Any]:
    return create_app(Settings(database_url="postgresql://collect-only/none")).openapi()


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation, read from the app's OpenAPI at collection time."""
    return sorted((method.upper(), path) for path, item in _document()["paths"].items() for method in item)


def _cases() -> list[Any]:
    """Every operation with valid inputs, and with invalid ones where it takes any (parameters or a body)."""
    cases = []
    for path, item in _document()["paths"].items():
        for method, operation in item.items():
            modes = [GenerationMode.POSITIVE]
            if operation.get("parameters") or operation.get("requestBody"):
                modes.append(GenerationMode.NEGATIVE)
            cases += [pytest.param(method.upper(), path, mode, id=f"{method.upper()} {path} {mode.value}")
                      for mode in modes]
    return cases


def _aim_at_the_plant(case: Any, credentials: dict[str, Any]) -> dict[str, str]:
    """The credential for the operation, and the plant's own code where the request names one."""
    tags = case.operation.definition.raw.get("tags", [])
    if isinstance(case.path_parameters, dict) and "code" in case.path_parameters:
        case.path_parameters["code"] = credentials["code"]
    if isinstance(case.query, dict) and "enterpriseCode" in case.query:
        case.query["enterpriseCode"] = credentials["code"]
    if isinstance(case.body, dict) and "enterpriseCode" in case.body:
        case.body["enterpriseCode"] = credentials["code"]
    if isinstance(case.body, dict) and case.body.get("disabled") is True:
        case.body["disabled"] = False  # a disabled plant would leave the rest of the run at 401
    for tag in ("gateway", "bureau", "admin", "audit"):
        if tag in tags:
            return dict(credentials[tag])
    return {}


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_no_request_gets_a_server_error_or_an_undocumented_answer(api_schema, fuzz_credentials, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
                         suppress_health_check=list(HealthCheck))
    def each(case: Any) -> None:
        headers = _aim_at_the_plant(case, fuzz_credentials)
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        if os.environ.get("HJ1321_FUZZ_TRACE"):
            print("FUZZ", method, path, mode.value, response.status_code)

    each()
