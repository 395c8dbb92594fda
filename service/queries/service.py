"""What bureau staff read, always within their jurisdiction (行政区划代码 prefix)."""

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.dependencies import in_jurisdiction
from service.auth.service import Staff
from service.enterprises.models import Enterprise
from service.errors import NotFound, Unprocessable
from service.ingest.content import receipt
from service.ingest.kinds import MOVEMENTS, RecordKind
from service.ingest.payloads import BEIJING, issue
from service.params import FIRST_DAY, LAST_DAY, MAX_BIGINT
from service.queries import repository


async def list_enterprises(session: AsyncSession, staff: Staff) -> dict[str, Any]:
    enterprises = await repository.enterprises_in(session, staff.region_prefix)
    return {"items": [{"code": e.code, "name": e.name, "regionCode": e.region_code, "industry": e.industry,
                       "lastSeenAt": _json_value(e.last_seen_at)} for e in enterprises]}


@dataclass(frozen=True)
class MovementFilters:
    enterprise: Enterprise | None = None  # already checked against the jurisdiction
    plate_no: str | None = None
    from_date: date | None = None
    to_date: date | None = None
    direction: str | None = None
    emission_standard: str | None = None
    late: bool | None = None
    limit: int = 100
    cursor: str | None = None


async def list_movements(session: AsyncSession, staff: Staff, filters: MovementFilters) -> dict[str, Any]:
    enterprise_id = filters.enterprise.id if filters.enterprise is not None else None
    rows = await repository.movements_page(
        session, region_prefix=staff.region_prefix, enterprise_id=enterprise_id, plate_no=filters.plate_no,
        start=_day_start(filters.from_date), end=_day_start(filters.to_date, next_day=True),
        direction=filters.direction, emission_standard=filters.emission_standard, late=filters.late,
        after=decode_cursor(filters.cursor) if filters.cursor else None, limit=filters.limit + 1)
    page = rows[:filters.limit]
    next_cursor = None
    if len(rows) > filters.limit:
        last = page[-1][0]
        assert last.id is not None
        next_cursor = encode_cursor(last.pass_time, last.id)
    return {"items": [record_item(MOVEMENTS, row, code) for row, code in page], "nextCursor": next_cursor}


async def movement_versions(session: AsyncSession, staff: Staff, movement_id: int) -> dict[str, Any]:
    found = await repository.movement(session, movement_id)
    if found is None:
        raise NotFound(f"no movement {movement_id}", code="unknown_record")
    current, enterprise = found
    in_jurisdiction(staff, enterprise, enterprise.code)
    earlier = await repository.earlier_versions(session, current)
    return {"items": [record_item(MOVEMENTS, row, enterprise.code, record_id=movement_id)
                      for row in [*earlier, current]]}


async def ledger_entries(session: AsyncSession, staff: Staff, kind: RecordKind,
                         enterprise: Enterprise | None) -> dict[str, Any]:
    if enterprise is not None:
        enterprises = [enterprise]
    else:
        enterprises = list(await repository.enterprises_in(session, staff.region_prefix))
    codes = {e.id: e.code for e in enterprises}
    rows = await repository.ledger(session, kind.table_model, [e.id for e in enterprises if e.id is not None])
    return {"items": [record_item(kind, row, codes[row.enterprise_id]) for row in rows]}


def record_item(kind: RecordKind, row: Any, enterprise_code: str, *, record_id: int | None = None) -> dict[str, Any]:
    """A stored record as the bureau reads it: the items under their JSON keys, then what we know of it.

    `row` is a current or an earlier version of any record kind; they share these columns. An earlier version
    carries its record's id (`record_id`).
    """
    item: dict[str, Any] = {"id": row.id if record_id is None else record_id, "enterpriseCode": enterprise_code}
    for name, field in kind.model.model_fields.items():
        item[field.alias or name] = _json_value(getattr(row, name))
    photo_items = {getattr(row, column): key for key, column in kind.photo_fields}
    pending = [issue(photo_items.get(f"sha256:{sha}", ""), "photo_pending",
                     f"photo {sha[:12]}… has not been received yet") for sha in row.missing_photos]
    item.update(receivedAt=_json_value(row.received_at), firstReceivedAt=_json_value(row.first_received_at),
                version=row.version, contentHash=receipt(row.content_hash), warnings=[*row.warnings, *pending],
                missingItems=row.missing_fields,
                complete=not (row.missing_fields or row.missing_photos or row.warnings))
    if kind.reports_late:
        item["late"] = row.late
    return item


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(BEIJING).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _day_start(day: date | None, *, next_day: bool = False) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1 if next_day else 0), time(), tzinfo=BEIJING)


def encode_cursor(pass_time: datetime, movement_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([pass_time.isoformat(), movement_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (pass_time, id) a page ended at; anything this service did not give out is a 422."""
    try:
        moment, movement_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = datetime.fromisoformat(moment)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        after = None
    if (after is None or after.tzinfo is None or not FIRST_DAY.year <= after.year <= LAST_DAY.year
            or type(movement_id) is not int or not 0 < movement_id <= MAX_BIGINT):
        raise Unprocessable("cursor is not one this service gave out", code="invalid_cursor")
    return after, movement_id
