"""Bureau read endpoints (staff token): enterprises, movements, versions, ledgers."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from service.answers import Items, Page
from service.audit.middleware import counted, note
from service.auth.dependencies import OptionalEnterpriseInScope, ReaderDep
from service.db import SessionDep
from service.errors import STAFF_READ_ERRORS
from service.ingest.kinds import INPLANT_VEHICLES, NONROAD_MACHINERY
from service.params import OptionalFromDay, OptionalToDay, PageCursor, PageLimit, RowId
from service.queries import service
from service.queries.answers import (
    EnterpriseSeen,
    StoredInplantVehicle,
    StoredMovement,
    StoredNonroadMachine,
)
from service.queries.service import MovementFilters

router = APIRouter(prefix="/api/v1", tags=["bureau"], responses=STAFF_READ_ERRORS)


@router.get("/enterprises", response_model=Items[EnterpriseSeen], summary="辖区企业 Enterprises in the jurisdiction")
async def list_enterprises(request: Request, staff: ReaderDep, session: SessionDep) -> dict[str, Any]:
    """Enterprises in the caller's jurisdiction, with when their gateways were last heard from."""
    return counted(request, await service.list_enterprises(session, staff))


@router.get("/movements", response_model=Page[StoredMovement], summary="进出厂记录查询 Vehicle movements")
async def list_movements(
    request: Request, staff: ReaderDep, enterprise: OptionalEnterpriseInScope, session: SessionDep,
    plate_no: Annotated[str | None, Query(alias="plateNo", max_length=16, description="车牌号码, exact")] = None,
    from_date: OptionalFromDay = None,
    to_date: OptionalToDay = None,
    direction: Annotated[str | None, Query(pattern="^[12]$", description="进出厂状态 1 entry, 2 exit")] = None,
    emission_standard: Annotated[str | None, Query(alias="emissionStandard", pattern="^[0-6DX]$",
                                                  description="排放标准 0-6, D new energy, X unknown")] = None,
    late: Annotated[bool | None, Query(description="only records received late (true) or on time")] = None,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> dict[str, Any]:
    """Movement records, newest pass first, one page at a time (pass nextCursor back as cursor)."""
    filters = MovementFilters(enterprise=enterprise, plate_no=plate_no, from_date=from_date,
                              to_date=to_date, direction=direction, emission_standard=emission_standard,
                              late=late, limit=limit, cursor=cursor)
    return counted(request, await service.list_movements(session, staff, filters))


@router.get("/movements/{movement_id}/versions", response_model=Items[StoredMovement],
            summary="记录版本 Every version of one movement")
async def movement_versions(request: Request, movement_id: RowId, staff: ReaderDep,
                            session: SessionDep) -> dict[str, Any]:
    """Every stored version of one movement record, oldest first, each with its receipt time."""
    note(request, target=str(movement_id))
    return counted(request, await service.movement_versions(session, staff, movement_id))


@router.get("/inplant-vehicles", response_model=Items[StoredInplantVehicle],
            summary="厂内运输车辆台账 In-plant vehicle ledger")
async def list_inplant_vehicles(
    request: Request, staff: ReaderDep, enterprise: OptionalEnterpriseInScope, session: SessionDep,
) -> dict[str, Any]:
    """The current in-plant vehicle ledger (厂内运输车辆台账) of the enterprises in the jurisdiction."""
    return counted(request, await service.ledger_entries(session, staff, INPLANT_VEHICLES, enterprise))


@router.get("/nonroad-machinery", response_model=Items[StoredNonroadMachine],
            summary="非道路移动机械台账 Non-road machinery ledger")
async def list_nonroad_machinery(
    request: Request, staff: ReaderDep, enterprise: OptionalEnterpriseInScope, session: SessionDep,
) -> dict[str, Any]:
    """The current non-road machinery ledger (非道路移动机械台账) of the enterprises in the jurisdiction."""
    return counted(request, await service.ledger_entries(session, staff, NONROAD_MACHINERY, enterprise))
