"""The figures of statistics.md: upload completeness (§2) and clean transport (§1), per enterprise."""

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.config import SCHEMAS_DIR
from service.enterprises.models import Enterprise
from service.errors import NotFound, Unprocessable
from service.ingest.payloads import issue
from service.stats import repository

MAX_WINDOW_DAYS = 366
MISSING_CAP = 10_000
STANDARDS = ("0", "1", "2", "3", "4", "5", "6", "D", "X")


def ratio(numerator: float | int | Decimal, denominator: float | int | Decimal | None) -> dict[str, Any]:
    """A rate a person can check; its value is null, never 0 or 1, when there is no denominator."""
    value = None if not denominator else round(float(numerator) / float(denominator), 4)
    return {"value": value, "numerator": _number(numerator), "denominator": _number(denominator)}


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def check_window(start: date, end: date) -> None:
    if end < start:
        raise Unprocessable("`to` is before `from`", code="invalid_window")
    if (end - start).days >= MAX_WINDOW_DAYS:
        raise Unprocessable(f"a window spans at most {MAX_WINDOW_DAYS} days", code="invalid_window")


async def completeness(session: AsyncSession, *, enterprise: Enterprise, start: date, end: date,
                       timeliness_window_seconds: int) -> dict[str, Any]:
    assert enterprise.id is not None
    check_window(start, end)
    figures = await completeness_by_enterprise(session, enterprise_ids=[enterprise.id], start=start, end=end)
    days = figures[enterprise.id]
    return {"enterpriseCode": enterprise.code, "from": start.isoformat(), "to": end.isoformat(),
            "timelinessWindowSeconds": timeliness_window_seconds,
            "days": [{"date": day.isoformat(), **_figures(days.get(day))} for day in _each_day(start, end)],
            "total": _figures(_sum_days(days.values()))}


async def completeness_by_enterprise(session: AsyncSession, *, enterprise_ids: list[int], start: date,
                                     end: date) -> dict[int, dict[date, dict[str, Any]]]:
    """Per enterprise and day: the counts behind every §2 figure (after recounting changed days)."""
    # Day D's pairing looks at D + 1, so D + 1 is kept current too.
    await repository.refresh(session, enterprise_ids=enterprise_ids, start=start, end=end + timedelta(days=1))
    barriers: dict[tuple[int, date], dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
    for row in await repository.barrier_days(session, enterprise_ids=enterprise_ids, start=start, end=end):
        e, day, gate, barrier, records, complete, late, reupload, entries, paired, seq_min, seq_max = row
        barriers[(e, day)][(gate, barrier)] = {
            "received": records, "complete": complete, "late": late, "reupload": reupload,
            "entries": entries or 0, "paired": paired, "seq": None if seq_min is None else seq_max - seq_min + 1}
    declared: dict[tuple[int, date], dict[tuple[str, str], int]] = defaultdict(dict)
    for e, day, gate, barrier, count in await repository.manifests(session, enterprise_ids=enterprise_ids,
                                                                      start=start, end=end):
        declared[(e, day)][(gate, barrier)] = count
    out: dict[int, dict[date, dict[str, Any]]] = {e: {} for e in enterprise_ids}
    for e, day in set(barriers) | set(declared):
        out[e][day] = _day_counts(barriers.get((e, day), {}), declared.get((e, day), {}))
    return out


def _day_counts(barriers: dict[tuple[str, str], dict[str, Any]],
                declared: dict[tuple[str, str], int]) -> dict[str, Any]:
    counts = {name: sum(b[name] for b in barriers.values())
              for name in ("received", "complete", "late", "reupload", "entries", "paired")}
    known = bool(declared) or any(b["seq"] is not None for b in barriers.values())
    expected = None
    if known:
        # Per barrier the largest of what the manifest declares, what seq implies, and what arrived.
        expected = sum(max(declared.get(key, 0), (barriers.get(key) or {}).get("seq") or 0,
                           (barriers.get(key) or {}).get("received", 0))
                       for key in set(barriers) | set(declared))
    counts["expected"] = expected
    return counts


def _sum_days(days: Any) -> dict[str, Any]:
    total: dict[str, Any] = defaultdict(int)
    known_received = 0
    known_expected = 0
    any_known = False
    for counts in days:
        for name in ("received", "complete", "late", "reupload", "entries", "paired"):
            total[name] += counts[name]
        if counts["expected"] is not None:
            any_known = True
            known_expected += counts["expected"]
            known_received += counts["received"]
    total["expected"] = known_expected if any_known else None
    total["received_with_expected"] = known_received
    return total


def _figures(counts: dict[str, Any] | None) -> dict[str, Any]:
    c = counts or {"received": 0, "complete": 0, "late": 0, "reupload": 0, "entries": 0, "paired": 0,
                   "expected": None}
    received = c["received"]
    upload_rate = ratio(c.get("received_with_expected", received), c["expected"])
    completeness_rate = ratio(c["complete"], received)
    meets = None
    if upload_rate["value"] is not None and completeness_rate["value"] is not None:
        meets = upload_rate["value"] >= 0.95 and completeness_rate["value"] >= 0.95
    # Passes not uploaded (yet): the ids and seq gaps behind this count are at .../missing?date=.
    missing = None if c["expected"] is None else c["expected"] - c.get("received_with_expected", received)
    return {"received": received, "expected": c["expected"], "missing": missing, "uploadRate": upload_rate,
            "fieldCompletenessRate": completeness_rate, "timelinessRate": ratio(received - c["late"], received),
            "pairingRate": ratio(c["paired"], c["entries"]), "late": c["late"], "reupload": c["reupload"],
            "meetsTarget": meets}


def _each_day(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


# ---- §1 clean transport -------------------------------------------------------------------------

@cache
def policies() -> dict[str, dict[str, Any]]:
    """The policy data files under schemas/policies/, by id."""
    loaded = {}
    for path in sorted((SCHEMAS_DIR / "policies").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        loaded[document["id"]] = document
    return loaded


async def clean_transport(session: AsyncSession, *, enterprise: Enterprise, start: date, end: date,
                          policy_id: str) -> dict[str, Any]:
    assert enterprise.id is not None
    check_window(start, end)
    policy = policies().get(policy_id)
    if policy is None:
        raise NotFound(f"no policy {policy_id}; known: {', '.join(policies())}", code="unknown_policy")
    await repository.refresh(session, enterprise_ids=[enterprise.id], start=start, end=end)
    mix = await repository.trip_mix(session, enterprise_ids=[enterprise.id], start=start, end=end)
    volumes = await repository.volumes(session, enterprise_ids=[enterprise.id], start=start, end=end)
    inplant = await repository.ledger_mix(session, table="inplant_vehicle", enterprise_id=enterprise.id)
    nonroad = await repository.ledger_mix(session, table="nonroad_machinery", enterprise_id=enterprise.id)
    figures = clean_transport_figures(mix=[row[1:] for row in mix], volumes=[row[1:] for row in volumes],
                                      inplant=inplant, nonroad=nonroad)
    figures["nonroad"].update(nonroad_age_figures(
        await repository.nonroad_ages(session, enterprise_id=enterprise.id), end=end,
        new_since=date.fromisoformat(policy["validFrom"])))
    requirements = [evaluate(requirement, figures, end) for requirement in policy["requirements"]
                    if applies(requirement, end)]
    return {"enterpriseCode": enterprise.code, "from": start.isoformat(), "to": end.isoformat(), **figures,
            "policy": {k: policy[k] for k in ("id", "version", "title", "source", "validFrom")},
            "requirements": requirements, "pass": all(r["pass"] for r in requirements)}


def clean_transport_figures(*, mix: list[Any], volumes: list[Any], inplant: dict[str, int],
                            nonroad: dict[str, int]) -> dict[str, Any]:
    """§1 from trip counts by (direction, stage, heavy), clean-mode tonnes by mode, and ledger stages."""
    by_standard = dict.fromkeys(STANDARDS, 0)
    heavy_by_standard = dict.fromkeys(STANDARDS, 0)
    tonnes_by_standard: dict[str, Decimal] = dict.fromkeys(STANDARDS, Decimal(0))
    trips_by_direction = {"1": 0, "2": 0}
    for direction, standard, heavy, trips, tonnes in mix:
        by_standard[standard] += trips
        tonnes_by_standard[standard] += tonnes
        trips_by_direction[direction] += trips
        if heavy:
            heavy_by_standard[standard] += trips
    heavy = sum(heavy_by_standard.values())
    road = sum(tonnes_by_standard.values(), Decimal(0))
    road_nev = tonnes_by_standard["D"]
    clean_by_mode = {mode: tonnes for mode, tonnes in volumes}
    clean = sum(clean_by_mode.values(), Decimal(0))

    def share(counts: dict[str, int], codes: str) -> dict[str, Any]:
        total = sum(counts.values())
        return ratio(sum(counts.get(code, 0) for code in codes), total)

    return {
        "trips": sum(by_standard.values()), "tripsIn": trips_by_direction["1"], "tripsOut": trips_by_direction["2"],
        "byEmissionStandard": by_standard, "heavyTrips": heavy, "heavyByEmissionStandard": heavy_by_standard,
        "heavyNevTrips": heavy_by_standard["D"],
        "heavyNevTripShare": share(heavy_by_standard, "D"),
        "heavyChinaVIOrNevShare": share(heavy_by_standard, "6D"),
        "heavyChinaVOrBetterShare": share(heavy_by_standard, "56D"),
        "roadTonnes": float(road), "roadNevTonnes": float(road_nev),
        "roadTonnesByEmissionStandard": {k: float(v) for k, v in tonnes_by_standard.items()},
        "cleanModeTonnes": float(clean), "cleanModeTonnesByMode": {k: float(v) for k, v in clean_by_mode.items()},
        "cleanTransportRatio": ratio(clean, clean + road),
        "cleanTransportRatioWithNev": ratio(clean + road_nev, clean + road),
        "inplant": {"total": sum(inplant.values()), "byEmissionStandard": inplant,
                    "nevShare": share(inplant, "D"), "chinaVIOrNevShare": share(inplant, "6D")},
        "nonroad": {"total": sum(nonroad.values()), "byEmissionStandard": nonroad,
                    "nevShare": share(nonroad, "D"), "stage4OrNevShare": share(nonroad, "456D"),
                    "stage3OrBetterShare": share(nonroad, "3456D")},
    }


AGED_YEARS = 6


def nonroad_age_figures(machines: list[tuple[str, date | None, int]], *, end: date,
                        new_since: date) -> dict[str, Any]:
    """Figures on machinery by age, for grading rules such as Tianjin's A level: machines new or replaced
    since the policy took effect (produced on or after its valid-from date) must be 国四 or new energy,
    and 国三-or-older machines six or more years old at the window's end must be out of service."""
    try:
        aged_before = end.replace(year=end.year - AGED_YEARS)
    except ValueError:  # 29 February
        aged_before = end.replace(year=end.year - AGED_YEARS, day=28)
    new: dict[str, int] = defaultdict(int)
    aged = unknown_age = 0
    for stage, produced, count in machines:
        if produced is not None and produced >= new_since:
            new[stage] += count
        if stage in "0123":
            if produced is None:
                unknown_age += count
            elif produced <= aged_before:
                aged += count
    return {"newSince": new_since.isoformat(), "newTotal": sum(new.values()),
            "newStage4OrNevShare": ratio(sum(new[s] for s in "456D"), sum(new.values())),
            "agedStage3OrOlder": aged, "agedBefore": aged_before.isoformat(), "stage3OrOlderAgeUnknown": unknown_age}


def applies(requirement: dict[str, Any], end: date) -> bool:
    """A requirement in force on the window's last day (the policies phase some rules in on a date)."""
    if "appliesFrom" in requirement and end < date.fromisoformat(requirement["appliesFrom"]):
        return False
    return not ("appliesUntil" in requirement and end > date.fromisoformat(requirement["appliesUntil"]))


def evaluate(requirement: dict[str, Any], figures: dict[str, Any], end: date) -> dict[str, Any]:
    if "anyOf" in requirement:
        options = [evaluate(option, figures, end) for option in requirement["anyOf"] if applies(option, end)]
        return {"id": requirement["id"], "description": requirement["description"], "anyOf": options,
                "pass": any(option["pass"] for option in options)}
    value: Any = figures
    for part in requirement["figure"].split("."):
        value = value[part]
    if isinstance(value, dict):
        value = value["value"]
    if value is None:
        # No denominator: nothing to judge. Ledger rules pass (no vehicle breaks them); ratios fail.
        passed = requirement.get("whenUnknown") == "pass"
    else:
        passed = _compare(value, requirement["comparison"], requirement["threshold"])
    return {"id": requirement["id"], "description": requirement["description"], "figure": requirement["figure"],
            "value": value, "comparison": requirement["comparison"], "threshold": requirement["threshold"],
            "pass": passed}


def _compare(value: float, comparison: str, threshold: float) -> bool:
    if comparison == ">=":
        return value >= threshold
    if comparison == "<=":
        return value <= threshold
    if comparison == "==":
        return value == threshold
    raise ValueError(f"unknown comparison {comparison}")


# ---- manifests and the 补传 list ----------------------------------------------------------------

async def save_manifest(session: AsyncSession, *, enterprise: Enterprise, day: date,
                        barriers: list[tuple[str, str, int, list[str]]], now: datetime) -> dict[str, Any]:
    assert enterprise.id is not None
    seen: set[tuple[str, str]] = set()
    repeated = []
    for index, (gate, barrier, _, _) in enumerate(barriers):
        if (gate, barrier) in seen:
            repeated.append(issue(f"barriers.{index}", "duplicate_barrier",
                                  f"names gate/barrier {gate}/{barrier} again; each barrier once per manifest"))
        seen.add((gate, barrier))
    if repeated:
        raise Unprocessable("the manifest names a barrier more than once", code="duplicate_barrier",
                            detail=repeated)
    await repository.save_manifest(session, enterprise_id=enterprise.id, day=day, barriers=barriers, now=now)
    return await missing(session, enterprise=enterprise, day=day)


async def missing(session: AsyncSession, *, enterprise: Enterprise, day: date) -> dict[str, Any]:
    """The day's received/expected and what to upload again: manifest ids not stored, and seq gaps."""
    assert enterprise.id is not None
    counts = (await completeness_by_enterprise(session, enterprise_ids=[enterprise.id], start=day, end=day))[
        enterprise.id].get(day)
    ids = await repository.missing_record_ids(session, enterprise_id=enterprise.id, day=day, cap=MISSING_CAP)
    gaps = await repository.seq_gaps(session, enterprise_id=enterprise.id, day=day, cap=MISSING_CAP)
    figures = _figures(counts)
    return {"enterpriseCode": enterprise.code, "date": day.isoformat(), "received": figures["received"],
            "expected": figures["expected"], "uploadRate": figures["uploadRate"],
            "missingRecordIds": [{"gateNo": g, "barrierNo": b, "recordId": r} for g, b, r in ids],
            "seqGaps": [{"gateNo": g, "barrierNo": b, "from": first, "to": last} for g, b, first, last in gaps]}
