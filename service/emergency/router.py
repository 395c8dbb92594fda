"""Heavy-pollution alerts and the watch-list: admins set them, staff read them, gateways apply them."""

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from service.admin.router import ActingDep
from service.answers import Items
from service.audit.middleware import audit_action, audited, counted
from service.auth.dependencies import (
    AdminEnterpriseInScope,
    EnterpriseInScope,
    GatewayDep,
    OptionalEnterpriseInScope,
    ReaderDep,
)
from service.db import SessionDep
from service.emergency import findings, repository, service
from service.emergency.answers import (
    AlertOut,
    Comparison,
    ControlMeasures,
    ExemptionOut,
    GradeHistory,
    Violations,
    WatchlistChanges,
    WatchlistEntryOut,
)
from service.emergency.rules import rule_set_for
from service.errors import ADMIN_WRITE_ERRORS, GATEWAY_READ_ERRORS, STAFF_READ_ERRORS, Forbidden, NotFound
from service.ingest.payloads import BEIJING, Day, PlateColor, PlateNo, Time
from service.params import MAX_BIGINT, MAX_INT, FromDay, PageCursor, PageLimit, Text64, Text200, Text500, ToDay
from service.reports.service import window_bounds

router = APIRouter(prefix="/api/v1")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GradeIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"grade": "B", "validFrom": "2026-01-01"}]})

    grade: Literal["A", "leading", "B", "C", "D", "none"] = Field(description="绩效分级")
    validFrom: Day = Field(description="the first Beijing day the grade applies")


class AlertIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"regionCode": "1302", "level": "orange", "measure": 3, "startsAt": "2026-12-01 20:00:00",
         "endsAt": "2026-12-04 00:00:00", "maxHeavyEntryRatio": 0.5, "note": "唐山市重污染天气橙色预警"}]})

    regionCode: Text64 = Field(examples=["13"])
    level: Literal["yellow", "orange", "red"]
    measure: int | None = Field(default=None, ge=1, le=4, description="a local notice's measure code, or null: "
                                                                       "the national default by grade")
    startsAt: Time = Field(description="Beijing time unless an offset is given; inclusive")
    endsAt: Time | None = Field(default=None, description="exclusive; null: until lifted")
    maxHeavyEntryRatio: float | None = Field(default=None, ge=0, le=1)
    note: Text500 = ""
    supersedes: int | None = Field(default=None, ge=1, le=MAX_INT, description="a level change: the alert it "
                                                                                  "replaces ends at startsAt")


class AlertLift(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"endsAt": "2026-12-03 12:00:00"}]})

    endsAt: Time


class ExemptionIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"plateNo": "冀B12345", "plateColor": "1", "kind": "livelihood", "validFrom": "2026-12-01 00:00:00",
         "validTo": "2026-12-05 00:00:00", "approval": "唐环应急〔2026〕7号"}]})

    plateNo: PlateNo
    plateColor: PlateColor
    kind: Literal["safety", "livelihood", "special"]
    validFrom: Time
    validTo: Time
    approval: Text200 = Field(description="the bureau's approval reference")


class WatchlistEntryIn(Body):
    plateNo: PlateNo
    plateColor: PlateColor
    vin: str | None = Field(default=None, pattern=r"^[A-HJ-NPR-Z0-9]{17}$")
    reason: Literal["1", "2", "3", "4", "5", "6", "7"] = Field(description="1 定期检验 2 远程监控(OBD) 3 路检路查 "
                                                                         "4 入户检查 5 遥感监测 6 黑烟举报 7 其他")
    listedAt: Time
    releasedAt: Time | None = None


class WatchlistIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"entries": [{"plateNo": "冀B54321", "plateColor": "2", "reason": "5", "listedAt": "2026-11-01 00:00:00"}]}]})

    entries: list[WatchlistEntryIn] = Field(min_length=1, max_length=1000)


AlertId = Annotated[int, Path(ge=1, le=MAX_INT, description="the alert's id")]


def _today() -> date:
    return datetime.now(UTC).astimezone(BEIJING).date()


@router.get("/admin/enterprises/{code}/grade", tags=["admin"], responses=ADMIN_WRITE_ERRORS,
            response_model=GradeHistory, summary="绩效分级历史 An enterprise's grade decisions")
async def grade_history(enterprise: AdminEnterpriseInScope, session: SessionDep) -> dict[str, Any]:
    """An enterprise's grade (绩效分级) decisions, oldest first, and the grade in force today."""
    return await service.grade_history(session, enterprise, _today())


@router.put("/admin/enterprises/{code}/grade", tags=["admin"], responses=ADMIN_WRITE_ERRORS,
            response_model=GradeHistory, summary="设定绩效分级 Record a grade decision")
async def set_grade(request: Request, who: ActingDep, enterprise: AdminEnterpriseInScope, body: GradeIn,
                    session: SessionDep) -> dict[str, Any]:
    """Record a grade decision valid from a day; earlier decisions are kept."""
    audit_action(request, "grade.set")
    answer = await service.set_grade(session, who, enterprise, grade=body.grade, valid_from=body.validFrom,
                                     now=datetime.now(UTC))
    audited(request)
    return answer


@router.post("/admin/alerts", status_code=201, tags=["admin"], responses=ADMIN_WRITE_ERRORS,
             response_model=AlertOut, summary="发布重污染天气预警 Declare an alert")
async def create_alert(request: Request, who: ActingDep, body: AlertIn, session: SessionDep) -> dict[str, Any]:
    """Declare a heavy-pollution alert over a region of the jurisdiction (a level change supersedes one)."""
    audit_action(request, "alert.create")
    answer = await service.create_alert(
        session, who, region_code=body.regionCode, level=body.level, measure=body.measure, starts_at=body.startsAt,
        ends_at=body.endsAt, max_heavy_entry_ratio=body.maxHeavyEntryRatio, note=body.note,
        supersedes=body.supersedes, now=datetime.now(UTC))
    audited(request)
    return answer


@router.patch("/admin/alerts/{alert_id}", tags=["admin"], responses=ADMIN_WRITE_ERRORS, response_model=AlertOut,
              summary="解除预警 Lift an alert")
async def lift_alert(request: Request, who: ActingDep, alert_id: AlertId, body: AlertLift,
                     session: SessionDep) -> dict[str, Any]:
    """Lift an alert: it ends at endsAt (exclusive)."""
    audit_action(request, "alert.lift")
    answer = await service.lift_alert(session, who, alert_id=alert_id, ends_at=body.endsAt)
    audited(request)
    return answer


@router.post("/admin/enterprises/{code}/exemptions", status_code=201, tags=["admin"], responses=ADMIN_WRITE_ERRORS,
             response_model=ExemptionOut, summary="应急运输豁免 Approve emergency transport")
async def add_exemption(request: Request, who: ActingDep, enterprise: AdminEnterpriseInScope, body: ExemptionIn,
                        session: SessionDep) -> dict[str, Any]:
    """Approve emergency transport (应急运输豁免) of one vehicle of the enterprise in [validFrom, validTo)."""
    audit_action(request, "exemption.create")
    answer = await service.add_exemption(session, who, enterprise, plate_no=body.plateNo, plate_color=body.plateColor,
                                         kind=body.kind, valid_from=body.validFrom, valid_to=body.validTo,
                                         approval=body.approval, now=datetime.now(UTC))
    audited(request)
    return answer


@router.get("/admin/enterprises/{code}/exemptions", tags=["admin"], responses=ADMIN_WRITE_ERRORS,
            response_model=Items[ExemptionOut], summary="豁免列表 An enterprise's exemptions")
async def list_exemptions(request: Request, enterprise: AdminEnterpriseInScope,
                          session: SessionDep) -> dict[str, Any]:
    """The enterprise's exemptions, past and present."""
    return counted(request, {"items": await service.list_exemptions(session, enterprise)})


@router.post("/admin/watchlist", tags=["admin"], responses=ADMIN_WRITE_ERRORS, response_model=Items[WatchlistEntryOut],
             summary="超标车辆名单 List or release over-limit vehicles")
async def upsert_watchlist(request: Request, who: ActingDep, body: WatchlistIn, session: SessionDep) -> dict[str, Any]:
    """List vehicles found over emission limits (超标车辆) for the plants of the jurisdiction, or release them."""
    audit_action(request, "watchlist.upsert")
    items = await service.upsert_watchlist(session, who, [entry.model_dump() for entry in body.entries],
                                           now=datetime.now(UTC))
    audited(request)
    return {"items": items}


@router.get("/alerts", tags=["bureau"], responses=STAFF_READ_ERRORS, response_model=Items[AlertOut],
            summary="预警列表 Alerts in a window")
async def list_alerts(request: Request, staff: ReaderDep, start: FromDay, end: ToDay,
                      session: SessionDep) -> dict[str, Any]:
    """Alerts overlapping the window whose region and the caller's jurisdiction overlap."""
    lower, upper = window_bounds(start, end)
    return counted(request, {"items": await service.alerts_between(session, region_prefix=staff.region_prefix,
                                                                   start=lower, end=upper)})


@router.get("/control-measures", tags=["gateway"], responses=GATEWAY_READ_ERRORS, response_model=ControlMeasures,
            summary="管控措施 What the plant must apply at its gates")
async def control_measures(gateway: GatewayDep, session: SessionDep) -> dict[str, Any]:
    """管控措施: the alerts in force or announced for the calling plant, with the rule it must apply at its gates."""
    return await service.control_measures(session, enterprise_id=gateway.enterprise_id,
                                          region_code=gateway.region_code, now=datetime.now(UTC))


@router.get("/watchlist", tags=["gateway"], response_model=None,
            responses={200: {"model": WatchlistChanges}, **GATEWAY_READ_ERRORS,
                       304: {"description": "nothing changed since the cursor (If-None-Match)"}},
            summary="超标车辆名单变化 Watch-list changes for the plant")
async def watchlist_changes(
    gateway: GatewayDep, session: SessionDep,
    since: Annotated[int, Query(ge=0, le=MAX_BIGINT, description="the cursor of the previous answer; 0 for all")] = 0,
    if_none_match: Annotated[str | None, Header(max_length=200, description="the ETag of the previous answer: 304 when "
                                                                           "nothing changed")] = None,
) -> Response:
    """超标车辆: watch-list entries for the plant changed since the cursor; keep them and refuse those vehicles."""
    answer = await service.watchlist_for(session, region_code=gateway.region_code, since=since,
                                         limit=1000)
    etag = f'"{since}-{answer["cursor"]}"'
    if if_none_match is not None and etag in [tag.strip() for tag in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(orjson.dumps(answer), media_type="application/json", headers={"ETag": etag})


@router.get("/emergency/violations", tags=["bureau"], responses=STAFF_READ_ERRORS, response_model=Violations,
            response_model_exclude_unset=True, summary="应急违规 Violations during alerts")
async def emergency_violations(
    request: Request, staff: ReaderDep, enterprise: OptionalEnterpriseInScope, session: SessionDep,
    start: FromDay, end: ToDay,
    region_code: Annotated[str | None, Query(alias="regionCode", pattern=r"^[0-9]{2}([0-9]{2}){0,2}$",
                                             description="narrow to a region of the jurisdiction")] = None,
    alert_id: Annotated[int | None, Query(alias="alertId", ge=1, le=MAX_INT, description="one alert only")] = None,
    limit: PageLimit = 100,
    cursor: PageCursor = None,
) -> dict[str, Any]:
    """应急违规: heavy movements that broke an alert's rule for their plant, and a summary per plant and alert."""
    lower, upper = window_bounds(start, end)
    region = region_code or staff.region_prefix
    if not (region.startswith(staff.region_prefix) or staff.region_prefix.startswith(region)):
        raise Forbidden(f"region {region} is outside your jurisdiction", code="outside_jurisdiction")
    alerts = [a for a in await repository.alerts_between(session, region=staff.region_prefix, start=lower, end=upper)
              if alert_id is None or a.id == alert_id]
    answer = await findings.violations(
        session, alerts=alerts, only_alert=alert_id, jurisdiction=staff.region_prefix, region=region if len(region) >
        len(staff.region_prefix) else staff.region_prefix, enterprise_id=enterprise.id if enterprise else None,
        first_day=start, last_day=end, cursor=cursor, limit=limit, today=_today())
    return counted(request, answer)


@router.get("/enterprises/{code}/emergency", tags=["bureau"], responses=STAFF_READ_ERRORS, response_model=Comparison,
            summary="应急核查 One plant's alert days against its normal days")
async def emergency_comparison(staff: ReaderDep, enterprise: EnterpriseInScope, session: SessionDep,
                     alert_id: Annotated[int, Query(alias="alertId", ge=1, le=MAX_INT,
                                                                  description="the alert to check")]) -> dict[str, Any]:
    """核查: one plant's heavy-truck entries during an alert against its normal days, with the entry cap."""
    alert = await repository.alert(session, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", code="unknown_alert")
    if not (alert.region_code.startswith(staff.region_prefix) or staff.region_prefix.startswith(alert.region_code)):
        raise Forbidden(f"alert {alert_id} is outside your jurisdiction", code="outside_jurisdiction")
    rules = rule_set_for(enterprise.region_code, alert.starts_at.astimezone(BEIJING).date())
    return await findings.comparison(session, enterprise=enterprise, alert=alert, today=_today(),
                                     baseline_days=rules["entryCap"]["baselineDays"])
