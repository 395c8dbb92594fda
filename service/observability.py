"""Per-request metrics and one structured JSON log line per request, with a request id."""

import logging
import logging.config
import re
import sys
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics

access_log = logging.getLogger("hj1321.access")

_REQUEST_ID_RE = re.compile(r"^[0-9A-Za-z._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields passed as extra={"fields": {...}} become top-level keys, beside the line's
    own (time, level, logger, pid, msg), which they never replace."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for key, value in getattr(record, "fields", {}).items():
            # A field named like one of the line's own keys does not replace it: a postmaster's "pid" once stood
            # where the logging process's belongs.
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


# Log lines that may wait for standard error: about 4 MB, tens of seconds of a busy worker's lines.
LOG_BACKLOG_LINES = 10_000
# How often the lines waiting are written, in one write. A wake for every line cost a request 60-80 µs of CPU
# (the handoff to the writer thread and back), a fifth of the cheapest request's.
LOG_WRITE_SECONDS = 0.05


class StderrHandler(logging.Handler):
    """Lines to standard error without ever making the caller wait: formatted here, written by a thread of the
    handler's own. What reads standard error (journald, a container runtime) can stop reading (stuck, or its disk
    full), and a write to the full pipe then blocks. From the event loop, that stopped every request of the worker
    (after 164 requests, a pipe's 64 KB of lines); the worker that replaced it blocked at its first line, before
    it listened, and the port refused every connection. Now the lines wait in memory, up to `backlog` of them;
    past that they are dropped and counted (hj1321_log_lines_dropped_total), and the next lines written say how
    many went."""

    def __init__(self, backlog: int = LOG_BACKLOG_LINES, stream: TextIO | None = None) -> None:
        super().__init__()
        self._lines: deque[str] = deque()  # appended by callers, taken by the writer: both atomic
        self._backlog = backlog
        self._stream = stream  # None: standard error as it is when a line is written (tests replace it)
        self._dropped = 0
        self._dropped_lock = threading.Lock()
        self._writing = False
        self._wake = threading.Event()
        self._closed = False
        threading.Thread(target=self._write, name="log-writer", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if len(self._lines) >= self._backlog:
            with self._dropped_lock:
                self._dropped += 1
            metrics.LOG_LINES_DROPPED.inc()
            return
        self._lines.append(line)

    def flush(self, timeout: float = 2.0) -> None:
        """Write the lines taken so far, waiting up to `timeout` for them (at exit: logging.shutdown)."""
        self._wake.set()
        deadline = time.monotonic() + timeout
        while (self._lines or self._writing) and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        self.flush()
        self._closed = True  # the writer ends; one stuck on standard error goes with the process
        self._wake.set()
        super().close()

    def _write(self) -> None:
        while not self._closed:
            self._wake.wait(LOG_WRITE_SECONDS)
            self._wake.clear()
            self._writing = True
            try:
                self._write_waiting()
            finally:
                self._writing = False

    def _write_waiting(self) -> None:
        lines = [self._lines.popleft() for _ in range(len(self._lines))]
        with self._dropped_lock:
            dropped, self._dropped = self._dropped, 0
        if dropped:
            lines.insert(0, self.format(_dropped_record(dropped)))
        if not lines:
            return
        try:
            stream = self._stream or sys.stderr
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # standard error closed: there is nowhere to say so


def _dropped_record(count: int) -> logging.LogRecord:
    record = logging.LogRecord("hj1321", logging.WARNING, __file__, 0,
                               "log lines dropped: standard error was not being read", None, None)
    record.fields = {"dropped": count}
    return record


def logging_config(level: str = "info") -> dict[str, Any]:
    """One JSON line per event for our loggers and uvicorn's alike (uvicorn takes this as its log_config)."""
    name = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"()": StderrHandler, "formatter": "json"}},
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
