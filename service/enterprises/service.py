"""Registering enterprises (重点用车单位) and hearing from their gateways."""

import re
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth import service as auth
from service.enterprises import repository
from service.enterprises.models import Enterprise
from service.errors import Unprocessable
from service.ingest.payloads import ENTERPRISE_CODE_RE

REGION_RE = re.compile(r"^[0-9]{6}$")


async def add_enterprise(session: AsyncSession, *, code: str, name: str, region_code: str,
                         industry: str) -> tuple[Enterprise, str]:
    """Register an enterprise and issue its first gateway key (returned once, in plain)."""
    if not ENTERPRISE_CODE_RE.match(code):
        raise Unprocessable("the enterprise code must be an 18-character unified social credit code",
                            code="invalid_enterprise_code")
    if not REGION_RE.match(region_code):
        raise Unprocessable("the region must be a 6-digit 行政区划代码", code="invalid_region")
    if not name.strip():
        raise Unprocessable("the name must not be empty", code="invalid_name")
    if await repository.by_code(session, code) is not None:
        raise Unprocessable(f"enterprise {code} is already registered", code="enterprise_exists")
    enterprise = await repository.add(session, code=code, name=name, region_code=region_code,
                                      industry=industry)
    assert enterprise.id is not None
    key = await auth.issue_gateway_key(session, enterprise_id=enterprise.id)
    return enterprise, key


async def require(session: AsyncSession, code: str) -> Enterprise:
    enterprise = await repository.by_code(session, code)
    if enterprise is None or enterprise.id is None:
        raise Unprocessable(f"enterprise {code} is not registered", code="unknown_enterprise")
    return enterprise


async def heartbeat(session: AsyncSession, *, enterprise_id: int, sent_at: datetime,
                    now: datetime) -> float:
    """Record a heartbeat; returns the gateway clock's skew in seconds (positive: gateway ahead)."""
    skew = round((sent_at - now).total_seconds(), 3)
    await repository.record_heartbeat(session, enterprise_id=enterprise_id, now=now, skew_seconds=skew)
    return skew
