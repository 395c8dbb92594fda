"""Who is calling, resolved before anything else of a request: in a transaction of its own, so a
credential check never holds a connection or a row lock while the body arrives or the work runs."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth.service import Gateway, Staff, authenticate_gateway, authenticate_staff
from service.db import own_transaction
from service.errors import TooManyRequests

# Declared, not enforced here (auto_error=False): our own 401s carry the envelope and a stable code.
bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="a gateway key (hjg_…) for gateway operations, a staff token (hjs_…) for the bureau's")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _secret(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


async def require_gateway(request: Request, credentials: Credentials) -> AsyncIterator[Gateway]:
    settings = request.app.state.settings
    async with own_transaction(request) as session:
        gateway = await authenticate_gateway(session, secret=_secret(credentials), now=datetime.now(UTC),
                                             last_seen_resolution_seconds=settings.last_seen_resolution_seconds)
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
    async with own_transaction(request) as session:
        return await authenticate_staff(session, secret=_secret(credentials))


GatewayDep = Annotated[Gateway, Depends(require_gateway)]
StaffDep = Annotated[Staff, Depends(require_staff)]
