"""One error envelope for every request-level failure: {"error", "message", "detail"}."""

import logging
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("hj1321")


class ServiceError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, detail: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.headers = headers or {}
        if code is not None:
            self.code = code


class BadRequest(ServiceError):
    status_code = 400
    code = "invalid_json"


class Unauthorized(ServiceError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status_code = 403
    code = "forbidden"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status_code = 415
    code = "unsupported_media_type"


class Unprocessable(ServiceError):
    status_code = 422
    code = "invalid_envelope"


class RequestTimeout(ServiceError):
    status_code = 408
    code = "body_timeout"


class ClientClosedRequest(ServiceError):
    """The client went away before its body arrived; nobody reads the answer, the access log notes it."""

    status_code = 499
    code = "client_closed_request"


class TooManyRequests(ServiceError):
    status_code = 429
    code = "rate_limited"


class ServiceUnavailable(ServiceError):
    status_code = 503
    code = "database_unavailable"


class PhotoStoreUnavailable(ServiceUnavailable):
    """The photo store cannot keep or give back photos now: a full or failing disk, a lost mount."""

    code = "photo_store_unavailable"


class ServerBusy(ServiceUnavailable):
    """This worker holds as many request bodies in memory as it may; the same request later will be read."""

    code = "server_busy"


class ErrorEnvelope(BaseModel):
    """The body of every request-level failure."""

    error: str = Field(description="a stable, machine-readable code", examples=["invalid_envelope"])
    message: str = Field(description="a sentence for a person", examples=["records must be a non-empty list"])
    detail: Any = Field(default=None, description="what exactly was wrong, where there is more to say")


_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                                "schema": {"type": "integer", "minimum": 1}}}
_STATUS_TEXT = {
    400: ("the body is not JSON or not UTF-8, or the URL holds a NUL character", None),
    401: ("no credential, or an unknown, revoked or expired one", None),
    403: ("the credential may not do this: another enterprise's data, outside the jurisdiction, "
          "or the wrong kind of credential", None),
    404: ("no such enterprise, record or photo (inside the caller's jurisdiction)", None),
    408: ("the body did not arrive in time; nothing was stored", None),
    409: ("it exists already", None),
    413: ("the body is over the size limit, or a batch holds more than 500 records", None),
    415: ("the Content-Type is not one this operation takes", None),
    422: ("a parameter or the envelope is invalid", None),
    429: ("too many requests from this enterprise (rate or requests in flight)", _RETRY_AFTER),
    503: ("the database or the photo store is unavailable or busy, or the service holds as many bodies as it may; "
          "nothing was stored", _RETRY_AFTER),
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an operation answers, all with the envelope."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, headers = _STATUS_TEXT[status]
        responses[status] = {"model": ErrorEnvelope, "description": description}
        if headers:
            responses[status]["headers"] = headers
    return responses


# What each kind of operation can answer besides success.
GATEWAY_WRITE_ERRORS = error_responses(400, 401, 403, 408, 413, 415, 422, 429, 503)
GATEWAY_READ_ERRORS = error_responses(400, 401, 403, 422, 429, 503)
STAFF_READ_ERRORS = error_responses(400, 401, 403, 404, 422, 503)
ADMIN_WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 422, 503)


def error_response(status_code: int, code: str, message: str, detail: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"error": code, "message": message, "detail": detail})
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


# SQLSTATEs that say "not now" rather than "never": a wait bounded by lock_timeout or statement_timeout
# ran out, a deadlock or serialization conflict was broken, the server is starting or shutting down.
# The same request can succeed later, so they are 503 + Retry-After.
_BUSY_SQLSTATES = frozenset({"55P03", "57014", "40P01", "40001", "53300", "57P01", "57P02", "57P03"})
# And those that say the server cannot take the request until someone acts on it: it takes no writes (a standby
# after a failover, or made read-only), its disk or memory is full, its storage failed. Not the request's fault.
_UNAVAILABLE_SQLSTATES = frozenset({"25006", "53100", "53200", "58030"})


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and every one it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def driver_error(exc: BaseException) -> str:
    """The driver's exception under the wrappers, and its SQLSTATE: what an operator looks up. Never its message,
    which may quote a record."""
    chain = _chain(exc)
    sqlstate = next((state for e in chain if isinstance(state := getattr(e, "sqlstate", None), str)), None)
    name = type(chain[-1]).__name__
    return f"{name} (SQLSTATE {sqlstate})" if sqlstate else name


def database_failure(exc: BaseException) -> str | None:
    """"busy" (a bounded wait ran out), "unavailable" (cannot reach it, or it cannot take the request until
    someone acts), or None for any other error."""
    chain = _chain(exc)
    # A pool that waited its whole timeout: every connection is busy.
    if any(isinstance(e, PoolTimeoutError) or getattr(e, "sqlstate", None) in _BUSY_SQLSTATES for e in chain):
        return "busy"
    for e in chain:
        if getattr(e, "sqlstate", None) in _UNAVAILABLE_SQLSTATES:
            return "unavailable"
        # OSError covers refused, reset and missing-socket connections.
        if isinstance(e, (OSError, TimeoutError, asyncpg.exceptions.PostgresConnectionError,
                          asyncpg.exceptions.InterfaceError, OperationalError, InterfaceError)):
            return "unavailable"
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            return "unavailable"
    return None


def install_error_handlers(app: FastAPI, *, retry_after_seconds: int) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        headers = exc.headers
        if exc.status_code == 503 and "Retry-After" not in headers:  # every 503 says when to come back
            headers = {**headers, "Retry-After": str(retry_after_seconds)}
        return error_response(exc.status_code, exc.code, exc.message, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        detail = [{"field": ".".join(str(p) for p in e["loc"]), "code": e["type"], "message": e["msg"]}
                  for e in exc.errors()]
        return error_response(422, "invalid_request", "the request's parameters are invalid", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), None, dict(exc.headers or {}))

    app.add_middleware(UnexpectedErrorMiddleware, retry_after_seconds=retry_after_seconds)


def unexpected_error_response(exc: BaseException, *, retry_after_seconds: int) -> Response:
    failure = database_failure(exc)
    if failure is not None:
        # One line, no traceback: an outage must not bury the log; statements' parameters are hidden.
        logger.warning("database %s: %s", failure, driver_error(exc))
        message = ("the database is unavailable" if failure == "unavailable"
                   else "the database is busy (a bounded wait ran out)")
        return error_response(503, f"database_{failure}", f"{message}; nothing was stored, retry later", None,
                              {"Retry-After": str(retry_after_seconds)})
    logger.error("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; nothing was stored", None)


class UnexpectedErrorMiddleware:
    """Turns any other exception, including a failed commit after the route returned, into the envelope.

    A plain ASGI middleware rather than an exception handler for Exception: Starlette re-raises
    after such a handler, and a database outage would log a traceback per request.
    """

    def __init__(self, app: ASGIApp, *, retry_after_seconds: int) -> None:
        self.app = app
        self.retry_after_seconds = retry_after_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = unexpected_error_response(exc, retry_after_seconds=self.retry_after_seconds)
            await response(scope, receive, send)
