"""Reading request bodies ourselves: a size limit enforced while streaming, and exact 400/413/415 answers."""

from typing import Any

import orjson
from fastapi import Request

from service.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


def media_type(request: Request) -> tuple[str, dict[str, str]]:
    media, _, rest = request.headers.get("content-type", "").partition(";")
    params = {}
    for part in rest.split(";"):
        name, _, value = part.partition("=")
        if name.strip():
            params[name.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), params


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, max_bytes: int) -> Any:
    media, params = media_type(request)
    if media != "application/json":
        raise UnsupportedMediaType(f"Content-Type must be application/json; got {media or 'none'}")
    if params.get("charset", "utf-8") not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("the body must be UTF-8 encoded", code="unsupported_charset")
    body = await read_body(request, max_bytes)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower():
            raise BadRequest("the body is not valid UTF-8", code="invalid_encoding") from None
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
