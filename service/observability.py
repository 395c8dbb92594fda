"""Per-request metrics and one structured JSON log line per request, with a request id."""

import logging
import logging.config
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics

access_log = logging.getLogger("hj1321.access")

_REQUEST_ID_RE = re.compile(r"^[0-9A-Za-z._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields passed as extra={"fields": {...}} become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def logging_config(level: str = "info") -> dict[str, Any]:
    """One JSON line per event for our loggers and uvicorn's alike (uvicorn takes this as its log_config)."""
    name = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {logger: {"handlers": ["stderr"], "level": name, "propagate": False}
                    for logger in ("hj1321", "uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def configure_logging(level: str = "info") -> None:
    logging.config.dictConfig(logging_config(level))


class ObservabilityMiddleware:
    """Outermost layer: sees the final status of every request, including 5xx made below it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id  # for the audit entry
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started, request_id)

    @staticmethod
    def _record(scope: Scope, status: int, duration: float, request_id: str) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        metrics.HTTP_REQUESTS.labels(template, method, str(status)).inc()
        metrics.HTTP_DURATION.labels(template, method).observe(duration)
        state = scope.get("state") or {}
        enterprise = state.get("enterprise_code")
        fields: dict[str, Any] = {"requestId": request_id, "method": method, "route": template, "status": status,
                                  "durationMs": round(duration * 1000, 2), "enterprise": enterprise}
        if enterprise:
            metrics.ENTERPRISE_LAST_SEEN.labels(enterprise).set(time.time())
        committed = 200 <= status < 300
        outcome = state.get("batch_outcome")
        if outcome is not None:
            fields["records"] = {k: v for k, v in outcome.answer().items() if k != "results"}
            if committed:
                metrics.count_batch(outcome.kind, outcome)
                if enterprise and outcome.violations:
                    metrics.count_violations(enterprise, outcome.violations)
        if committed and state.get("photo_bytes"):
            metrics.PHOTO_BYTES.labels("upload").inc(state["photo_bytes"])
        if committed and state.get("clock_skew_seconds") is not None and enterprise:
            metrics.ENTERPRISE_CLOCK_SKEW.labels(enterprise).set(state["clock_skew_seconds"])
        access_log.info("request", extra={"fields": fields})
