"""Day digests: what the bureau holds of a plant's day, in one hash both sides can compute."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from service.auth.dependencies import EnterpriseInScope, GatewayDep
from service.db import SessionDep
from service.enterprises import repository as enterprises
from service.errors import GATEWAY_READ_ERRORS, STAFF_READ_ERRORS
from service.evidence import service
from service.params import OnDay

router = APIRouter(prefix="/api/v1")


class DayDigest(BaseModel):
    enterpriseCode: str
    date: str
    records: int = Field(description="current movement records whose pass time falls on the day")
    digest: str = Field(description='"sha256:" + hex of sha256 over "recordId\\tcontentHash\\n" lines, sorted '
                                    "bytewise by recordId")


@router.get("/digest", tags=["gateway"], response_model=DayDigest, responses=GATEWAY_READ_ERRORS,
            summary="本企业日摘要 The calling enterprise's day digest")
async def own_digest(day: OnDay, gateway: GatewayDep, session: SessionDep) -> DayDigest:
    """对账: the digest of the calling enterprise's movements of a Beijing day, as the bureau holds them."""
    enterprise = await enterprises.by_code(session, gateway.enterprise_code)
    assert enterprise is not None  # the key was just checked against it
    return DayDigest(**await service.day_digest(session, enterprise=enterprise, day=day))


@router.get("/enterprises/{code}/digest", tags=["bureau"], response_model=DayDigest, responses=STAFF_READ_ERRORS,
            summary="企业日摘要 An enterprise's day digest")
async def enterprise_digest(enterprise: EnterpriseInScope, day: OnDay, session: SessionDep) -> DayDigest:
    """The digest of an enterprise's movements of a Beijing day, to compare with the plant's own."""
    return DayDigest(**await service.day_digest(session, enterprise=enterprise, day=day))
