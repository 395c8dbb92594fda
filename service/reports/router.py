"""Bureau reports: 统计日报, exports of movements, audit samples (核查)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from service.audit.middleware import counted
from service.auth.dependencies import EnterpriseInScope, OptionalEnterpriseInScope, ReaderDep
from service.db import SessionDep
from service.emergency import findings
from service.errors import STAFF_READ_ERRORS
from service.params import FromDay, OnDay, ToDay
from service.queries.repository import enterprises_in
from service.reports import service
from service.reports.answers import AuditSample, DailyReport

router = APIRouter(prefix="/api/v1", tags=["bureau"], responses=STAFF_READ_ERRORS)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_MEDIA_TYPE}


@router.get("/reports/daily", response_model=DailyReport, summary="统计日报 Daily report")
async def daily_report(day: OnDay, staff: ReaderDep, session: SessionDep,
                       region_code: Annotated[str | None, Query(
                           alias="regionCode", description="a region of the jurisdiction; default: all of it")] = None,
                       ) -> dict[str, Any]:
    """统计日报: one row per enterprise of the region on one Beijing day."""
    return await service.daily_report(session, staff=staff, day=day, region_code=region_code)


@router.get("/exports/movements", response_class=StreamingResponse,
            responses={200: {"content": {media: {"schema": {"type": "string", "format": "binary"}}
                                         for media in _MEDIA.values()}}},
            summary="导出进出厂记录 Export movements (CSV, XLSX)")
async def export_movements(
    request: Request, staff: ReaderDep, enterprise: OptionalEnterpriseInScope, session: SessionDep,
    start: FromDay, end: ToDay,
    export_format: Annotated[Literal["csv", "xlsx"],
                             Query(alias="format", description="csv (UTF-8 with BOM) or xlsx")] = "csv",
) -> StreamingResponse:
    """Movement records as a CSV or XLSX file, streamed, with Chinese headers and code labels."""
    if enterprise is not None:
        enterprises = [enterprise]
    else:
        enterprises = list(await enterprises_in(session, staff.region_prefix))
    ids = [e.id for e in enterprises if e.id is not None]
    service.window_bounds(start, end)  # a bad window is a 422 now, not a broken download later
    produce = service.csv_export if export_format == "csv" else service.xlsx_export
    violations = await findings.violating_movements(
        session, jurisdiction=staff.region_prefix, region=staff.region_prefix, first_day=start, last_day=end,
        enterprise_id=enterprise.id if enterprise is not None else None)
    name = f"movements-{enterprise.code if enterprise else staff.region_prefix or 'all'}-{start}-{end}.{export_format}"
    return StreamingResponse(produce(request.app.state.engine, enterprise_ids=ids, start=start, end=end,
                                     violations=violations),
                             media_type=_MEDIA[export_format],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/enterprises/{code}/audit-sample", response_model=AuditSample, response_model_exclude_unset=True,
            summary="核查抽样 A random sample of movements for checking")
async def audit_sample(
    request: Request, enterprise: EnterpriseInScope, session: SessionDep,
    start: FromDay, end: ToDay,
    n: Annotated[int, Query(ge=1, le=500, description="how many records to draw")] = 10,
    seed: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="draw the same sample again; default: a new "
                                                                     "seed, given in the answer")] = None,
) -> dict[str, Any]:
    """n random movement records with links to their photos, for 核查; the same seed draws the same sample."""
    return counted(request, await service.audit_sample(session, enterprise=enterprise, start=start, end=end, n=n,
                                                       seed=seed))
