"""Who is calling: a gateway (one enterprise) or a member of bureau staff (a role and a jurisdiction),
and the lifecycle of their credentials: issued with an expiry, used, revoked."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth import repository
from service.auth.secrets import GATEWAY_PREFIX, STAFF_PREFIX, hash_secret, new_secret
from service.errors import Forbidden, Unauthorized, Unprocessable

VIEWER, ADMIN, AUDITOR = "viewer", "admin", "auditor"
ROLES = (VIEWER, ADMIN, AUDITOR)
STAFF_TOKEN_DAYS = 90.0


@dataclass(frozen=True)
class Gateway:
    enterprise_id: int
    enterprise_code: str
    key_id: str = ""
    expires_at: datetime | None = None
    region_code: str = ""


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    role: str
    region_prefix: str  # 行政区划代码 prefix; empty for the whole country
    token_id: str = ""
    expires_at: datetime | None = None

    def sees(self, region_code: str) -> bool:
        return region_code.startswith(self.region_prefix)


@dataclass(frozen=True)
class Issued:
    """A new credential: its public id, the secret (shown this once), and when it expires."""

    id: str
    secret: str
    expires_at: datetime | None


def is_region_prefix(value: str) -> bool:
    """A jurisdiction: 2 (province), 4 (city) or 6 (county) digits of a 行政区划代码, or empty (national)."""
    return not value or (value.isdigit() and len(value) in (2, 4, 6))


def _invalid() -> Unauthorized:
    return Unauthorized("unknown, revoked or expired credential", code="invalid_credentials",
                        headers={"WWW-Authenticate": "Bearer"})


def require_secret(secret: str | None) -> str:
    if not secret:
        raise Unauthorized("an Authorization: Bearer <key> header is required", code="missing_key",
                           headers={"WWW-Authenticate": "Bearer"})
    return secret


async def authenticate_gateway(session: AsyncSession, *, secret: str | None, now: datetime,
                               stale_before: datetime) -> Gateway:
    plain = require_secret(secret)
    key_hash = hash_secret(plain)
    found = await repository.live_gateway_key(session, key_hash=key_hash, now=now, stale_before=stale_before)
    if found is None:
        if plain.startswith(STAFF_PREFIX) and await repository.is_staff_token(session, key_hash):
            raise Forbidden("a staff token cannot call gateway endpoints", code="wrong_credential")
        raise _invalid()
    return Gateway(enterprise_id=found[0], enterprise_code=found[1], key_id=found[2], expires_at=found[3],
                   region_code=found[4])


async def authenticate_staff(session: AsyncSession, *, secret: str | None, now: datetime,
                             stale_before: datetime) -> Staff:
    plain = require_secret(secret)
    token_hash = hash_secret(plain)
    found = await repository.live_staff_token(session, token_hash=token_hash, now=now, stale_before=stale_before)
    if found is None:
        if plain.startswith(GATEWAY_PREFIX) and await repository.is_gateway_key(session, token_hash):
            raise Forbidden("a gateway key cannot call bureau endpoints", code="wrong_credential")
        raise _invalid()
    return Staff(id=found[0], token_id=found[1], name=found[2], role=found[3], region_prefix=found[4],
                 expires_at=found[5])


def _expiry(now: datetime, days: float | None) -> datetime | None:
    if days is None:
        return None
    if not 0 < days <= 3650:
        raise Unprocessable("days must be more than 0 and at most 3650", code="invalid_days")
    return now + timedelta(days=days)


def _public_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


async def issue_gateway_key(session: AsyncSession, *, enterprise_id: int, now: datetime,
                            days: float | None = None) -> Issued:
    """A new key for the enterprise; its earlier keys keep working."""
    plain, key_hash = new_secret(GATEWAY_PREFIX)
    key = await repository.add_gateway_key(session, enterprise_id=enterprise_id, public_id=_public_id("key_"),
                                           key_hash=key_hash, expires_at=_expiry(now, days))
    return Issued(id=key.public_id, secret=plain, expires_at=key.expires_at)


async def revoke_gateway_keys(session: AsyncSession, *, enterprise_id: int, now: datetime,
                              key_id: str | None = None) -> list[str]:
    """Revoke one key (by its id) or, with no id, all of them; returns the ids revoked."""
    return await repository.revoke_gateway_keys(session, enterprise_id=enterprise_id, now=now, public_id=key_id)


async def add_staff(session: AsyncSession, *, name: str, role: str, region_prefix: str, now: datetime,
                    days: float | None = STAFF_TOKEN_DAYS, created_by: str = "cli") -> Issued:
    if role not in ROLES:
        raise Unprocessable(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    if not is_region_prefix(region_prefix):
        raise Unprocessable("region must be 2, 4 or 6 digits of a 行政区划代码, or empty for national",
                            code="invalid_region")
    if not name.strip() or len(name) > 100:
        raise Unprocessable("name must be 1-100 characters", code="invalid_name")
    expires_at = _expiry(now, STAFF_TOKEN_DAYS if days is None else days)
    assert expires_at is not None
    plain, token_hash = new_secret(STAFF_PREFIX)
    token = await repository.add_staff(session, public_id=_public_id("tok_"), name=name.strip(), role=role,
                                       region_prefix=region_prefix, token_hash=token_hash, expires_at=expires_at,
                                       created_by=created_by)
    return Issued(id=token.public_id, secret=plain, expires_at=token.expires_at)
