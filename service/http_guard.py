"""What every HTTP exchange gets, whatever route answers it: a deadline and a size limit for its request head, URLs
PostgreSQL can store, and the security headers that keep a browser from acting on what a gateway sent."""

import asyncio
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.config import get_settings
from service.errors import error_response

# A request head is under a kilobyte here (a bearer token, a few headers; a proxy adds a few more).
MAX_HEAD_BYTES = 32 * 1024


def _refusal(status: bytes, code: str, message: str) -> bytes:
    body = orjson.dumps({"error": code, "message": message, "detail": None})
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n" % len(body) + body)


_HEAD_TOO_SLOW = _refusal(b"408 Request Timeout", "header_timeout", "the request head did not arrive in time")
_HEAD_TOO_LARGE = _refusal(b"431 Request Header Fields Too Large", "header_too_large",
                           f"the request head is larger than {MAX_HEAD_BYTES} bytes")


class HeadDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with a deadline (`HJ1321_HEADER_TIMEOUT_SECONDS`) and a size limit
    (MAX_HEAD_BYTES) for each request head; neither needs a credential to abuse. uvicorn waits for a head as long
    as the client takes: 1,100 connections each holding half a head took every file descriptor of a worker, and
    it refused everyone for as long as they were held. And it takes a head of any size: one 50 MB header was
    answered 200, after doubling the worker's memory. The deadline runs from the connection's opening, and from
    each answer while no next request has its head in; a connection past it is answered 408, one whose head
    outgrows the limit 431, and either is closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_seconds = get_settings().header_timeout_seconds
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_deadline is not None:  # still no whole head: what came counts toward it
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(_HEAD_TOO_LARGE)

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
        self._head_bytes = 0
        self._head_deadline = self.loop.call_later(self._head_seconds, self._refuse, _HEAD_TOO_SLOW)

    def _head_in(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _refuse(self, answer: bytes) -> None:
        self._head_in()
        if not self.transport.is_closing():
            self.transport.write(answer)
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
