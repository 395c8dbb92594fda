"""Who is calling: a gateway (one enterprise) or a member of bureau staff (a jurisdiction)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth import repository
from service.auth.secrets import GATEWAY_PREFIX, STAFF_PREFIX, hash_secret, new_secret
from service.errors import Forbidden, Unauthorized, Unprocessable

ROLES = ("viewer", "admin")


@dataclass(frozen=True)
class Gateway:
    enterprise_id: int
    enterprise_code: str


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    role: str
    region_prefix: str  # 行政区划代码 prefix; empty for the whole country

    def sees(self, region_code: str) -> bool:
        return region_code.startswith(self.region_prefix)


def is_region_prefix(value: str) -> bool:
    """A jurisdiction: 2 (province), 4 (city) or 6 (county) digits of a 行政区划代码, or empty (national)."""
    return not value or (value.isdigit() and len(value) in (2, 4, 6))


def require_secret(secret: str | None) -> str:
    if not secret:
        raise Unauthorized("an Authorization: Bearer <key> header is required", code="missing_key",
                           headers={"WWW-Authenticate": "Bearer"})
    return secret


async def authenticate_gateway(session: AsyncSession, *, secret: str | None, now: datetime,
                               last_seen_resolution_seconds: int) -> Gateway:
    secret = require_secret(secret)
    if secret.startswith(STAFF_PREFIX) and await repository.staff_by_hash(session, hash_secret(secret)):
        raise Forbidden("a staff token cannot call gateway endpoints", code="wrong_credential")
    found = await repository.gateway_seen(session, key_hash=hash_secret(secret), now=now,
                                          stale_before=now - timedelta(seconds=last_seen_resolution_seconds))
    if found is None:
        raise Unauthorized("unknown or revoked key", code="invalid_key", headers={"WWW-Authenticate": "Bearer"})
    return Gateway(enterprise_id=found[0], enterprise_code=found[1])


async def authenticate_staff(session: AsyncSession, *, secret: str | None) -> Staff:
    secret = require_secret(secret)
    if secret.startswith(GATEWAY_PREFIX) and await repository.gateway_by_hash(session, hash_secret(secret)):
        raise Forbidden("a gateway key cannot call bureau endpoints", code="wrong_credential")
    staff = await repository.staff_by_hash(session, hash_secret(secret))
    if staff is None or staff.id is None:
        raise Unauthorized("unknown or revoked token", code="invalid_key", headers={"WWW-Authenticate": "Bearer"})
    return Staff(id=staff.id, name=staff.name, role=staff.role, region_prefix=staff.region_prefix)


async def issue_gateway_key(session: AsyncSession, *, enterprise_id: int) -> str:
    plain, key_hash = new_secret(GATEWAY_PREFIX)
    await repository.add_gateway_key(session, enterprise_id=enterprise_id, key_hash=key_hash)
    return plain


async def revoke_gateway_keys(session: AsyncSession, *, enterprise_id: int, now: datetime) -> int:
    return await repository.revoke_gateway_keys(session, enterprise_id=enterprise_id, now=now)


async def add_staff(session: AsyncSession, *, name: str, role: str, region_prefix: str) -> str:
    if role not in ROLES:
        raise Unprocessable(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    if not is_region_prefix(region_prefix):
        raise Unprocessable("region must be 2, 4 or 6 digits of a 行政区划代码, or empty for national",
                            code="invalid_region")
    if not name.strip():
        raise Unprocessable("name must not be empty", code="invalid_name")
    plain, token_hash = new_secret(STAFF_PREFIX)
    await repository.add_staff(session, name=name, role=role, region_prefix=region_prefix,
                               token_hash=token_hash)
    return plain
