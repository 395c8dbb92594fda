"""The audit log, for auditors only, inside their jurisdiction."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from service.audit import repository
from service.audit.middleware import note
from service.audit.service import public_form
from service.auth.dependencies import AuditorDep
from service.csv_cells import neutralised
from service.db import SessionDep
from service.errors import STAFF_READ_ERRORS, Unprocessable
from service.ingest.payloads import BEIJING
from service.params import MAX_BIGINT, FromDay, ToDay

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=STAFF_READ_ERRORS)


class AuditItem(BaseModel):
    id: int
    at: str = Field(description="UTC, yyyy-MM-ddTHH:mm:ss.sssZ")
    actor: dict[str, Any] = Field(description='{"type": staff|gateway|cli|anonymous, "id", "name", "role", '
                                              '"regionCode"}')
    action: str = Field(description="route template and method, or a named administrative action")
    target: str | None
    targetRegion: str | None
    query: dict[str, Any]
    status: int
    rows: int | None
    clientIp: str | None
    requestId: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prevHash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditItem]
    nextCursor: str | None


def _bounds(start: Any, end: Any) -> tuple[datetime, datetime]:
    if end < start:
        raise Unprocessable("`to` is before `from`", code="invalid_window")
    return (datetime.combine(start, time(), tzinfo=BEIJING),
            datetime.combine(end + timedelta(days=1), time(), tzinfo=BEIJING))


@router.get("/audit", response_model=AuditPage, summary="审计日志 The audit log")
async def audit_log(
    request: Request, auditor: AuditorDep, session: SessionDep, start: FromDay, end: ToDay,
    actor: Annotated[str | None, Query(max_length=64, description="an actor's id (tok_…, key_…, cli)")] = None,
    action: Annotated[str | None, Query(max_length=200, description="e.g. GET /api/v1/movements, staff.revoke")]
        = None,
    limit: Annotated[int, Query(ge=1, le=500, description="entries per page")] = 100,
    cursor: Annotated[str | None, Query(max_length=20, description="nextCursor of the previous page")] = None,
) -> AuditPage:
    """审计日志: entries newest first, those whose actor or target enterprise lies in the caller's jurisdiction."""
    before_id = None
    if cursor is not None:
        if not cursor.isdigit() or not 0 < int(cursor) <= MAX_BIGINT:
            raise Unprocessable("cursor is not one this service gave out", code="invalid_cursor")
        before_id = int(cursor)
    lower, upper = _bounds(start, end)
    rows = await repository.page(session, region_prefix=auditor.region_prefix, start=lower, end=upper, actor=actor,
                                 action=action, before_id=before_id, limit=limit + 1)
    page = rows[:limit]
    note(request, rows=len(page))
    next_cursor = str(page[-1].id) if len(rows) > limit else None
    return AuditPage(items=[AuditItem(**public_form(entry)) for entry in page], nextCursor=next_cursor)


_COLUMNS = ["id", "at", "actor", "action", "target", "targetRegion", "query", "status", "rows", "clientIp",
            "requestId", "before", "after", "prevHash", "hash"]


@router.get("/audit/export", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
            summary="导出审计日志 Export the audit log")
async def audit_export(auditor: AuditorDep, start: FromDay, end: ToDay, request: Request) -> StreamingResponse:
    """The audit log of a window as CSV, oldest first; objects as JSON, so every hash can be recomputed."""
    lower, upper = _bounds(start, end)
    sessionmaker = request.app.state.sessionmaker

    async def produce() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(_COLUMNS)
        yield ("\ufeff" + buffer.getvalue()).encode()
        async with sessionmaker() as session:
            async for chunk in repository.stream(session, region_prefix=auditor.region_prefix, start=lower,
                                                 end=upper):
                buffer.seek(0)
                buffer.truncate()
                for entry in chunk:
                    item = public_form(entry)
                    writer.writerow([neutralised(orjson.dumps(item[c]).decode() if isinstance(item[c], dict)
                                                 else item[c]) for c in _COLUMNS])
                yield buffer.getvalue().encode()

    name = f"audit-{auditor.region_prefix or 'all'}-{start}-{end}.csv"
    return StreamingResponse(produce(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
