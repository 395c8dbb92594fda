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

import orjson

PREFIX = "sha256:"


def _time(value: datetime) -> str:
    # isoformat is C; cut to milliseconds as the profile says (truncated, not rounded), "+00:00" written "Z".
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _number(value: Decimal | float) -> int | float:
    # RFC 8785 writes an integral number as an integer (30.0 is 30), as canonical_json does.
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return int(value) if value == value.to_integral_value() else float(value)


# By exact type: the ingest hot path converts every item of every record, and most are strings, kept as they are.
_CONVERT: dict[type, Any] = {datetime: _time, date: date.isoformat, Decimal: _number, float: _number}


def canonical_content(items: tuple[tuple[str, str], ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """The record as it is hashed: {JSON name: value} of the items that have one.

    `items` pairs each JSON name with the attribute (and column) that holds it: RecordKind.content_items.
    """
    content = {}
    for key, attribute in items:
        value = values[attribute]
        if value is not None:
            convert = _CONVERT.get(type(value))
            content[key] = value if convert is None else convert(value)
    return content


def content_digest(items: tuple[tuple[str, str], ...], values: Mapping[str, Any]) -> bytes:
    """The 32-byte SHA-256 stored in content_hash. The items are flat and their numbers already written as
    RFC 8785 does, so orjson with sorted keys gives the canonical form without canonical_json's second walk."""
    return hashlib.sha256(orjson.dumps(canonical_content(items, values), option=orjson.OPT_SORT_KEYS)).digest()


def receipt(digest: bytes) -> str:
    """The contentHash a gateway and the bureau see: "sha256:" + hex."""
    return PREFIX + digest.hex()
