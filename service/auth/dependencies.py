from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request

from service.auth.service import Gateway, Staff, authenticate_gateway, authenticate_staff
from service.db import SessionDep
from service.errors import TooManyRequests


async def require_gateway(request: Request, session: SessionDep,
                          authorization: Annotated[str | None, Header()] = None) -> Gateway:
    settings = request.app.state.settings
    gateway = await authenticate_gateway(session, authorization=authorization, now=datetime.now(UTC),
                                         last_seen_resolution_seconds=settings.last_seen_resolution_seconds)
    request.state.enterprise_code = gateway.enterprise_code  # for the access log and last-seen metric
    wait = request.app.state.rate_limiter.retry_after(gateway.enterprise_id)
    if wait:
        raise TooManyRequests(f"too many requests from enterprise {gateway.enterprise_code}; retry in {wait} s",
                              headers={"Retry-After": str(wait)})
    return gateway


async def require_staff(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> Staff:
    return await authenticate_staff(session, authorization=authorization)


GatewayDep = Annotated[Gateway, Depends(require_gateway)]
StaffDep = Annotated[Staff, Depends(require_staff)]
