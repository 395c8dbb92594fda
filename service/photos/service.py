"""Photos are content-addressed: the SHA-256 of the bytes is their name, checked on arrival."""

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from service.errors import (
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PhotoStoreUnavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from service.ingest.payloads import issue
from service.photos import repository
from service.photos.store import PhotoStore
from service.stats import repository as stats

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REF_PREFIX = "sha256:"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_DATA_PREFIXES = ("data:image/jpeg;base64,", "data:image/png;base64,")


def sniff_content_type(data: bytes) -> str | None:
    """JPEG or PNG by magic bytes; the declared type is not trusted."""
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(PNG_MAGIC):
        return "image/png"
    return None


@dataclass
class PhotoBundle:
    """The inline photos of one batch, decoded and checked, to be stored with it."""

    inline: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # sha256 -> (type, bytes)

    def take(self, value: str, item: str, max_bytes: int) -> tuple[str | None, list[dict[str, str]]]:
        """Turn one photo item into its hash; inline data URIs are decoded, checked and kept."""
        if value.startswith(REF_PREFIX):
            return value[len(REF_PREFIX):], []
        prefix = next(p for p in _DATA_PREFIXES if value.startswith(p))
        encoded = value[len(prefix):]
        if len(encoded) * 3 // 4 > max_bytes + 2:
            return None, [issue(item, "photo_too_large", f"is larger than {max_bytes} bytes decoded")]
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return None, [issue(item, "photo_format", "is not valid base64")]
        if len(data) > max_bytes:
            return None, [issue(item, "photo_too_large", f"is larger than {max_bytes} bytes decoded")]
        content_type = sniff_content_type(data)
        if content_type is None:
            return None, [issue(item, "photo_format", "is neither a JPEG nor a PNG image")]
        sha256 = hashlib.sha256(data).hexdigest()
        self.inline[sha256] = (content_type, data)
        return sha256, []


async def store_and_find_missing(session: AsyncSession, store: PhotoStore, *, enterprise_id: int,
                                 bundle: PhotoBundle, referenced: set[str],
                                 named_months: dict[str, date]) -> tuple[set[str], int]:
    """Store the batch's inline photos; returns which referenced photos are missing, and the bytes stored.
    `named_months`: the month of the latest record naming each photo (ingest/service.py _named_months)."""
    photos = [(sha256, content_type, len(data)) for sha256, (content_type, data) in sorted(bundle.inline.items())]
    new = await repository.store(session, enterprise_id=enterprise_id, photos=photos)
    await _write(store, bundle.inline)
    await _resolve(session, new)
    looked = await repository.name_and_find_missing(session, enterprise_id=enterprise_id, sha256s=referenced,
                                                    inline=bundle.inline.keys(), months=named_months)
    # After the photo rows, as an upload does (store, then link): one lock order, no deadlock. A gateway that
    # uploads its photos first has linked them already: then there is nothing to write.
    await repository.link(session, enterprise_id=enterprise_id,
                          sha256s=(referenced | bundle.inline.keys()) - looked.linked)
    return looked.missing, sum(len(bundle.inline[sha256][1]) for sha256 in new)


async def _write(store: PhotoStore, photos: dict[str, tuple[str, bytes]]) -> None:
    """Write the bytes while their rows are locked by this transaction and before it commits: durable before
    any row says they arrived, and never removed by the retention purge between the write and the commit."""
    for sha256, (_, data) in sorted(photos.items()):
        await store.put(sha256, data)


async def put_photo(session: AsyncSession, store: PhotoStore, *, enterprise_id: int, sha256: str, data: bytes,
                    max_bytes: int) -> bool:
    """Store an uploaded photo; True when it is new, False when it was already held."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"a photo may be at most {max_bytes} bytes", code="photo_too_large")
    content_type = sniff_content_type(data)
    if content_type is None:
        raise UnsupportedMediaType("a photo must be a JPEG or PNG image", code="photo_format")
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise Unprocessable("the photo's SHA-256 does not match the path", code="hash_mismatch",
                            detail={"expected": sha256, "actual": actual})
    new = await repository.store(session, enterprise_id=enterprise_id, photos=[(sha256, content_type, len(data))])
    await _write(store, {sha256: (content_type, data)})
    await _resolve(session, new)
    await repository.link(session, enterprise_id=enterprise_id, sha256s=[sha256])
    return bool(new)


async def read_photo(session: AsyncSession, store: PhotoStore, sha256: str, *,
                     region_prefix: str) -> tuple[str, bytes]:
    """A received photo that an enterprise in the region uploaded or named: (content type, bytes)."""
    found = await repository.get(session, sha256, region_prefix=region_prefix) if SHA256_RE.match(sha256) \
        else None
    if found is None:
        raise NotFound("no such photo", code="unknown_photo")
    content_type, in_jurisdiction = found
    if not in_jurisdiction:
        raise Forbidden("no enterprise in your jurisdiction uploaded or named this photo",
                        code="outside_jurisdiction")
    data = await store.get(sha256)
    if data is None:  # the database says it arrived: the store (a mount, a bucket) is not answering for it
        raise PhotoStoreUnavailable("the photo store does not hold this photo now")
    return content_type, data


async def _resolve(session: AsyncSession, new: set[str]) -> None:
    """Records waiting for these photos are complete now: their days' figures change with them."""
    days = await repository.resolve_waiting_records(session, new)
    await stats.mark_dirty(session, days, datetime.now(UTC))
