"""Registering enterprises (重点用车单位) and hearing from their gateways."""

import re
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth import service as auth
from service.auth.service import Issued
from service.enterprises import repository
from service.enterprises.models import Enterprise
from service.errors import Conflict, Unprocessable
from service.ingest.payloads import ENTERPRISE_CODE_RE

REGION_RE = re.compile(r"^[0-9]{6}$")


async def add_enterprise(session: AsyncSession, *, code: str, name: str, region_code: str, industry: str,
                         now: datetime, key_days: float | None = None) -> tuple[Enterprise, Issued]:
    """Register an enterprise and issue its first gateway key (its secret is shown once)."""
    if not ENTERPRISE_CODE_RE.match(code):
        raise Unprocessable("the enterprise code must be an 18-character unified social credit code",
                            code="invalid_enterprise_code")
    if not REGION_RE.match(region_code):
        raise Unprocessable("the region must be a 6-digit 行政区划代码", code="invalid_region")
    if not name.strip() or len(name) > 200:
        raise Unprocessable("the name must be 1-200 characters", code="invalid_name")
    if len(industry) > 64:
        raise Unprocessable("the industry must be at most 64 characters", code="invalid_industry")
    if await repository.by_code(session, code) is not None:
        raise Conflict(f"enterprise {code} is already registered", code="enterprise_exists")
    enterprise = await repository.add(session, code=code, name=name, region_code=region_code,
                                      industry=industry)
    assert enterprise.id is not None
    key = await auth.issue_gateway_key(session, enterprise_id=enterprise.id, now=now, days=key_days)
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
