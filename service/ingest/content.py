"""A record's content hash: SHA-256 of the RFC 8785 canonical JSON of its items that have a value.

One definition for ingest (dedupe, receipts) and for `hj1321 verify` (rows edited behind the
service's back), so the hash a gateway recomputes over what it sent, the one the bureau stored and
the one recomputed from the stored columns are the same by construction:
- keys are the profile's JSON names (recordId, passTime, ...), whatever our models call them, so
  neither a renamed attribute nor a reordered or added model field changes a stored record's hash;
- an item absent, null or "" is left out; `reupload` is left out; `active` takes its default;
- times are UTC `YYYY-MM-DDTHH:MM:SS.sssZ`, so `+08:00` and `Z` spellings of one moment agree;
  dates `YYYY-MM-DD`; numbers are JSON numbers (30.0 is 30); photos are `sha256:<hex>` references.
"""

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from service.canonical import canonical_json

PREFIX = "sha256:"


def _item(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def canonical_content(items: tuple[tuple[str, str], ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """The record as it is hashed: {JSON name: value} of the items that have one.

    `items` pairs each JSON name with the attribute (and column) that holds it: RecordKind.content_items.
    """
    return {key: _item(values[attribute]) for key, attribute in items if values[attribute] is not None}


def content_digest(items: tuple[tuple[str, str], ...], values: Mapping[str, Any]) -> bytes:
    """The 32-byte SHA-256 stored in content_hash."""
    return hashlib.sha256(canonical_json(canonical_content(items, values))).digest()


def receipt(digest: bytes) -> str:
    """The contentHash a gateway and the bureau see: "sha256:" + hex."""
    return PREFIX + digest.hex()
