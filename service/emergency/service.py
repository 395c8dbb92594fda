"""Grades, alerts, exemptions and the watch-list: set by admins inside their jurisdiction, read by staff,
and turned into the rule a gateway must apply at its barrier."""

from datetime import UTC, date, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.admin.service import Acting, record_change
from service.emergency import repository
from service.emergency.models import Alert, EnterpriseGrade, Exemption, WatchlistEntry
from service.emergency.rules import GRADES, LEVELS, ban_for, rule_set_for
from service.enterprises.models import Enterprise
from service.errors import Forbidden, NotFound, Unprocessable
from service.ingest.payloads import BEIJING

WATCHLIST_REASONS = {"1": "定期检验", "2": "远程监控(OBD)", "3": "路检路查", "4": "入户检查", "5": "遥感监测",
                     "6": "黑烟举报", "7": "其他"}


def _time(value: datetime | None) -> str | None:
    return value.astimezone(BEIJING).isoformat() if value is not None else None


def grade_view(row: EnterpriseGrade) -> dict[str, Any]:
    return {"grade": row.grade, "validFrom": row.valid_from.isoformat(), "decidedAt": _time(row.decided_at),
            "decidedBy": row.decided_by}


def alert_view(row: Alert) -> dict[str, Any]:
    return {"id": row.id, "regionCode": row.region_code, "level": row.level, "measure": row.measure,
            "startsAt": _time(row.starts_at), "endsAt": _time(row.ends_at),
            "maxHeavyEntryRatio": float(row.max_heavy_entry_ratio) if row.max_heavy_entry_ratio is not None else None,
            "note": row.note, "supersedes": row.supersedes, "createdAt": _time(row.created_at),
            "createdBy": row.created_by}


def exemption_view(row: Exemption) -> dict[str, Any]:
    return {"id": row.id, "plateNo": row.plate_no, "plateColor": row.plate_color, "kind": row.kind,
            "validFrom": _time(row.valid_from), "validTo": _time(row.valid_to), "approval": row.approval,
            "createdAt": _time(row.created_at), "createdBy": row.created_by}


def watchlist_view(row: WatchlistEntry) -> dict[str, Any]:
    return {"plateNo": row.plate_no, "plateColor": row.plate_color, "vin": row.vin, "reason": row.reason,
            "reasonLabel": WATCHLIST_REASONS[row.reason], "regionCode": row.region_prefix,
            "listedAt": _time(row.listed_at), "releasedAt": _time(row.released_at), "changedAt": _time(row.changed_at)}


# ---- grades ---------------------------------------------------------------------------------------

async def grade_history(session: AsyncSession, enterprise: Enterprise, today: date) -> dict[str, Any]:
    assert enterprise.id is not None
    return {"enterpriseCode": enterprise.code, "current": await repository.grade_on(session, enterprise.id, today),
            "items": [grade_view(row) for row in await repository.grades(session, enterprise.id)]}


async def set_grade(session: AsyncSession, acting: Acting, enterprise: Enterprise, *, grade: str, valid_from: date,
                    now: datetime) -> dict[str, Any]:
    assert enterprise.id is not None
    if grade not in GRADES:
        raise Unprocessable(f"grade must be one of {', '.join(GRADES)}", code="invalid_grade")
    before = await grade_history(session, enterprise, now.astimezone(BEIJING).date())
    row = EnterpriseGrade(enterprise_id=enterprise.id, grade=grade, valid_from=valid_from, decided_at=now,
                          decided_by=acting.actor.id or "cli")
    await repository.add(session, row)
    after = await grade_history(session, enterprise, now.astimezone(BEIJING).date())
    await record_change(session, acting, "grade.set", target=enterprise.code, target_region=enterprise.region_code,
                        status=200, before={"current": before["current"]},
                        after={"grade": grade, "validFrom": valid_from.isoformat(), "current": after["current"]})
    return after


# ---- alerts ---------------------------------------------------------------------------------------

def _check_region(acting: Acting, region_code: str) -> None:
    if not (region_code.isdigit() and len(region_code) in (2, 4, 6)):
        raise Unprocessable("regionCode must be 2, 4 or 6 digits of a 行政区划代码", code="invalid_region")
    if not region_code.startswith(acting.region_prefix):
        raise Forbidden(f"region {region_code} is outside your jurisdiction", code="outside_jurisdiction")


async def _alert_in_scope(session: AsyncSession, acting: Acting, alert_id: int) -> Alert:
    row = await repository.alert(session, alert_id)
    if row is None:
        raise NotFound(f"no alert {alert_id}", code="unknown_alert")
    if not row.region_code.startswith(acting.region_prefix):
        raise Forbidden(f"alert {alert_id} is outside your jurisdiction", code="outside_jurisdiction")
    return row


async def create_alert(session: AsyncSession, acting: Acting, *, region_code: str, level: str, measure: int | None,
                       starts_at: datetime, ends_at: datetime | None, max_heavy_entry_ratio: float | None,
                       note: str, supersedes: int | None, now: datetime) -> dict[str, Any]:
    _check_region(acting, region_code)
    if level not in LEVELS:
        raise Unprocessable(f"level must be one of {', '.join(LEVELS)}", code="invalid_level")
    if measure is not None and not 1 <= measure <= 4:
        raise Unprocessable("measure must be 1, 2, 3, 4 or null", code="invalid_measure")
    if ends_at is not None and ends_at <= starts_at:
        raise Unprocessable("endsAt must be after startsAt", code="invalid_window")
    if max_heavy_entry_ratio is not None and not 0 <= max_heavy_entry_ratio <= 1:
        raise Unprocessable("maxHeavyEntryRatio must be between 0 and 1", code="invalid_ratio")
    if supersedes is not None:
        # A level change: the earlier alert ends the moment the new one starts.
        earlier = await _alert_in_scope(session, acting, supersedes)
        if earlier.starts_at >= starts_at or (earlier.ends_at is not None and earlier.ends_at < starts_at):
            raise Unprocessable(f"alert {supersedes} is not in force at {starts_at.isoformat()}",
                                code="invalid_supersedes")
        before = alert_view(earlier)
        earlier.ends_at = starts_at
        session.add(earlier)
        await record_change(session, acting, "alert.lift", target=str(earlier.id), target_region=earlier.region_code,
                            status=200, before=before, after=alert_view(earlier))
    row = Alert(region_code=region_code, level=level, measure=measure, starts_at=starts_at, ends_at=ends_at,
                max_heavy_entry_ratio=max_heavy_entry_ratio, note=note, supersedes=supersedes, created_at=now,
                created_by=acting.actor.id or "cli")
    await repository.add(session, row)
    view = alert_view(row)
    await record_change(session, acting, "alert.create", target=str(row.id), target_region=region_code, status=201,
                        after=view)
    return view


async def lift_alert(session: AsyncSession, acting: Acting, *, alert_id: int, ends_at: datetime) -> dict[str, Any]:
    row = await _alert_in_scope(session, acting, alert_id)
    if ends_at <= row.starts_at:
        raise Unprocessable("endsAt must be after the alert's startsAt", code="invalid_window")
    before = alert_view(row)
    row.ends_at = ends_at
    session.add(row)
    await session.flush()
    after = alert_view(row)
    await record_change(session, acting, "alert.lift", target=str(alert_id), target_region=row.region_code,
                        status=200, before=before, after=after)
    return after


async def alerts_between(session: AsyncSession, *, region_prefix: str, start: datetime,
                         end: datetime) -> list[dict[str, Any]]:
    return [alert_view(row) for row in await repository.alerts_between(session, region=region_prefix, start=start,
                                                                       end=end)]


# ---- exemptions -----------------------------------------------------------------------------------

async def add_exemption(session: AsyncSession, acting: Acting, enterprise: Enterprise, *, plate_no: str,
                        plate_color: str, kind: str, valid_from: datetime, valid_to: datetime, approval: str,
                        now: datetime) -> dict[str, Any]:
    assert enterprise.id is not None
    if valid_to <= valid_from:
        raise Unprocessable("validTo must be after validFrom", code="invalid_window")
    row = Exemption(enterprise_id=enterprise.id, plate_no=plate_no, plate_color=plate_color, kind=kind,
                    valid_from=valid_from, valid_to=valid_to, approval=approval, created_at=now,
                    created_by=acting.actor.id or "cli")
    await repository.add(session, row)
    view = exemption_view(row)
    await record_change(session, acting, "exemption.create", target=enterprise.code,
                        target_region=enterprise.region_code, status=201, after=view)
    return view


async def list_exemptions(session: AsyncSession, enterprise: Enterprise) -> list[dict[str, Any]]:
    assert enterprise.id is not None
    return [exemption_view(row) for row in await repository.exemptions(session, enterprise.id)]


# ---- the watch-list -------------------------------------------------------------------------------

async def upsert_watchlist(session: AsyncSession, acting: Acting, entries: list[dict[str, Any]],
                           now: datetime) -> list[dict[str, Any]]:
    """Entries apply inside the admin's jurisdiction; posting an entry again changes it (releasing it
    with releasedAt), keyed by plate and colour."""
    saved = []
    for entry in entries:
        if entry["releasedAt"] is not None and entry["releasedAt"] <= entry["listedAt"]:
            raise Unprocessable(f"releasedAt of {entry['plateNo']} must be after its listedAt", code="invalid_window")
        row = await repository.watchlist_entry(session, region_prefix=acting.region_prefix, plate_no=entry["plateNo"],
                                               plate_color=entry["plateColor"])
        before = watchlist_view(row) if row is not None else None
        if row is None:
            row = WatchlistEntry(region_prefix=acting.region_prefix, plate_no=entry["plateNo"],
                                 plate_color=entry["plateColor"], reason=entry["reason"], listed_at=entry["listedAt"],
                                 change_seq=0, changed_at=now, changed_by="")
        row.vin, row.reason, row.listed_at, row.released_at = (entry["vin"], entry["reason"], entry["listedAt"],
                                                                entry["releasedAt"])
        row.change_seq = await repository.next_change_seq(session)
        row.changed_at, row.changed_by = now, acting.actor.id or "cli"
        await repository.save_watchlist_entry(session, row)
        view = watchlist_view(row)
        await record_change(session, acting, "watchlist.release" if row.released_at else "watchlist.list",
                            target=f"{row.plate_no}/{row.plate_color}", target_region=acting.region_prefix or None,
                            status=200, before=before, after=view)
        saved.append(view)
    return saved


async def watchlist_for(session: AsyncSession, *, region_code: str, since: int, limit: int) -> dict[str, Any]:
    rows = await repository.watchlist_changes(session, region_code=region_code, since=since, limit=limit)
    cursor = rows[-1].change_seq if rows else since
    return {"items": [watchlist_view(row) for row in rows], "cursor": str(cursor), "more": len(rows) == limit}


# ---- what a gateway must do -----------------------------------------------------------------------

async def control_measures(session: AsyncSession, *, enterprise_id: int, region_code: str,
                           now: datetime) -> dict[str, Any]:
    """Alerts in force or announced for the plant, each with the rule that applies to it, in words and as data."""
    items = []
    for row in await repository.alerts_for_enterprise(session, region_code=region_code, now=now):
        day = max(row.starts_at, now).astimezone(BEIJING).date()
        grade = await repository.grade_on(session, enterprise_id, day)
        ban = ban_for(rule_set_for(region_code, day), grade=grade, measure=row.measure)
        items.append({"alertId": row.id, "level": row.level, "measure": row.measure, "startsAt": _time(row.starts_at),
                      "endsAt": _time(row.ends_at), "grade": grade, "banned": ban.as_json() if ban else None,
                      "maxHeavyEntryRatio": alert_view(row)["maxHeavyEntryRatio"],
                      "text": ban.text if ban else "本企业不受运输管控限制 (nothing is banned for this plant)"})
    return {"items": items, "serverTime": datetime.now(UTC).isoformat()}
