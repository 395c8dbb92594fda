"""What every HTTP exchange gets, whatever route answers it: a deadline for its request head, URLs PostgreSQL can
store, and the security headers that keep a browser from acting on what a gateway sent."""

import asyncio
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.config import get_settings
from service.errors import error_response

_HEAD_TOO_SLOW = orjson.dumps({"error": "header_timeout", "message": "the request head did not arrive in time",
                               "detail": None})


class HeadDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with a deadline for each request head (`HJ1321_HEADER_TIMEOUT_SECONDS`).
    uvicorn waits for a head as long as the client takes. Half a head, held, needs no credential: 1,100 such
    connections took every file descriptor of a worker, and it refused everyone for as long as they were held.
    The deadline runs from the connection's opening, and from each answer while no next request has its head
    in; a connection past it is answered 408 and closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_seconds = get_settings().header_timeout_seconds
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def on_headers_complete(self) -> None:
        self._head_in()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.cycle is not None and self.cycle.response_complete and not self.transport.is_closing():
            self._await_head()  # no pipelined request started: the next head is awaited from now

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_in()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._head_in()
        self._head_deadline = self.loop.call_later(self._head_seconds, self._head_too_slow)

    def _head_in(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                 b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                                 % (len(_HEAD_TOO_SLOW), _HEAD_TOO_SLOW))
            self.transport.close()

# Every answer: a browser must not guess a type (a JPEG-magic HTML file stays an image).
_EVERY_RESPONSE = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
# API answers are data, never pages: nothing runs or frames them, and no shared workstation or proxy
# keeps a copy of a plant's records (the route may set its own Cache-Control).
_API_RESPONSE = [(b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; sandbox"),
                 (b"x-frame-options", b"DENY")]
_NO_STORE = (b"cache-control", b"no-store")


class HttpGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _EVERY_RESPONSE
                if is_api:
                    headers += _API_RESPONSE
                    if not any(name.lower() == b"cache-control" for name, _ in headers):
                        headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        # PostgreSQL text cannot hold NUL, and no identifier, code or plate contains one: refused here
        # once, rather than failing inside whichever statement the value would have reached.
        if "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]:
            response = error_response(400, "invalid_character", "the URL contains a NUL character (%00)")
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
