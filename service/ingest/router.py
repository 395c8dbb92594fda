"""Gateway write endpoints: the three ledgers, clean-mode volumes, and the heartbeat."""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NoReturn

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from service import metrics
from service.auth.dependencies import GatewayDep
from service.auth.service import Gateway
from service.body import SMALL_BODY_BYTES, JsonBody, discard_body
from service.contract import HEARTBEAT_SCHEMA
from service.db import AdmittedSessionDep, SessionDep
from service.enterprises import service as enterprises
from service.errors import GATEWAY_WRITE_ERRORS, TooManyRequests
from service.ingest.answers import HeartbeatAnswer
from service.ingest.kinds import (
    CLEAN_TRANSPORT_VOLUMES,
    INPLANT_VEHICLES,
    MOVEMENTS,
    NONROAD_MACHINERY,
    RecordKind,
)
from service.ingest.openapi import batch_body, batch_responses, json_body
from service.ingest.payloads import HeartbeatIn
from service.ingest.service import gateway_document, ingest_batch, is_backfill, records_of
from service.limits import BackfillLane, Pause

router = APIRouter(prefix="/api/v1", tags=["gateway"])


def _json(content: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")



def _defer(kind: RecordKind, lane: BackfillLane) -> NoReturn:
    metrics.BACKFILL_DEFERRED.labels(kind.name).inc()
    raise TooManyRequests("live passes go first while the service is busy: re-send this 补传 batch after "
                          "Retry-After", code="backfill_deferred", headers={"Retry-After": str(lane.retry_after())})


@dataclass
class Admitted:
    """A batch's records, with the place the lane gave them (limits.py) until they are committed."""

    records: list[Any]
    now: datetime
    pause: Pause  # awaited between the steps of its work: a 补传 batch's gives way to live ones


def _admitted(kind: RecordKind) -> Any:
    """Declared after the body and before the session: a refused 补传 batch never takes a database connection.
    The place is given back after the session has committed, which a live batch's time includes."""
    async def held_unparsed(request: Request, gateway: GatewayDep) -> bool:
        """Before the body is parsed: for a kind that can be 补传, a large batch from a plant catching up, while
        the lane would refuse backfill, is held as the lane holds any batch finding no place, and refused
        unparsed unless the lane has room for it by then (limits.py). Whether it was held: its hold is then
        spent, and once parsed it is taken or refused at once, not held a second time."""
        declared = request.headers.get("content-length", "")
        lane = request.app.state.backfill_lane
        if not (kind.reports_late and declared.isdigit() and int(declared) > SMALL_BODY_BYTES
                and lane.defers_unparsed(gateway.enterprise_id)):
            return False
        if not await lane.wait_for_room():
            await discard_body(request)
            _defer(kind, lane)
        return True

    # `held` before `body`: FastAPI solves a dependency's parameters in the order they are declared.
    async def admit(request: Request, gateway: GatewayDep, held: Annotated[bool, Depends(held_unparsed)],
                    body: JsonBody) -> AsyncIterator[Admitted]:
        settings = request.app.state.settings
        records = records_of(body, enterprise_code=gateway.enterprise_code, max_records=settings.max_batch_records)
        now = datetime.now(UTC)
        backfill = is_backfill(kind, records, now=now,
                               timeliness_window=timedelta(seconds=settings.timeliness_window_seconds))
        lane = request.app.state.backfill_lane
        if kind.reports_late:  # a ledger batch tells nothing of whether its plant is catching up
            lane.note(gateway.enterprise_id, backfill)
        if not (lane.enter(backfill) if held else await lane.enter_or_wait(backfill)):
            _defer(kind, lane)
        entered = time.perf_counter()
        try:
            yield Admitted(records=records, now=now, pause=lane.pause_for(backfill))
        finally:
            lane.leave(backfill, time.perf_counter() - entered, len(records))
    return Depends(admit, scope="function")


MovementsBatch = Annotated[Admitted, _admitted(MOVEMENTS)]
InplantVehiclesBatch = Annotated[Admitted, _admitted(INPLANT_VEHICLES)]
NonroadMachineryBatch = Annotated[Admitted, _admitted(NONROAD_MACHINERY)]
CleanTransportVolumesBatch = Annotated[Admitted, _admitted(CLEAN_TRANSPORT_VOLUMES)]


async def _post_batch(kind: RecordKind, request: Request, gateway: Gateway, batch: Admitted,
                      session: AsyncSession) -> Response:
    outcome = await ingest_batch(session, kind=kind, enterprise_id=gateway.enterprise_id, records=batch.records,
                                 settings=request.app.state.settings, now=batch.now, region_code=gateway.region_code,
                                 pause=batch.pause)
    request.state.batch_outcome = outcome
    return _json(outcome.answer())


@router.post("/movements", openapi_extra=batch_body("movements"), responses=batch_responses,
             summary="上传进出厂运输车辆记录 Upload vehicle movements")
async def post_movements(request: Request, gateway: GatewayDep, batch: MovementsBatch,
                         session: AdmittedSessionDep) -> Response:
    """Upload 进出厂运输车辆记录 (vehicle movements): 1-500 per batch, a verdict for each."""
    return await _post_batch(MOVEMENTS, request, gateway, batch, session)


@router.post("/inplant-vehicles", openapi_extra=batch_body("inplant-vehicles"), responses=batch_responses,
             summary="上传厂内运输车辆台账 Upload in-plant vehicle ledger entries")
async def post_inplant_vehicles(request: Request, gateway: GatewayDep, batch: InplantVehiclesBatch,
                                session: AdmittedSessionDep) -> Response:
    """Register or update 厂内运输车辆 (in-plant vehicle ledger entries), keyed by envRegCode."""
    return await _post_batch(INPLANT_VEHICLES, request, gateway, batch, session)


@router.post("/nonroad-machinery", openapi_extra=batch_body("nonroad-machinery"), responses=batch_responses,
             summary="上传非道路移动机械台账 Upload non-road machinery ledger entries")
async def post_nonroad_machinery(request: Request, gateway: GatewayDep, batch: NonroadMachineryBatch,
                                 session: AdmittedSessionDep) -> Response:
    """Register or update 非道路移动机械 (non-road machinery ledger entries), keyed by envRegCode."""
    return await _post_batch(NONROAD_MACHINERY, request, gateway, batch, session)


@router.post("/clean-transport-volumes", openapi_extra=batch_body("clean-transport-volumes"),
             responses=batch_responses,
             summary="上传清洁方式运输量 Upload clean-mode transport volumes")
async def post_clean_transport_volumes(request: Request, gateway: GatewayDep, batch: CleanTransportVolumesBatch,
                                       session: AdmittedSessionDep) -> Response:
    """Upload 清洁方式运输量 (rail, water, pipeline and belt tonnes), keyed by recordId."""
    return await _post_batch(CLEAN_TRANSPORT_VOLUMES, request, gateway, batch, session)


@router.post("/heartbeat", openapi_extra=json_body(HEARTBEAT_SCHEMA, "heartbeat.json"),
             responses={200: {"model": HeartbeatAnswer}, **GATEWAY_WRITE_ERRORS}, summary="心跳 Heartbeat")
async def post_heartbeat(request: Request, gateway: GatewayDep, body: JsonBody,
                         session: SessionDep) -> Response:
    """Tell the service the gateway is alive; the answer carries the server time and the clock skew."""
    heartbeat = gateway_document(HeartbeatIn, body, enterprise_code=gateway.enterprise_code, name="heartbeat")
    now = datetime.now(UTC)
    skew = await enterprises.heartbeat(session, enterprise_id=gateway.enterprise_id,
                                       sent_at=heartbeat.sent_at, now=now)
    request.state.clock_skew_seconds = skew
    return _json({"serverTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                  "skewSeconds": skew})
