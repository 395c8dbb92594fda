"""Administration, by an admin inside its jurisdiction or on the command line: enterprises, their
gateway keys, staff tokens. Every change is one audit entry, written in the change's transaction,
with what it was before and after."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import service as audit
from service.audit.service import Actor
from service.auth import repository as credentials
from service.auth import service as auth
from service.auth.dependencies import in_jurisdiction
from service.auth.models import GatewayKey, StaffToken
from service.auth.service import ADMIN, AUDITOR, VIEWER, Issued, Staff
from service.enterprises import repository as enterprises
from service.enterprises.models import Enterprise
from service.enterprises.service import add_enterprise
from service.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Acting:
    """Who acts, and where: an admin (its jurisdiction) or the command line (national, any role)."""

    actor: Actor
    region_prefix: str
    cli: bool = False
    request_id: str | None = None
    client_ip: str | None = None

    @staticmethod
    def admin(staff: Staff, actor: Actor, *, request_id: str | None, client_ip: str | None) -> "Acting":
        return Acting(actor=actor, region_prefix=staff.region_prefix, request_id=request_id, client_ip=client_ip)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def enterprise_view(enterprise: Enterprise, live_keys: int | None = None) -> dict[str, Any]:
    view = {"code": enterprise.code, "name": enterprise.name, "regionCode": enterprise.region_code,
            "industry": enterprise.industry, "disabled": enterprise.disabled_at is not None,
            "disabledAt": _time(enterprise.disabled_at), "lastSeenAt": _time(enterprise.last_seen_at)}
    if live_keys is not None:
        view["keyCount"] = live_keys
    return view


def key_view(key: GatewayKey) -> dict[str, Any]:
    return {"id": key.public_id, "createdAt": _time(key.created_at), "expiresAt": _time(key.expires_at),
            "lastUsedAt": _time(key.last_used_at), "revokedAt": _time(key.revoked_at)}


def staff_view(token: StaffToken) -> dict[str, Any]:
    return {"id": token.public_id, "name": token.name, "role": token.role, "regionCode": token.region_prefix,
            "createdAt": _time(token.created_at), "createdBy": token.created_by,
            "expiresAt": _time(token.expires_at), "lastUsedAt": _time(token.last_used_at),
            "revokedAt": _time(token.revoked_at)}


def issued_view(issued: Issued) -> dict[str, Any]:
    return {"id": issued.id, "secret": issued.secret, "expiresAt": _time(issued.expires_at)}


async def record_change(session: AsyncSession, acting: Acting, action: str, *, target: str,
                        target_region: str | None, status: int, before: dict[str, Any] | None = None,
                        after: dict[str, Any] | None = None) -> None:
    """The audit entry of an administrative change, in the change's own transaction."""
    await audit.append(session, actor=acting.actor, action=action, status=status, target=target,
                       target_region=target_region, request_id=acting.request_id, client_ip=acting.client_ip,
                       before=before, after=after)


def _scope_enterprise(acting: Acting, enterprise: Enterprise | None, code: str) -> Enterprise:
    staff = Staff(id=0, name="", role=ADMIN, region_prefix=acting.region_prefix)
    return in_jurisdiction(staff, enterprise, code)


async def list_enterprises(session: AsyncSession, acting: Acting) -> list[dict[str, Any]]:
    return [enterprise_view(e, live) for e, live in await enterprises.in_region(session, acting.region_prefix)]


async def create_enterprise(session: AsyncSession, acting: Acting, *, code: str, name: str, region_code: str,
                            industry: str, now: datetime, key_days: float | None = None) -> dict[str, Any]:
    if not region_code.startswith(acting.region_prefix):
        raise Forbidden(f"region {region_code} is outside your jurisdiction", code="outside_jurisdiction")
    enterprise, key = await add_enterprise(session, code=code, name=name, region_code=region_code,
                                           industry=industry, now=now, key_days=key_days)
    view = enterprise_view(enterprise, 1)
    await record_change(session, acting, "enterprise.create", target=code, target_region=region_code, status=201,
                 after={**view, "keyId": key.id})
    return {"enterprise": view, "key": issued_view(key)}


async def change_enterprise(session: AsyncSession, acting: Acting, *, code: str, now: datetime,
                            name: str | None = None, industry: str | None = None,
                            disabled: bool | None = None) -> dict[str, Any]:
    enterprise = _scope_enterprise(acting, await enterprises.by_code(session, code), code)
    before = enterprise_view(enterprise)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if industry is not None:
        values["industry"] = industry
    if disabled is not None and disabled != (enterprise.disabled_at is not None):
        values["disabled_at"] = now if disabled else None
    await enterprises.change(session, enterprise, **values)
    after = enterprise_view(enterprise)
    action = "enterprise.disable" if disabled and not before["disabled"] else "enterprise.update"
    await record_change(session, acting, action, target=code, target_region=enterprise.region_code, status=200,
                 before=before, after=after)
    return after


async def list_keys(session: AsyncSession, acting: Acting, *, code: str) -> list[dict[str, Any]]:
    enterprise = _scope_enterprise(acting, await enterprises.by_code(session, code), code)
    assert enterprise.id is not None
    return [key_view(key) for key in await credentials.gateway_keys(session, enterprise.id)]


async def issue_key(session: AsyncSession, acting: Acting, *, code: str, now: datetime,
                    days: float | None) -> dict[str, Any]:
    enterprise = _scope_enterprise(acting, await enterprises.by_code(session, code), code)
    assert enterprise.id is not None
    issued = await auth.issue_gateway_key(session, enterprise_id=enterprise.id, now=now, days=days)
    await record_change(session, acting, "key.create", target=code, target_region=enterprise.region_code, status=201,
                 after={"id": issued.id, "expiresAt": _time(issued.expires_at)})
    return issued_view(issued)


async def revoke_keys(session: AsyncSession, acting: Acting, *, code: str, key_id: str | None,
                      now: datetime) -> list[str]:
    """Revoke one key by its id, or every key with None; 404 when there is no such live key."""
    enterprise = _scope_enterprise(acting, await enterprises.by_code(session, code), code)
    assert enterprise.id is not None
    revoked = await auth.revoke_gateway_keys(session, enterprise_id=enterprise.id, now=now, key_id=key_id)
    if key_id is not None and not revoked:
        raise NotFound(f"enterprise {code} has no live key {key_id}", code="unknown_key")
    await record_change(session, acting, "key.revoke", target=code, target_region=enterprise.region_code, status=204,
                 after={"revoked": revoked})
    return revoked


async def list_staff(session: AsyncSession, acting: Acting) -> list[dict[str, Any]]:
    return [staff_view(token) for token in await credentials.staff_in(session, acting.region_prefix)]


async def issue_staff(session: AsyncSession, acting: Acting, *, name: str, role: str, region_code: str,
                      now: datetime, days: float | None) -> dict[str, Any]:
    # Auditors come only from the command line: no web account can both act and erase the trace.
    if not acting.cli and role not in (VIEWER, ADMIN):
        raise Forbidden("an admin may issue viewer and admin tokens only; auditors are created on the "
                        "command line", code="wrong_role")
    if not region_code.startswith(acting.region_prefix):
        raise Forbidden(f"jurisdiction {region_code or 'national'} is wider than, or outside, your own",
                        code="outside_jurisdiction")
    issued = await auth.add_staff(session, name=name, role=role, region_prefix=region_code, now=now, days=days,
                                  created_by=acting.actor.id or "cli")
    await record_change(session, acting, "staff.create", target=issued.id, target_region=region_code or None,
                 status=201, after={"id": issued.id, "name": name, "role": role, "regionCode": region_code,
                                    "expiresAt": _time(issued.expires_at)})
    return issued_view(issued)


async def revoke_staff(session: AsyncSession, acting: Acting, *, token_id: str, now: datetime) -> None:
    token = await credentials.staff_by_public_id(session, token_id)
    if token is None or token.id is None:
        raise NotFound(f"no staff token {token_id}", code="unknown_token")
    if not token.region_prefix.startswith(acting.region_prefix):
        raise Forbidden(f"token {token_id} is outside your jurisdiction", code="outside_jurisdiction")
    if not acting.cli and token.role == AUDITOR:
        raise Forbidden("auditor tokens are managed on the command line", code="wrong_role")
    before = staff_view(token)
    await credentials.revoke_staff(session, token_id=token.id, now=now)
    await record_change(session, acting, "staff.revoke", target=token_id, target_region=token.region_prefix or None,
                 status=204, before=before, after={**before, "revokedAt": before["revokedAt"] or now.isoformat()})
