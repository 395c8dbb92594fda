"""Statistics endpoints: the gateway's manifests and 补传 list, and the bureau's figures."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from service.auth.dependencies import EnterpriseInScope, GatewayDep
from service.body import JsonBody
from service.contract import MANIFEST_SCHEMA
from service.db import SessionDep
from service.enterprises.models import Enterprise
from service.enterprises.repository import by_code
from service.errors import GATEWAY_READ_ERRORS, GATEWAY_WRITE_ERRORS, STAFF_READ_ERRORS
from service.ingest.openapi import json_body
from service.ingest.payloads import ManifestIn
from service.ingest.service import gateway_document
from service.params import FromDay, OnDay, ToDay
from service.stats import service
from service.stats.answers import CleanTransport, Completeness, Missing

router = APIRouter(prefix="/api/v1")


async def _own_enterprise(session: SessionDep, code: str) -> Enterprise:
    enterprise = await by_code(session, code)
    assert enterprise is not None  # the gateway key was just checked against it
    return enterprise


@router.post("/manifests", tags=["gateway"], openapi_extra=json_body(MANIFEST_SCHEMA, "manifest.json"),
             responses=GATEWAY_WRITE_ERRORS, response_model=Missing, summary="上传对账单 Upload a day's manifest")
async def post_manifest(gateway: GatewayDep, body: JsonBody, session: SessionDep) -> dict[str, Any]:
    """Declare how many passes each barrier captured on a day (对账单); answers the day's missing list."""
    manifest = gateway_document(ManifestIn, body, enterprise_code=gateway.enterprise_code, name="manifest")
    barriers = [(b.gate_no, b.barrier_no, b.count, b.record_ids) for b in manifest.barriers]
    return await service.save_manifest(session, enterprise=await _own_enterprise(session, gateway.enterprise_code),
                                       day=manifest.manifest_date, barriers=barriers, now=datetime.now(UTC))


@router.get("/missing", tags=["gateway"], responses=GATEWAY_READ_ERRORS, response_model=Missing,
            summary="本企业补传清单 The calling enterprise's missing records")
async def own_missing(day: OnDay, gateway: GatewayDep, session: SessionDep) -> dict[str, Any]:
    """The calling enterprise's 补传 list for a day: manifest ids not received, and seq gaps."""
    return await service.missing(session, enterprise=await _own_enterprise(session, gateway.enterprise_code),
                                 day=day)


@router.get("/enterprises/{code}/missing", tags=["bureau"], responses=STAFF_READ_ERRORS, response_model=Missing,
            summary="企业补传清单 An enterprise's missing records")
async def enterprise_missing(enterprise: EnterpriseInScope, day: OnDay, session: SessionDep) -> dict[str, Any]:
    """An enterprise's missing record ids and seq gaps for a day."""
    return await service.missing(session, enterprise=enterprise, day=day)


@router.get("/enterprises/{code}/completeness", tags=["bureau"], responses=STAFF_READ_ERRORS,
            response_model=Completeness, summary="上传完整率 Upload completeness")
async def enterprise_completeness(enterprise: EnterpriseInScope, start: FromDay, end: ToDay, request: Request,
                                  session: SessionDep) -> dict[str, Any]:
    """Upload completeness per day and in total, each rate with its numerator and denominator."""
    return await service.completeness(
        session, enterprise=enterprise, start=start, end=end,
        timeliness_window_seconds=request.app.state.settings.timeliness_window_seconds)


@router.get("/enterprises/{code}/clean-transport", tags=["bureau"], responses=STAFF_READ_ERRORS,
            response_model=CleanTransport, response_model_exclude_unset=True,
            summary="清洁运输比例 Clean transport, judged against a policy")
async def enterprise_clean_transport(enterprise: EnterpriseInScope, start: FromDay, end: ToDay,
                                     session: SessionDep,
                                     policy: Annotated[str, Query(max_length=64, description="a policy of "
                                                                  "schemas/policies/: ule-2024, tianjin-a-2024, "
                                                                  "performance-a")] = "ule-2024",
                                     ) -> dict[str, Any]:
    """Clean transport over the window, judged against a policy from schemas/policies/."""
    return await service.clean_transport(session, enterprise=enterprise, start=start, end=end, policy_id=policy)
