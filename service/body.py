"""Reading request bodies ourselves: a size limit enforced while streaming, a deadline for the whole
body, and exact 400/408/413/415 answers.

Routes take the body as a dependency declared after the credential and before the database
session (SessionDep): a slow or stalled upload never holds a database connection.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.requests import ClientDisconnect

from service.errors import BadRequest, ClientClosedRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType


def media_type(request: Request) -> tuple[str, dict[str, str]]:
    media, _, rest = request.headers.get("content-type", "").partition(";")
    params = {}
    for part in rest.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            params[name.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), params


async def _chunks(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    """The body's chunks, within the size limit and the deadline for the whole body."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    timeout = request.app.state.settings.body_timeout_seconds
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
                yield chunk
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {timeout:g} s; nothing was stored",
                             headers={"Connection": "close"}) from None
    except ClientDisconnect:
        raise ClientClosedRequest("the client closed the connection before its body arrived") from None


async def read_body(request: Request, max_bytes: int) -> bytes:
    return b"".join([chunk async for chunk in _chunks(request, max_bytes)])


async def discard_body(request: Request) -> None:
    """Let the body arrive, unparsed, before a refusal is answered: a connection closed while the client is
    still sending can lose the answer to a reset, and a slow link would be closed mid-body by the keep-alive
    timeout that starts with the answer."""
    async for _ in _chunks(request, request.app.state.settings.max_body_bytes):
        pass


async def read_json(request: Request) -> Any:
    media, params = media_type(request)
    if media != "application/json":
        raise UnsupportedMediaType(f"Content-Type must be application/json; got {media[:64] or 'none'}")
    if params.get("charset", "utf-8") not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("the body must be UTF-8 encoded", code="unsupported_charset")
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower():
            raise BadRequest("the body is not valid UTF-8", code="invalid_encoding") from None
        raise BadRequest(f"the body is not valid JSON: {str(exc)[:200]}") from None


JsonBody = Annotated[Any, Depends(read_json)]
