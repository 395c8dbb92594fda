"""RFC 8785 canonical JSON (JSON Canonicalization Scheme), for every hash a third party must be able
to recompute: record content hashes, day digests, the audit chain.

orjson with sorted keys already writes what JCS asks for (no whitespace, UTF-8, the same escapes,
the shortest round-trip number) for keys of ASCII and the numbers our records hold; the one
difference is an integral float, which JCS writes as an integer (30.0 -> 30). A test holds this to
the reference implementation (the rfc8785 package) on every sample and on edge values. Integers
beyond 2**53, which JCS leaves undefined (only a `seq` can be one), keep their exact digits.
"""

import hashlib
from typing import Any

import orjson


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(_integral(value), option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
