"""Reading request bodies ourselves: a size limit enforced while streaming, a deadline for the whole
body, a budget for the bodies a worker holds at once, and exact 400/408/413/415/503 answers.

Routes take the body as a dependency declared after the credential and before the database
session (SessionDep): a slow or stalled upload never holds a database connection.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.requests import ClientDisconnect

from service.errors import (
    BadRequest,
    ClientClosedRequest,
    PayloadTooLarge,
    RequestTimeout,
    ServerBusy,
    UnsupportedMediaType,
)
from service.metrics import REQUEST_BODY_BYTES_HELD

# A body this small is a pass or a few, which may be live: it is read whatever the worker's body memory or the
# plant's catching up (ingest/router.py) would say of a larger one. A 500-record batch is about 500 KB.
SMALL_BODY_BYTES = 16 * 1024


@dataclass
class BodyMemory:
    """The bytes of request bodies this worker holds, which stay held until their request has been answered (its
    records parsed from them live as long). Without a bound, gateways re-sending large batches at once after an
    outage took a worker's memory as far as they went: 80 bodies of 14 MB, 2.5 GB, half of it kept after.
    A body larger than SMALL_BODY_BYTES that would take the total past `limit` is not kept (with its length
    declared, not read at all), and is answered 503 `server_busy` with Retry-After."""

    limit: int
    held: int = 0

    def admits(self, body_size: int, more: int) -> bool:
        """Whether a body of `body_size` bytes (so far) may take `more` bytes."""
        return body_size <= SMALL_BODY_BYTES or self.held + more <= self.limit

    def take(self, size: int) -> None:
        self.held += size
        REQUEST_BODY_BYTES_HELD.inc(size)

    def give_back(self, size: int) -> None:
        self.held -= size
        REQUEST_BODY_BYTES_HELD.dec(size)


@dataclass
class _Taken:
    size: int = 0


def media_type(request: Request) -> tuple[str, dict[str, str]]:
    media, _, rest = request.headers.get("content-type", "").partition(";")
    params = {}
    for part in rest.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            params[name.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), params


async def _chunks(request: Request, max_bytes: int, taken: _Taken | None = None) -> AsyncIterator[bytes]:
    """The body's chunks, within the size limit and the deadline for the whole body; with `taken`, each chunk is
    counted in the worker's body memory, within its budget."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    memory: BodyMemory = request.app.state.body_memory
    counted = taken  # counted chunk by chunk: a body sent without its length
    if taken is not None and declared.isdigit():
        # Taken whole before a byte is read. Counted as they arrived, 40 bodies sent at once were each partly
        # in when the budget ran out, and every one of them was refused.
        if not memory.admits(int(declared), int(declared)):
            await discard_body(request)
            raise _busy(memory)
        memory.take(int(declared))
        taken.size, counted = int(declared), None
    timeout = request.app.state.settings.body_timeout_seconds
    size, refused = 0, False
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
                if counted is not None and not refused:
                    # Past the budget, the rest arrives unkept, as in discard_body, and the answer is the same as
                    # for a length declared.
                    refused = not memory.admits(counted.size + len(chunk), len(chunk))
                    if not refused:
                        memory.take(len(chunk))
                        counted.size += len(chunk)
                if not refused:
                    yield chunk
        if refused:
            raise _busy(memory)
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {timeout:g} s; nothing was stored",
                             headers={"Connection": "close"}) from None
    except ClientDisconnect:
        raise ClientClosedRequest("the client closed the connection before its body arrived") from None


def _busy(memory: BodyMemory) -> ServerBusy:
    return ServerBusy(f"the service holds {memory.limit} bytes of request bodies already; send this one again "
                      f"later, unchanged")


@asynccontextmanager
async def held_body(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    """The whole body, counted in the worker's body memory until the block ends (the request's end, for a
    dependency that yields inside it)."""
    taken = _Taken()
    try:
        yield b"".join([chunk async for chunk in _chunks(request, max_bytes, taken)])
    finally:
        request.app.state.body_memory.give_back(taken.size)


async def discard_body(request: Request) -> None:
    """Let the body arrive, unparsed, before a refusal is answered: a connection closed while the client is
    still sending can lose the answer to a reset, and a slow link would be closed mid-body by the keep-alive
    timeout that starts with the answer."""
    async for _ in _chunks(request, request.app.state.settings.max_body_bytes):
        pass


async def read_json(request: Request) -> AsyncIterator[Any]:
    media, params = media_type(request)
    if media != "application/json":
        raise UnsupportedMediaType(f"Content-Type must be application/json; got {media[:64] or 'none'}")
    if params.get("charset", "utf-8") not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("the body must be UTF-8 encoded", code="unsupported_charset")
    async with held_body(request, request.app.state.settings.max_body_bytes) as body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if "utf-8" in str(exc).lower():
                raise BadRequest("the body is not valid UTF-8", code="invalid_encoding") from None
            raise BadRequest(f"the body is not valid JSON: {str(exc)[:200]}") from None
        yield parsed


JsonBody = Annotated[Any, Depends(read_json)]
