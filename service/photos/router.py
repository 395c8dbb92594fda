"""Photo upload: the bytes of a photo that records name by its SHA-256."""

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from service.audit.middleware import note
from service.auth.dependencies import GatewayDep, ReaderDep
from service.body import held_body, media_type
from service.db import SessionDep
from service.errors import (
    GATEWAY_WRITE_ERRORS,
    STAFF_READ_ERRORS,
    Unprocessable,
    UnsupportedMediaType,
)
from service.ingest.answers import PhotoStored
from service.photos.service import SHA256_RE, put_photo, read_photo
from service.photos.store import photo_store

router = APIRouter(prefix="/api/v1")

_ACCEPTED_TYPES = ("image/jpeg", "image/png", "application/octet-stream")
Sha256 = Annotated[str, Path(description="SHA-256 of the photo's bytes, 64 lowercase hex digits",
                             examples=["cb529927cf2ab81f10a4e253fc13b5a6074b004fb2cdb9c902dec29bf1677b79"])]
_IMAGE = {"schema": {"type": "string", "format": "binary"}}


async def photo_upload(sha256: Sha256, request: Request, gateway: GatewayDep) -> AsyncIterator[tuple[str, bytes]]:
    """The path's hash and the uploaded bytes; the cheap checks come before a byte is read."""
    if not SHA256_RE.match(sha256):
        raise Unprocessable("the path must be the photo's SHA-256 as 64 lowercase hex digits",
                            code="invalid_sha256")
    media, _ = media_type(request)
    if media not in _ACCEPTED_TYPES:
        raise UnsupportedMediaType(f"Content-Type must be image/jpeg or image/png; got {media[:64] or 'none'}",
                                   code="photo_format")
    async with held_body(request, request.app.state.settings.max_photo_bytes) as data:
        yield sha256, data


@router.put("/photos/{sha256}", status_code=201, tags=["gateway"],
            responses={200: {"description": "already held", "model": PhotoStored},
                       201: {"description": "stored", "model": PhotoStored}, **GATEWAY_WRITE_ERRORS},
            openapi_extra={"requestBody": {"required": True, "content": {
                t: _IMAGE for t in _ACCEPTED_TYPES}}},
            summary="上传照片 Upload a photo")
async def upload_photo(request: Request, gateway: GatewayDep,
                       upload: Annotated[tuple[str, bytes], Depends(photo_upload)], session: SessionDep) -> Response:
    """Upload a JPEG or PNG photo (at most 2 MiB) under the SHA-256 of its bytes."""
    sha256, data = upload
    settings = request.app.state.settings
    new = await put_photo(session, photo_store(settings), enterprise_id=gateway.enterprise_id, sha256=sha256,
                          data=data, max_bytes=settings.max_photo_bytes)
    if new:
        request.state.photo_bytes = len(data)
    body = orjson.dumps({"sha256": sha256, "size": len(data), "stored": new})
    return Response(body, status_code=201 if new else 200, media_type="application/json")


@router.get("/photos/{sha256}", tags=["bureau"], response_class=Response,
            responses={200: {"content": {"image/jpeg": _IMAGE, "image/png": _IMAGE}}, **STAFF_READ_ERRORS},
            summary="查看照片 A photo")
async def get_photo(request: Request, sha256: Sha256, staff: ReaderDep, session: SessionDep) -> Response:
    """The bytes of a photo that an enterprise in the caller's jurisdiction uploaded or named in a record."""
    note(request, target=sha256[:64])
    content_type, data = await read_photo(session, photo_store(request.app.state.settings), sha256,
                                          region_prefix=staff.region_prefix)
    # The type was sniffed from the bytes on arrival; the headers keep any browser from reading it as more.
    extension = "png" if content_type == "image/png" else "jpg"
    return Response(data, media_type=content_type,
                    headers={"Content-Disposition": f'inline; filename="{sha256}.{extension}"'})
