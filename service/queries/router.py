"""Bureau read endpoints (staff token): enterprises, movements, versions, ledgers."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from service.audit.middleware import counted, note
from service.auth.dependencies import OptionalEnterpriseInScope, ReaderDep
from service.db import SessionDep
from service.errors import STAFF_READ_ERRORS
from service.ingest.kinds import INPLANT_VEHICLES, NONROAD_MACHINERY
from service.params import OptionalFromDay, OptionalToDay, RowId
from service.queries import service
from service.queries.service import MovementFilters

router = APIRouter(prefix="/api/v1", tags=["bureau"], responses=STAFF_READ_ERRORS)


@router.get("/enterprises")
async def list_enterprises(request: Request, staff: ReaderDep, session: SessionDep) -> dict[str, Any]:
    """Enterprises in the caller's jurisdiction, with when their gateways were last heard from."""
    return counted(request, await service.list_enterprises(session, staff))


@router.get("/movements")
async def list_movements(
    request: Request, staff: ReaderDep, enterprise: OptionalEnterpriseInScope, session: SessionDep,
    plate_no: Annotated[str | None, Query(alias="plateNo")] = None,
    from_date: OptionalFromDay = None,
    to_date: OptionalToDay = None,
    direction: Annotated[str | None, Query(pattern="^[12]$")] = None,
    emission_standard: Annotated[str | None, Query(alias="emissionStandard", pattern="^[0-6DX]$")] = None,
    late: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Movement records, newest pass first, one page at a time (pass nextCursor back as cursor)."""
    filters = MovementFilters(enterprise=enterprise, plate_no=plate_no, from_date=from_date,
                              to_date=to_date, direction=direction, emission_standard=emission_standard,
                              late=late, limit=limit, cursor=cursor)
    return counted(request, await service.list_movements(session, staff, filters))


@router.get("/movements/{movement_id}/versions")
async def movement_versions(request: Request, movement_id: RowId, staff: ReaderDep,
                            session: SessionDep) -> dict[str, Any]:
    """Every stored version of one movement record, oldest first, each with its receipt time."""
    note(request, target=str(movement_id))
    return counted(request, await service.movement_versions(session, staff, movement_id))


@router.get("/inplant-vehicles")
async def inplant_vehicles(
    request: Request, staff: ReaderDep, enterprise: OptionalEnterpriseInScope, session: SessionDep,
) -> dict[str, Any]:
    """The current in-plant vehicle ledger (厂内运输车辆台账) of the enterprises in the jurisdiction."""
    return counted(request, await service.ledger_entries(session, staff, INPLANT_VEHICLES, enterprise))


@router.get("/nonroad-machinery")
async def nonroad_machinery(
    request: Request, staff: ReaderDep, enterprise: OptionalEnterpriseInScope, session: SessionDep,
) -> dict[str, Any]:
    """The current non-road machinery ledger (非道路移动机械台账) of the enterprises in the jurisdiction."""
    return counted(request, await service.ledger_entries(session, staff, NONROAD_MACHINERY, enterprise))
