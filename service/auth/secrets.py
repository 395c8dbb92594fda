"""Keys and tokens: random, shown once, kept only as SHA-256 (they carry 256 bits, so no slow hash is needed)."""

import hashlib
import secrets

GATEWAY_PREFIX = "hjg_"
STAFF_PREFIX = "hjs_"


def new_secret(prefix: str) -> tuple[str, str]:
    """(the secret to show once, its hash to store)."""
    plain = prefix + secrets.token_urlsafe(32)
    return plain, hash_secret(plain)


def hash_secret(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()
