"""Who is calling and what they may touch, resolved before anything else of a request.

The credential is checked in a transaction of its own (or taken from the worker's short cache), so
it never holds a connection or a row lock while the body arrives or the work runs. Each rule has
one guard here: a role (`ReaderDep`, `AdminDep`, `AuditorDep`) and the jurisdiction
(`EnterpriseInScope` and its variants); routes declare them, and a test walks every route.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth.secrets import hash_secret
from service.auth.service import ADMIN, AUDITOR, VIEWER, Gateway, Staff, authenticate_gateway, authenticate_staff
from service.db import SessionDep, own_transaction
from service.enterprises import repository as enterprises
from service.enterprises.models import Enterprise
from service.errors import Forbidden, NotFound, TooManyRequests

# Declared, not enforced here (auto_error=False): our own 401s carry the envelope and a stable code.
bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="a gateway key (hjg_…) for gateway operations, a staff token (hjs_…) for the bureau's")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _secret(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


async def _checked(request: Request, credentials: HTTPAuthorizationCredentials | None, cache_name: str,
                   authenticate: Callable[..., Awaitable[Gateway | Staff]]) -> Gateway | Staff:
    secret = _secret(credentials)
    now = datetime.now(UTC)
    cache = getattr(request.app.state, cache_name)
    secret_hash = hash_secret(secret) if secret else ""
    found = cache.get(secret_hash, now) if secret else None
    if found is None:
        resolution = timedelta(seconds=request.app.state.settings.last_seen_resolution_seconds)
        async with own_transaction(request) as session:
            found = await authenticate(session, secret=secret, now=now, stale_before=now - resolution)
        cache.put(secret_hash, found, found.expires_at)
    return found  # type: ignore[no-any-return]


async def require_gateway(request: Request, credentials: Credentials) -> AsyncIterator[Gateway]:
    gateway = await _checked(request, credentials, "gateway_cache", authenticate_gateway)
    assert isinstance(gateway, Gateway)
    request.state.enterprise_code = gateway.enterprise_code  # for the access log and last-seen metric
    wait = request.app.state.rate_limiter.retry_after(gateway.enterprise_id)
    if wait:
        raise TooManyRequests(f"too many requests from enterprise {gateway.enterprise_code}; retry in {wait} s",
                              headers={"Retry-After": str(wait)})
    in_flight = request.app.state.in_flight
    if not in_flight.enter(gateway.enterprise_id):
        raise TooManyRequests(f"enterprise {gateway.enterprise_code} has {in_flight.limit} requests in flight "
                              f"already; retry when one has been answered", code="too_many_in_flight",
                              headers={"Retry-After": "1"})
    try:
        yield gateway
    finally:
        in_flight.leave(gateway.enterprise_id)


async def require_staff(request: Request, credentials: Credentials) -> Staff:
    staff = await _checked(request, credentials, "staff_cache", authenticate_staff)
    assert isinstance(staff, Staff)
    request.state.staff = staff  # the actor of this request's audit entry
    return staff


StaffDep = Annotated[Staff, Depends(require_staff)]


def _role(*roles: str) -> Callable[[Staff], Awaitable[Staff]]:
    async def guard(staff: StaffDep) -> Staff:
        if staff.role not in roles:
            raise Forbidden(f"a {staff.role} token may not do this; it needs the role {' or '.join(roles)}",
                            code="wrong_role")
        return staff
    return guard


# Record data: viewers and admins. Administration: admins. The audit log: auditors, and only they.
ReaderDep = Annotated[Staff, Depends(_role(VIEWER, ADMIN))]
AdminDep = Annotated[Staff, Depends(_role(ADMIN))]
AuditorDep = Annotated[Staff, Depends(_role(AUDITOR))]


def in_jurisdiction(staff: Staff, enterprise: Enterprise | None, code: str,
                    request: Request | None = None) -> Enterprise:
    """The jurisdiction rule, once: 404 for no such enterprise, 403 for one outside the caller's region."""
    if enterprise is None:
        raise NotFound(f"no enterprise {code}", code="unknown_enterprise")
    if request is not None:  # the audit entry names the enterprise, and so is visible to its auditors
        request.state.audit_target = code
        request.state.audit_target_region = enterprise.region_code
    if not staff.sees(enterprise.region_code):
        raise Forbidden(f"enterprise {code} is outside your jurisdiction", code="outside_jurisdiction")
    return enterprise


def _enterprise_in_scope(role: type) -> Callable[..., Awaitable[Enterprise]]:
    async def resolve(request: Request, staff: role,  # type: ignore[valid-type]
                      code: Annotated[str, Path(description="企业统一社会信用代码 enterprise code", max_length=64)],
                      session: SessionDep) -> Enterprise:
        request.state.audit_target = code
        return in_jurisdiction(staff, await enterprises.by_code(session, code), code, request)
    return resolve


def _optional_enterprise_in_scope(role: type) -> Callable[..., Awaitable[Enterprise | None]]:
    async def resolve(request: Request, staff: role,  # type: ignore[valid-type]
                      session: SessionDep,
                      code: Annotated[str | None, Query(alias="enterpriseCode", max_length=64,
                                                        description="only this enterprise (in the jurisdiction)")
                                      ] = None) -> Enterprise | None:
        if code is None:
            return None
        request.state.audit_target = code
        return in_jurisdiction(staff, await enterprises.by_code(session, code), code, request)
    return resolve


# The enterprise named by the path's {code}, inside the caller's jurisdiction.
EnterpriseInScope = Annotated[Enterprise, Depends(_enterprise_in_scope(ReaderDep))]
AdminEnterpriseInScope = Annotated[Enterprise, Depends(_enterprise_in_scope(AdminDep))]
# The enterprise named by ?enterpriseCode=, if any, inside the caller's jurisdiction.
OptionalEnterpriseInScope = Annotated[Enterprise | None, Depends(_optional_enterprise_in_scope(ReaderDep))]
GatewayDep = Annotated[Gateway, Depends(require_gateway)]
