"""SQL for grades, alerts, exemptions and the watch-list."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, bindparam, func, or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run_sql
from service.emergency.models import Alert, EnterpriseGrade, Exemption, WatchlistEntry


async def add(session: AsyncSession, row: EnterpriseGrade | Alert | Exemption) -> None:
    session.add(row)
    await session.flush()


async def grades(session: AsyncSession, enterprise_id: int) -> Sequence[EnterpriseGrade]:
    statement = (select(EnterpriseGrade).where(col(EnterpriseGrade.enterprise_id) == enterprise_id)
                 .order_by(col(EnterpriseGrade.valid_from), col(EnterpriseGrade.id)))
    return (await session.exec(statement)).all()


async def grade_on(session: AsyncSession, enterprise_id: int, day: date) -> str:
    statement = (select(EnterpriseGrade.grade).where(col(EnterpriseGrade.enterprise_id) == enterprise_id,
                                                     col(EnterpriseGrade.valid_from) <= day)
                 .order_by(col(EnterpriseGrade.valid_from).desc(), col(EnterpriseGrade.id).desc()).limit(1))
    return (await session.exec(statement)).first() or "none"


async def alert(session: AsyncSession, alert_id: int) -> Alert | None:
    return await session.get(Alert, alert_id)


def _overlapping_regions(region: str) -> ColumnElement[bool]:
    """Alerts whose region and this one overlap: one is a prefix of the other."""
    return or_(func.starts_with(col(Alert.region_code), region), func.starts_with(region, col(Alert.region_code)))


async def alerts_between(session: AsyncSession, *, region: str, start: datetime, end: datetime) -> Sequence[Alert]:
    """Alerts overlapping [start, end) whose region overlaps `region`."""
    statement = (select(Alert).where(_overlapping_regions(region), col(Alert.starts_at) < end,
                                     or_(col(Alert.ends_at).is_(None), col(Alert.ends_at) > start))
                 .order_by(col(Alert.starts_at), col(Alert.id)))
    return (await session.exec(statement)).all()


async def alerts_for_enterprise(session: AsyncSession, *, region_code: str, now: datetime) -> Sequence[Alert]:
    """Alerts in force or announced for an enterprise's region (its region starts with theirs)."""
    statement = (select(Alert).where(func.starts_with(region_code, col(Alert.region_code)),
                                     or_(col(Alert.ends_at).is_(None), col(Alert.ends_at) > now))
                 .order_by(col(Alert.starts_at), col(Alert.id)))
    return (await session.exec(statement)).all()


async def exemptions(session: AsyncSession, enterprise_id: int) -> Sequence[Exemption]:
    statement = (select(Exemption).where(col(Exemption.enterprise_id) == enterprise_id)
                 .order_by(col(Exemption.valid_from), col(Exemption.id)))
    return (await session.exec(statement)).all()


_NEXT_SEQ = text("SELECT nextval('watchlist_change_seq')")


async def next_change_seq(session: AsyncSession) -> int:
    return int((await run_sql(session, _NEXT_SEQ, {})).scalar_one())


async def watchlist_entry(session: AsyncSession, *, region_prefix: str, plate_no: str,
                          plate_color: str) -> WatchlistEntry | None:
    statement = select(WatchlistEntry).where(WatchlistEntry.region_prefix == region_prefix,
                                             WatchlistEntry.plate_no == plate_no,
                                             WatchlistEntry.plate_color == plate_color)
    return (await session.exec(statement)).first()


async def save_watchlist_entry(session: AsyncSession, entry: WatchlistEntry) -> None:
    session.add(entry)
    await session.flush()


async def watchlist_changes(session: AsyncSession, *, region_code: str, since: int,
                            limit: int) -> Sequence[WatchlistEntry]:
    """Entries that apply to an enterprise of this region, changed after the cursor, oldest change first."""
    statement = (select(WatchlistEntry).where(func.starts_with(region_code, col(WatchlistEntry.region_prefix)),
                                              col(WatchlistEntry.change_seq) > since)
                 .order_by(col(WatchlistEntry.change_seq)).limit(limit))
    return (await session.exec(statement)).all()


# Built once: the 核查 comparison asks it per plant, and building an ORM statement costs more than running it.
_ALERTS_OVER = select(Alert).where(func.starts_with(bindparam("region_code"), col(Alert.region_code)),
                                   col(Alert.starts_at) < bindparam("end"),
                                   or_(col(Alert.ends_at).is_(None), col(Alert.ends_at) > bindparam("start")))


async def alerts_over(session: AsyncSession, *, region_code: str, start: datetime,
                      end: datetime) -> Sequence[Alert]:
    """Alerts that cover an enterprise of this region (their region is a prefix of it) during [start, end)."""
    return (await session.exec(_ALERTS_OVER, params={"region_code": region_code, "start": start, "end": end})).all()


async def alerts_by_id(session: AsyncSession, ids: Sequence[int]) -> Sequence[Alert]:
    return (await session.exec(select(Alert).where(col(Alert.id).in_(ids)).order_by(col(Alert.id)))).all()


@dataclass(frozen=True)
class Listing:
    plate_no: str
    plate_color: str
    reason: str
    listed_at: datetime
    released_at: datetime | None


@dataclass
class AtIngest:
    """What a movement batch must know of the emergency rules, asked in one round trip."""

    listed: list[Listing] = field(default_factory=list)  # watch-list entries for its plates in the plant's region
    alert_ids: list[int] = field(default_factory=list)  # alerts covering the plant during its passes: usually none


_AT_INGEST = text("""
    SELECT w.plate_no, w.plate_color, w.reason, w.listed_at, w.released_at, NULL::bigint
    FROM watchlist_entry AS w
    JOIN unnest(CAST(:plates AS text[]), CAST(:colors AS text[])) AS p(plate_no, plate_color)
      ON w.plate_no = p.plate_no AND w.plate_color = p.plate_color
    WHERE starts_with(:region, w.region_prefix)
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, a.id FROM emergency_alert AS a
    WHERE starts_with(:region, a.region_code) AND a.starts_at < :end AND (a.ends_at IS NULL OR a.ends_at > :start)
""")


async def at_ingest(session: AsyncSession, *, region_code: str, plates: Sequence[tuple[str, str]],
                    passes: tuple[datetime, datetime] | None) -> AtIngest:
    """The watch-list entries of these (plate, colour) pairs, and the alerts over `passes` ([first, last), or
    None for none), that apply to an enterprise of the region."""
    found = AtIngest()
    if not plates and passes is None:
        return found
    start, end = passes or (None, None)  # NULL bounds: no alert matches
    rows = await run_sql(session, _AT_INGEST, {"region": region_code, "plates": [p for p, _ in plates],
                                               "colors": [c for _, c in plates], "start": start, "end": end})
    for row in rows.all():
        if row[5] is None:
            found.listed.append(Listing(row[0], row[1], row[2], row[3], row[4]))
        else:
            found.alert_ids.append(row[5])
    return found
