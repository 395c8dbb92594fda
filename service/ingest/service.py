"""Taking in a batch: a verdict for every record, the good ones stored beside the bad.

Each record is validated, checked against the rules, its photos resolved, and then compared with
what is stored under its key: new (accepted), same content (duplicate) or new content (updated,
the earlier version kept). Several versions of one key inside a batch are applied in order.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic_core import PydanticCustomError
from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from service import partitions
from service.config import Settings
from service.db import session_engine
from service.emergency import findings
from service.emergency import repository as emergency
from service.emergency.repository import AtIngest
from service.errors import Forbidden, PayloadTooLarge, ServiceUnavailable, Unprocessable
from service.ingest import repository
from service.ingest.content import content_digest, receipt
from service.ingest.kinds import MOVEMENTS, RecordKind
from service.ingest.payloads import ENTERPRISE_CODE_RE, M, issue, parse_time, validate_record
from service.ingest.repository import CurrentRow
from service.ingest.rules import RuleContext
from service.limits import Pause, let_others_in
from service.photos import repository as photos_repository
from service.photos.service import PhotoBundle, store_and_find_missing
from service.photos.store import photo_store
from service.stats import repository as stats

ACCEPTED, DUPLICATE, UPDATED, REJECTED = "accepted", "duplicate", "updated", "rejected"


@dataclass
class Candidate:
    """A record that passed every check, on its way to the database."""

    index: int
    key: str
    row: dict[str, Any]
    photo_refs: list[tuple[str, str]]  # (JSON key, sha256)
    warnings: list[dict[str, str]]
    status: str = ""
    version: int = 0
    previous_day: date | None = None  # where an updated record counted before


@dataclass
class BatchOutcome:
    kind: str
    results: list[dict[str, Any]]
    counts: Counter[str] = field(default_factory=Counter)
    late: int = 0
    reupload: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)
    new_photo_bytes: int = 0
    violations: dict[str, int] = field(default_factory=dict)  # heavy-pollution alert rule -> movements

    def answer(self) -> dict[str, Any]:
        return {"received": len(self.results), "accepted": self.counts.get(ACCEPTED, 0),
                "duplicates": self.counts.get(DUPLICATE, 0), "updated": self.counts.get(UPDATED, 0),
                "rejected": self.counts.get(REJECTED, 0), "results": self.results}


def rule_context(settings: Settings, now: datetime) -> RuleContext:
    return RuleContext(received_at=now,
                       timeliness_window=timedelta(seconds=settings.timeliness_window_seconds),
                       future_tolerance=timedelta(seconds=settings.future_tolerance_seconds),
                       retention_months=settings.retention_months)


def _check(kind: RecordKind, index: int, raw: Any, ctx: RuleContext, photos: PhotoBundle,
           settings: Settings) -> Candidate | list[dict[str, str]]:
    """The record ready to store, or every reason it is rejected."""
    record = validate_record(kind.model, raw)
    if isinstance(record, list):
        return record
    errors = kind.errors(record, ctx)
    row = dict(record.__dict__)  # the validated fields, as model_dump() would give them, without its cost
    refs: list[tuple[str, str]] = []
    for item, column in kind.photo_fields:
        if row[column] is None:
            continue
        sha256, photo_errors = photos.take(row[column], item, settings.max_inline_photo_bytes)
        errors += photo_errors
        if sha256 is not None:
            row[column] = f"sha256:{sha256}"
            refs.append((item, sha256))
    if errors:
        return errors
    # Hashed after inline photos became references, so a resend naming the photo by hash is a duplicate.
    content_hash = content_digest(kind.content_items, row)
    warnings = kind.warnings(record)
    row.update(content_hash=content_hash, warnings=warnings, missing_fields=kind.missing(record))
    return Candidate(index=index, key=row[kind.key_column], row=row, photo_refs=refs, warnings=warnings)


def is_backfill(kind: RecordKind, records: list[Any], *, now: datetime, timeliness_window: timedelta) -> bool:
    """Whether a batch is mostly 补传: records flagged reupload, or passed longer ago than the timeliness
    window. Such a batch can wait for the live ones when the service is busy; a ledger never waits."""
    if not kind.reports_late:
        return False
    oldest_live = now - timeliness_window
    # Twenty records spread over the batch tell as well as five hundred, at a twenty-fifth of the parsing.
    sample = records[::max(1, len(records) // 20)]
    late = 0
    for record in sample:
        if not isinstance(record, dict):
            continue
        if record.get("reupload") is True:
            late += 1
            continue
        try:
            late += parse_time(record.get("passTime")) < oldest_live
        except PydanticCustomError:
            pass  # rejected later, with its reason; it does not make the batch backfill
    return late * 2 > len(sample)


def check_records(kind: RecordKind, records: list[Any], ctx: RuleContext, photos: PhotoBundle,
                  settings: Settings, first_index: int = 0) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """Every record checked as ingest checks it, without the database: the candidates to store, and a result
    per record (filled in only for the rejected ones; `hj1321 validate` fills in the rest). `first_index`:
    where these records start in their batch."""
    results: list[dict[str, Any]] = [{} for _ in records]
    candidates: list[Candidate] = []
    for offset, raw in enumerate(records):
        index = first_index + offset
        checked = _check(kind, index, raw, ctx, photos, settings)
        if isinstance(checked, Candidate):
            candidates.append(checked)
            continue
        key = raw.get(kind.key_field) if isinstance(raw, dict) else None
        results[offset] = {"index": index, kind.key_field: key if isinstance(key, str) else None,
                           "status": REJECTED, "errors": checked}
    return candidates, results


# Checking a record is pure Python: a batch of 500 holds the worker's event loop for tens of milliseconds.
# Between slices the loop lets other requests in, so a live pass does not wait behind a whole 补传 batch.
CHECK_SLICE = 50


async def check_batch(kind: RecordKind, records: list[Any], ctx: RuleContext, photos: PhotoBundle,
                      settings: Settings, pause: Pause = let_others_in
                      ) -> tuple[list[Candidate], list[dict[str, Any]]]:
    candidates: list[Candidate] = []
    results: list[dict[str, Any]] = []
    for start in range(0, len(records), CHECK_SLICE):
        if start:
            await pause()
        checked, answered = check_records(kind, records[start:start + CHECK_SLICE], ctx, photos, settings, start)
        candidates += checked
        results += answered
    return candidates, results


async def ingest_batch(session: AsyncSession, *, kind: RecordKind, enterprise_id: int,
                       records: list[Any], settings: Settings, now: datetime, region_code: str = "",
                       pause: Pause = let_others_in) -> BatchOutcome:
    """`pause`: awaited between the steps of the batch's work (the lane's, for a 补传 batch). The pauses within
    the transaction hold only what the batch locked (its own plant's rows, the photos it names) longer."""
    ctx = rule_context(settings, now)
    photos = PhotoBundle()
    candidates, results = await check_batch(kind, records, ctx, photos, settings, pause)
    await pause()
    months = [partitions.beijing_month(c.row["pass_time"]) for c in candidates] if kind.partitioned else []
    if months:
        # Before this transaction takes any lock, so making a month cannot wait on it.
        await partitions.ensure(session_engine(session), set(months))
    # Asked first, before this transaction locks anything: the watch-list and the alerts over these passes.
    watched = await _watched(session, candidates, region_code) if kind is MOVEMENTS else None

    missing, new_photo_bytes = await store_and_find_missing(
        session, photo_store(settings), enterprise_id=enterprise_id, bundle=photos,
        referenced={sha for c in candidates for _, sha in c.photo_refs},
        named_months=_named_months(candidates, months if kind.partitioned
                                   else [partitions.beijing_month(now)] * len(candidates)))
    for candidate in candidates:
        waiting = {sha for _, sha in candidate.photo_refs if sha in missing} if missing else ()
        candidate.row["missing_photos"] = sorted(waiting)
    await pause()
    # A batch whose records are all new and that has nothing left to do after storing them marks their days
    # in its insert. Otherwise they are marked last, after the alerts' findings (further below).
    mark_in_insert = bool(kind.day_column) and not (watched is not None and watched.alert_ids)
    try:
        marked = await _store(session, kind, enterprise_id, candidates, ctx, now, mark_in_insert)
    except DBAPIError as exc:
        if not partitions.is_missing(exc):
            raise
        # A month dropped behind this worker's back (a purge run with a shorter window): made again on the retry.
        partitions.forget()
        raise ServiceUnavailable("a month of this batch was being made again; nothing was stored, retry",
                                 code="database_busy", headers={"Retry-After": "1"}) from exc
    outcome = BatchOutcome(kind=kind.name, results=results, new_photo_bytes=new_photo_bytes)
    listed: dict[int, dict[str, str]] = {}
    await pause()
    if watched is not None:
        listed, outcome.violations = await _emergency_checks(session, enterprise_id, candidates, region_code,
                                                             watched)
    if kind.day_column and not marked:  # a batch whose insert marked its days changed no others
        # Last: a day's marker stays locked until this transaction commits, and the plant's next batch of that
        # day waits for it. A gate posting several passes a second must not wait on more than the commit.
        await stats.mark_dirty(session, _changed_days(kind.day_column, enterprise_id, candidates), now)
    await pause()
    for candidate in candidates:
        results[candidate.index] = _result(kind, candidate, missing)
        if candidate.index in listed and candidate.status != DUPLICATE:
            results[candidate.index]["warnings"].append(listed[candidate.index])
        if candidate.status in (ACCEPTED, UPDATED):
            outcome.late += bool(candidate.row.get("late"))
            outcome.reupload += bool(candidate.row.get("reupload"))
    outcome.counts.update(result["status"] for result in results)
    outcome.error_codes.update(error["code"] for result in results for error in result.get("errors", ()))
    return outcome


def _entries(candidates: list[Candidate]) -> list[Candidate]:
    return [c for c in candidates if c.row["direction"] == "1"]


async def _watched(session: AsyncSession, candidates: list[Candidate], region_code: str) -> AtIngest:
    """The watch-list entries of the batch's entering vehicles, and the alerts over its passes."""
    first = min((c.row["pass_time"] for c in candidates), default=None)
    last = max((c.row["pass_time"] for c in candidates), default=None)
    passes = (first, last + timedelta(microseconds=1)) if first is not None and last is not None else None
    return await emergency.at_ingest(session, region_code=region_code, passes=passes, plates=sorted(
        {(c.row["plate_no"], c.row["plate_color"]) for c in _entries(candidates)}))


async def _emergency_checks(session: AsyncSession, enterprise_id: int, candidates: list[Candidate],
                            region_code: str, found: AtIngest) -> tuple[dict[int, dict[str, str]], dict[str, int]]:
    """The entries of vehicles on the watch-list at their pass time, and how many stored movements break a
    heavy-pollution alert's rules (per rule, for the violations counter): no round trip when no alert covers
    the plant (the usual case).

    A listed vehicle's entry is warned, and stored all the same (evidence); the warning is only in the
    answer, not in the record's stored warnings: those are about the data's quality."""
    entries = _entries(candidates)
    stored = [c for c in candidates if c.status in (ACCEPTED, UPDATED)]
    first = min((c.row["pass_time"] for c in stored), default=None)
    last = max((c.row["pass_time"] for c in stored), default=None)
    warnings: dict[int, dict[str, str]] = {}
    for candidate in entries:
        for entry in found.listed:
            if ((entry.plate_no, entry.plate_color) == (candidate.row["plate_no"], candidate.row["plate_color"])
                    and entry.listed_at <= candidate.row["pass_time"]
                    and (entry.released_at is None or candidate.row["pass_time"] < entry.released_at)):
                warnings[candidate.index] = issue(
                    "plateNo", "watchlisted", f"{entry.plate_no} is on the over-limit watch-list (超标车辆, reason "
                                              f"{entry.reason}) since {entry.listed_at.isoformat()}; the record is "
                                              f"stored")
    violations: dict[str, int] = {}
    if first is not None and last is not None and found.alert_ids:
        violations = await findings.alert_rules_broken(
            session, alert_ids=found.alert_ids, enterprise_id=enterprise_id, region_code=region_code,
            record_ids=[c.key for c in stored], first=first, last=last)
    entries_listed = sum(1 for c in stored if c.index in warnings)
    if entries_listed:
        violations["watchlisted_vehicle"] = entries_listed
    return warnings, violations


def _named_months(candidates: list[Candidate], months: list[date]) -> dict[str, date]:
    """The month of the latest record naming each photo (`months`: each candidate's). A movement names its photos
    in its pass's month; a ledger entry, kept whole and not by month, in the month it arrives. Either naming is
    written to the photo's row under its lock, which a retention purge removing that photo meanwhile holds too."""
    named: dict[str, date] = {}
    for candidate, month in zip(candidates, months, strict=True):
        for _, sha256 in candidate.photo_refs:
            named[sha256] = max(month, named.get(sha256, month))
    return named


def _changed_days(day_column: str, enterprise_id: int, candidates: list[Candidate]) -> set[tuple[int, date]]:
    """The days whose figures a batch changed, and the day before each: its entries pair with exits here."""
    days: set[date] = set()
    for candidate in candidates:
        if candidate.status in (ACCEPTED, UPDATED):
            days.add(candidate.row[day_column])
            if candidate.previous_day is not None:
                days.add(candidate.previous_day)
    return _with_eves(enterprise_id, days)


def _with_eves(enterprise_id: int, days: Iterable[date]) -> set[tuple[int, date]]:
    return {(enterprise_id, day) for d in days for day in (d, d - timedelta(days=1))}


def _result(kind: RecordKind, candidate: Candidate, missing: set[str]) -> dict[str, Any]:
    # The receipt: what the bureau holds under this key, which the gateway can recompute and keep.
    result: dict[str, Any] = {"index": candidate.index, kind.key_field: candidate.key,
                              "status": candidate.status, "version": candidate.version,
                              "contentHash": receipt(candidate.row["content_hash"])}
    if candidate.status == DUPLICATE:
        return result
    if kind.reports_late:
        result["late"] = candidate.row["late"]
    pending = [issue(item, "photo_pending", f"photo {sha[:12]}… has not been received yet; "
                                            f"PUT /api/v1/photos/{sha}")
               for item, sha in candidate.photo_refs if sha in missing] if missing else []
    result["warnings"] = candidate.warnings + pending
    return result


async def _store(session: AsyncSession, kind: RecordKind, enterprise_id: int, candidates: list[Candidate],
                 ctx: RuleContext, now: datetime, mark_days: bool) -> bool:
    """Apply the batch in rounds: round n holds the n-th distinct version of each key. Returns whether its insert
    marked its days dirty (`mark_days`): only a batch of one round marks them there, as nothing it locks after
    its insert could then make another batch wait while holding a day this one needs."""
    chains: dict[str, list[Candidate]] = {}
    repeats: list[tuple[Candidate, Candidate]] = []
    for candidate in candidates:
        chain = chains.setdefault(candidate.key, [])
        if chain and chain[-1].row["content_hash"] == candidate.row["content_hash"]:
            repeats.append((candidate, chain[-1]))
        else:
            chain.append(candidate)
    mark_days = mark_days and all(len(chain) == 1 for chain in chains.values())
    marked = False
    depth = 0
    while True:
        round_ = sorted((chain[depth] for chain in chains.values() if len(chain) > depth), key=lambda c: c.key)
        if not round_:
            break
        marked |= await _store_round(session, kind, enterprise_id, round_, ctx, now, mark_days)
        depth += 1
    for repeat, original in repeats:
        repeat.status, repeat.version = DUPLICATE, original.version
    return marked


async def _store_round(session: AsyncSession, kind: RecordKind, enterprise_id: int, round_: list[Candidate],
                       ctx: RuleContext, now: datetime, mark_days: bool) -> bool:
    for candidate in round_:
        kind.derive(candidate.row, now, ctx)
    # Marked by the insert only if every record of the round is new: none is locked after it then.
    days = _with_eves(enterprise_id, (c.row[kind.day_column] for c in round_)) \
        if mark_days and kind.day_column else set()
    marked = False
    pending, existing, current = round_, [], {}
    # A key stored when we inserted may be gone when we lock it (the retention purge): then it is new again.
    while pending:
        inserted, days_marked = await repository.insert_new(session, kind, enterprise_id=enterprise_id,
                                                            rows=[c.row for c in pending], now=now, days=days)
        marked = marked or days_marked
        days = set()  # the keys found stored are locked next: a retry marks nothing, its days wait for the end
        for candidate in pending:
            if candidate.key in inserted:
                candidate.status, candidate.version = ACCEPTED, 1
        stored_before = [c for c in pending if c.key not in inserted]
        if not stored_before:
            break
        current.update(await repository.lock_current(session, kind, enterprise_id=enterprise_id,
                                                     keys=[c.key for c in stored_before]))
        existing += [c for c in stored_before if c.key in current]
        pending = [c for c in stored_before if c.key not in current]
    changed: list[tuple[CurrentRow, Candidate]] = []
    for candidate in existing:
        stored = current[candidate.key]
        if stored.content_hash == candidate.row["content_hash"]:
            candidate.status, candidate.version = DUPLICATE, stored.version
        else:
            kind.derive(candidate.row, stored.first_received_at, ctx)
            candidate.previous_day = stored.day
            changed.append((stored, candidate))
    if not changed:
        return marked
    rows = [(stored, candidate.row) for stored, candidate in changed]
    await repository.archive(session, kind, enterprise_id=enterprise_id, changed=rows)
    versions = await repository.replace_current(session, kind, enterprise_id=enterprise_id, changed=rows, now=now)
    for stored, candidate in changed:
        candidate.status, candidate.version = UPDATED, versions[stored.id]
    if kind.partitioned and kind.day_column:
        # Records a correction moved to a later month: the photos their earlier versions name go with them.
        moved = [(partitions.month_of(c.row[kind.day_column]), stored.day, c.key) for stored, c in changed]
        later = [(month, key) for month, old_day, key in moved
                 if old_day is not None and month > partitions.month_of(old_day)]
        if later:
            await photos_repository.name_by_versions(session, enterprise_id=enterprise_id,
                                                     record_ids=[key for _, key in later], month=max(later)[0])
    return marked


def records_of(body: Any, *, enterprise_code: str, max_records: int) -> list[Any]:
    """The records of a batch envelope, after checking that it belongs to the calling enterprise."""
    if not isinstance(body, dict):
        raise Unprocessable("the body must be a JSON object with enterpriseCode and records")
    code = body.get("enterpriseCode")
    if not isinstance(code, str) or not ENTERPRISE_CODE_RE.match(code):
        raise Unprocessable("enterpriseCode must be an 18-character unified social credit code",
                            code="invalid_enterprise_code", detail={"enterpriseCode": _echo(code)})
    if code != enterprise_code:
        raise Forbidden("this key belongs to another enterprise", code="enterprise_mismatch")
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise Unprocessable("records must be a non-empty list", code="invalid_envelope")
    if len(records) > max_records:
        raise PayloadTooLarge(f"a batch holds at most {max_records} records; got {len(records)}",
                              code="too_many_records")
    return records


def _echo(value: Any) -> Any:
    return value[:64] if isinstance(value, str) else value if isinstance(value, int | float | None) else "..."


def gateway_document(model: type[M], body: Any, *, enterprise_code: str, name: str) -> M:
    """A single document a gateway posts (heartbeat, manifest): valid, and about its own enterprise."""
    document = validate_record(model, body)
    if isinstance(document, list):
        raise Unprocessable(f"the {name} is invalid", code=f"invalid_{name}", detail=document)
    if getattr(document, "enterprise_code", None) != enterprise_code:
        raise Forbidden("this key belongs to another enterprise", code="enterprise_mismatch")
    return document
