"""Findings during heavy-pollution alerts, computed from the current records every time they are asked
for, so a backfilled or corrected movement restates them at once.

The rule tables are data; for the alerts in question they become a small ban table (alert, the
region a rule table applies to, grade) -> what is banned, and one SQL pass judges every heavy
movement in scope against it: no per-movement Python, and indexes on (enterprise, pass time) bound
the work to the alerts' windows.
"""

import base64
import binascii
import math
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

import orjson
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run_sql
from service.emergency import repository
from service.emergency.models import Alert
from service.emergency.rules import GRADES, ban_for, rule_set_for, rule_sets
from service.enterprises.models import Enterprise
from service.errors import Unprocessable
from service.ingest.payloads import BEIJING
from service.params import MAX_BIGINT
from service.stats import repository as stats
from service.stats.service import ratio

# Cost is per in-scope movement, so everything that does not vary per movement is resolved before:
# which rule table applies to each plant under each alert (plant_alert), each plant's grade periods
# (grades), and the ban of (alert, grade, rule table) is then a hash join; an exemption is looked up
# only for heavy movements.
_JUDGED = """
    WITH bans AS (
        SELECT * FROM json_to_recordset(CAST(:bans AS json)) AS b(
            alert_id int, rules_prefix text, grade text, all_road boolean, max_stage text, max_gas_stage text,
            gas_fuels text[], exempt_uses text[])
    ), plant_alert AS (
        SELECT e.id AS plant_id, e.code AS enterprise_code, e.region_code, a.id AS alert_id, a.level, a.measure,
               a.starts_at, a.ends_at,
               (SELECT b.rules_prefix FROM bans AS b
                WHERE b.alert_id = a.id AND starts_with(e.region_code, b.rules_prefix)
                ORDER BY length(b.rules_prefix) DESC LIMIT 1) AS rules_prefix
        FROM emergency_alert AS a JOIN enterprise AS e ON starts_with(e.region_code, a.region_code)
        WHERE a.id = ANY(CAST(:alert_ids AS int[])) AND starts_with(e.region_code, :jurisdiction)
          AND starts_with(e.region_code, :region) AND (CAST(:enterprise_id AS int) IS NULL OR e.id = :enterprise_id)
    ), grades AS (
        SELECT enterprise_id, grade, valid_from,
               lead(valid_from) OVER (PARTITION BY enterprise_id ORDER BY valid_from, id) AS valid_to
        FROM enterprise_grade WHERE enterprise_id IN (SELECT plant_id FROM plant_alert)
    ), scoped AS (
        SELECT m.id AS movement_id, m.record_id, m.plate_no, m.plate_color, m.pass_time, m.direction,
               m.vehicle_type, m.fuel_type, coalesce(m.emission_standard, 'X') AS stage, m.use_nature, m.late,
               m.reupload, pa.plant_id, pa.enterprise_code, pa.region_code, pa.alert_id, pa.level, pa.measure,
               pa.rules_prefix, coalesce(g.grade, 'none') AS grade,
               CASE WHEN m.vehicle_type IS NOT NULL THEN m.vehicle_type ~ '^[HQ]1'
                    ELSE coalesce(m.goods_amount > 0, false) END AS heavy
        FROM plant_alert AS pa
        JOIN movement AS m ON m.enterprise_id = pa.plant_id AND m.pass_time >= pa.starts_at
             AND (pa.ends_at IS NULL OR m.pass_time < pa.ends_at) AND m.pass_date BETWEEN :first_day AND :last_day
             AND (CAST(:record_ids AS text[]) IS NULL OR m.record_id = ANY(CAST(:record_ids AS text[])))
        LEFT JOIN grades AS g ON g.enterprise_id = pa.plant_id AND g.valid_from <= m.pass_date
             AND (g.valid_to IS NULL OR m.pass_date < g.valid_to)
    ), weighed AS (
        SELECT s.*, b.grade IS NOT NULL AS banned, b.all_road, b.max_stage, b.max_gas_stage, b.gas_fuels,
               CASE WHEN s.heavy THEN coalesce(s.use_nature = ANY(b.exempt_uses), false) OR EXISTS (
                   SELECT 1 FROM emergency_exemption AS x
                   WHERE x.enterprise_id = s.plant_id AND x.plate_no = s.plate_no AND x.plate_color = s.plate_color
                     AND x.valid_from <= s.pass_time AND s.pass_time < x.valid_to)
                    ELSE false END AS exempt
        FROM scoped AS s
        LEFT JOIN bans AS b ON b.alert_id = s.alert_id AND b.grade = s.grade AND b.rules_prefix = s.rules_prefix
    ), judged AS (
        SELECT w.*,
               CASE WHEN NOT w.heavy OR NOT w.banned OR w.exempt THEN NULL
                    WHEN w.all_road THEN 'road_transport_stopped'
                    WHEN w.stage = 'X' THEN 'stage_unknown_during_alert'
                    WHEN w.stage = 'D' THEN NULL
                    WHEN w.fuel_type = ANY(w.gas_fuels) THEN
                        CASE WHEN w.stage <= w.max_gas_stage THEN 'stage_banned_during_alert' END
                    WHEN w.stage <= w.max_stage THEN 'stage_banned_during_alert'
               END AS rule
        FROM weighed AS w
    )
"""
# Watch-list findings need no alert: an entry of a listed vehicle is a violation whatever the grade,
# an exit is information; when an alert covers the pass, the finding names it.
_FINDINGS = _JUDGED + """
    , listed AS (
        SELECT m.id AS movement_id, m.record_id, m.plate_no, m.plate_color, m.pass_time, m.direction,
               m.vehicle_type, m.fuel_type, coalesce(m.emission_standard, 'X') AS stage, m.late, m.reupload,
               e.code AS enterprise_code, w.reason, a.id AS alert_id, a.level, a.measure
        FROM watchlist_entry AS w
        JOIN movement AS m ON m.plate_no = w.plate_no AND m.plate_color = w.plate_color
             AND m.pass_time >= w.listed_at AND (w.released_at IS NULL OR m.pass_time < w.released_at)
             AND m.pass_date BETWEEN :first_day AND :last_day
        JOIN enterprise AS e ON e.id = m.enterprise_id AND starts_with(e.region_code, w.region_prefix)
        LEFT JOIN LATERAL (
            SELECT id, level, measure FROM emergency_alert AS a
            WHERE a.id = ANY(CAST(:alert_ids AS int[])) AND starts_with(e.region_code, a.region_code)
              AND m.pass_time >= a.starts_at AND (a.ends_at IS NULL OR m.pass_time < a.ends_at)
            ORDER BY a.starts_at DESC, a.id DESC LIMIT 1) AS a ON true
        WHERE starts_with(e.region_code, :jurisdiction) AND starts_with(e.region_code, :region)
          AND (CAST(:enterprise_id AS int) IS NULL OR e.id = :enterprise_id)
          AND (CAST(:only_alert AS int) IS NULL OR a.id = :only_alert)
          AND (CAST(:record_ids AS text[]) IS NULL OR m.record_id = ANY(CAST(:record_ids AS text[])))
    ), findings AS (
        SELECT movement_id, record_id, plate_no, plate_color, pass_time, direction, vehicle_type, fuel_type, stage,
               late, reupload, enterprise_code, alert_id, level, measure, grade, rule, 'violation' AS severity,
               NULL AS reason
        FROM judged WHERE rule IS NOT NULL
        UNION ALL
        SELECT movement_id, record_id, plate_no, plate_color, pass_time, direction, vehicle_type, fuel_type, stage,
               late, reupload, enterprise_code, alert_id, level, measure, NULL,
               CASE WHEN direction = '1' THEN 'watchlisted_vehicle' ELSE 'watchlisted_vehicle_exit' END,
               CASE WHEN direction = '1' THEN 'violation' ELSE 'info' END, reason
        FROM listed
    )
"""
# The page and the summary in one statement, so the movements in scope are judged once (the CTEs
# they share are materialised); rows come back as JSON, tagged with the part they belong to.
_PAGE_AND_SUMMARY = text(_FINDINGS + """
    , page AS (
        SELECT row_number() OVER (ORDER BY pass_time, movement_id, coalesce(alert_id, 0), rule) AS n, *
        FROM findings
        WHERE CAST(:after_time AS timestamptz) IS NULL
           OR (pass_time, movement_id, coalesce(alert_id, 0), rule)
              > (CAST(:after_time AS timestamptz), :after_id, :after_alert, CAST(:after_rule AS text))
        ORDER BY pass_time, movement_id, coalesce(alert_id, 0), rule
        LIMIT :limit
    ), scope AS (
        SELECT enterprise_code, alert_id, min(plant_id) AS plant_id, min(region_code) AS region_code,
               min(level) AS level, max(grade) AS grade, count(*)::int AS in_scope,
               (count(*) FILTER (WHERE heavy))::int AS heavy_in_scope,
               (count(*) FILTER (WHERE exempt))::int AS exempt
        FROM judged GROUP BY enterprise_code, alert_id
    ), broken AS (
        -- Movements with any violation (a listed vehicle's entry during an alert among them); listed
        -- vehicles' entries outside any alert get a row of their own.
        SELECT enterprise_code, alert_id, count(DISTINCT movement_id)::int AS violations FROM findings
        WHERE severity = 'violation' GROUP BY enterprise_code, alert_id
    ), summary AS (
        SELECT coalesce(s.enterprise_code, b.enterprise_code) AS enterprise_code,
               coalesce(s.alert_id, b.alert_id) AS alert_id, s.plant_id, s.region_code, s.level, s.grade,
               s.in_scope, s.heavy_in_scope, s.exempt, coalesce(b.violations, 0) AS violations
        FROM scope AS s FULL JOIN broken AS b ON b.enterprise_code = s.enterprise_code AND b.alert_id = s.alert_id
    )
    SELECT 'item' AS part, to_jsonb(page) AS row FROM page
    UNION ALL
    SELECT 'summary', to_jsonb(summary) FROM summary
""")


_BY_MOVEMENT = text(_FINDINGS + """
    SELECT movement_id, enterprise_code, string_agg(DISTINCT rule, ',' ORDER BY rule) AS rules
    FROM findings WHERE severity = 'violation' GROUP BY movement_id, enterprise_code
""")

# How a spreadsheet names each rule.
RULE_LABELS = {"stage_banned_during_alert": "应急期间禁用排放阶段车辆",
               "stage_unknown_during_alert": "应急期间排放阶段不明",
               "road_transport_stopped": "应急期间停止公路运输",
               "watchlisted_vehicle": "超标车辆进厂"}


def _params(alerts: Sequence[Alert], *, jurisdiction: str, region: str, first_day: date, last_day: date,
            enterprise_id: int | None = None, only_alert: int | None = None,
            record_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """What the findings query takes: the alerts with their ban table, and the filters (None: all)."""
    return {"bans": orjson.dumps(ban_table(alerts)).decode(), "alert_ids": [a.id for a in alerts],
            "only_alert": only_alert, "jurisdiction": jurisdiction, "region": region, "enterprise_id": enterprise_id,
            "first_day": first_day, "last_day": last_day,
            "record_ids": list(record_ids) if record_ids is not None else None}


def ban_table(alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    """For each alert, each rule table in force at its start, each region that table names and each grade:
    what is banned. Grades that ban nothing have no row."""
    rows = []
    for alert in alerts:
        day = alert.starts_at.astimezone(BEIJING).date()
        for rules in rule_sets():
            if date.fromisoformat(rules["validFrom"]) > day:
                continue
            for prefix in rules.get("regions") or [""]:
                for grade in GRADES:
                    ban = ban_for(rules, grade=grade, measure=alert.measure)
                    if ban is None:
                        continue
                    rows.append({"alert_id": alert.id, "rules_prefix": prefix, "grade": grade,
                                 "all_road": ban.all_road, "max_stage": ban.max_stage,
                                 "max_gas_stage": ban.max_gas_stage, "gas_fuels": rules["gasFuels"],
                                 "exempt_uses": rules["exemptUseNatures"]})
    return rows


def encode_cursor(row: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([row["pass_time"], row["movement_id"], row["alert_id"] or 0,
                                                  row["rule"]])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int, int, str]:
    try:
        moment, movement_id, alert_id, rule = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = datetime.fromisoformat(moment)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        after = None
    if (after is None or after.tzinfo is None or not 1900 <= after.year <= 2999 or type(rule) is not str
            or not rule.isidentifier() or type(movement_id) is not int or type(alert_id) is not int
            or not 0 < movement_id <= MAX_BIGINT or not 0 <= alert_id <= MAX_BIGINT):
        raise Unprocessable("cursor is not one this service gave out", code="invalid_cursor")
    return after, movement_id, alert_id, rule


async def violations(session: AsyncSession, *, alerts: Sequence[Alert], only_alert: int | None, jurisdiction: str,
                     region: str, enterprise_id: int | None, first_day: date, last_day: date, cursor: str | None,
                     limit: int, today: date) -> dict[str, Any]:
    """Findings and a summary per enterprise and alert. Movement findings come oldest first in keyset
    pages; the day findings of the entry cap (few: a plant and a day each) come on the first page."""
    after = decode_cursor(cursor) if cursor else (None, 0, 0, "")
    params = _params(alerts, jurisdiction=jurisdiction, region=region, first_day=first_day, last_day=last_day,
                     enterprise_id=enterprise_id, only_alert=only_alert)
    rows = (await run_sql(session, _PAGE_AND_SUMMARY, {**params, "after_time": after[0], "after_id": after[1],
                                                        "after_alert": after[2], "after_rule": after[3],
                                                        "limit": limit + 1})).all()
    items = sorted((row[1] for row in rows if row[0] == "item"), key=lambda item: item["n"])
    page = items[:limit]
    summary = sorted((row[1] for row in rows if row[0] == "summary"),
                     key=lambda s: (s["enterprise_code"], s["alert_id"] is not None, s["alert_id"] or 0))
    plants = sorted({(s["enterprise_code"], s["plant_id"], s["region_code"]) for s in summary
                     if s["alert_id"] is not None and s["plant_id"] is not None})
    capped = await cap_findings(session, alerts=[a for a in alerts if only_alert is None or a.id == only_alert],
                                plants=plants, today=today, first_day=first_day, last_day=last_day)
    exceeded = Counter((f["enterpriseCode"], f["alertId"]) for f in capped)
    movement_items = [
        {"rule": row["rule"], "severity": row["severity"], "enterpriseCode": row["enterprise_code"],
         "movementId": row["movement_id"], "recordId": row["record_id"], "plateNo": row["plate_no"],
         "plateColor": row["plate_color"],
         "passTime": datetime.fromisoformat(row["pass_time"]).astimezone(BEIJING).isoformat(),
         "direction": row["direction"], "vehicleType": row["vehicle_type"], "fuelType": row["fuel_type"],
         "emissionStandard": row["stage"], "alertId": row["alert_id"], "level": row["level"],
         "measure": row["measure"], "grade": row["grade"], "reason": row["reason"], "late": row["late"],
         "reupload": row["reupload"]} for row in page]
    return {
        "items": (capped if cursor is None else []) + movement_items,
        "nextCursor": encode_cursor(page[-1]) if len(items) > limit else None,
        "summary": [{"enterpriseCode": s["enterprise_code"], "alertId": s["alert_id"], "grade": s["grade"],
                     "level": s["level"], "inScope": s["in_scope"] or 0, "heavyInScope": s["heavy_in_scope"] or 0,
                     "exempt": s["exempt"] or 0, "violations": s["violations"],
                     "violationShare": ratio(s["violations"], s["heavy_in_scope"]),
                     "capExceededDays": exceeded.get((s["enterprise_code"], s["alert_id"]), 0)} for s in summary],
    }


BASELINE_SEARCH_DAYS = 60


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=BEIJING)
    return start, start + timedelta(days=1)


def _alert_days(alert: Alert, today: date) -> tuple[date, date, date]:
    """(first alert day, last alert day so far, the first day searched for normal days)."""
    first = alert.starts_at.astimezone(BEIJING).date()
    last = min(today, ((alert.ends_at - timedelta(microseconds=1)).astimezone(BEIJING).date()
                       if alert.ends_at is not None else today))
    return first, max(first, last), first - timedelta(days=BASELINE_SEARCH_DAYS)


def entry_cap(alert: Alert, *, today: date, region_code: str, entries: dict[date, int], covering: Sequence[Alert],
              baseline_days: int) -> dict[str, Any]:
    """The plant's normal days, its baseline, and each alert day's heavy entries, cap and excess.

    Normal days: the `baseline_days` full Beijing days before the alert's start on which no alert covered
    the plant (`covering`: alerts over any region; those not covering `region_code` are skipped). A day
    wholly inside the alert gets cap = ceil(ratio x baseline mean) when the alert caps entries, and
    excess = max(0, entries - cap)."""
    first_alert_day, last_alert_day, search_start = _alert_days(alert, today)
    covering = [a for a in covering if region_code.startswith(a.region_code)]
    normal: list[date] = []
    day = first_alert_day - timedelta(days=1)
    while len(normal) < baseline_days and day >= search_start:
        lower, upper = _day_bounds(day)
        if not any(a.starts_at < upper and (a.ends_at is None or a.ends_at > lower) for a in covering):
            normal.append(day)
        day -= timedelta(days=1)
    normal.reverse()
    baseline_total = sum(entries.get(d, 0) for d in normal)
    # Exact arithmetic: 0.1 x 30 entries is a cap of 3, not ceil(3.0000000000000004) = 4.
    exact_cap = (Fraction(str(alert.max_heavy_entry_ratio)) * Fraction(baseline_total, len(normal))
                 if alert.max_heavy_entry_ratio is not None and normal else None)
    alert_days: list[dict[str, Any]] = []
    day = first_alert_day
    while day <= last_alert_day:
        lower, upper = _day_bounds(day)
        whole = alert.starts_at <= lower and (alert.ends_at is None or alert.ends_at >= upper)
        cap = math.ceil(exact_cap) if whole and exact_cap is not None else None
        heavy = entries.get(day, 0)
        alert_days.append({"date": day.isoformat(), "heavyEntries": heavy, "wholeDay": whole, "cap": cap,
                           "excess": max(0, heavy - cap) if cap is not None else None})
        day += timedelta(days=1)
    return {"normal": normal, "baselineTotal": baseline_total, "alertDays": alert_days}


async def comparison(session: AsyncSession, *, enterprise: Enterprise, alert: Alert, today: date,
                     baseline_days: int) -> dict[str, Any]:
    """核查: heavy entries on the alert's days against the plant's normal days before it, and the entry cap."""
    assert enterprise.id is not None
    first_alert_day, last_alert_day, search_start = _alert_days(alert, today)
    entries = (await stats.heavy_entries_by_enterprise_day(session, enterprise_ids=[enterprise.id],
                                                           start=search_start, end=last_alert_day)
               ).get(enterprise.id, {})
    covering = await repository.alerts_over(session, region_code=enterprise.region_code,
                                            start=_day_bounds(search_start)[0], end=_day_bounds(first_alert_day)[0])
    cap = entry_cap(alert, today=today, region_code=enterprise.region_code, entries=entries, covering=covering,
                    baseline_days=baseline_days)
    normal, alert_days = cap["normal"], cap["alertDays"]
    baseline_mean = cap["baselineTotal"] / len(normal) if normal else None
    alert_total = sum(d["heavyEntries"] for d in alert_days)
    return {"enterpriseCode": enterprise.code, "alertId": alert.id, "level": alert.level,
            "maxHeavyEntryRatio": float(alert.max_heavy_entry_ratio) if alert.max_heavy_entry_ratio is not None
            else None,
            "baselineDays": [{"date": d.isoformat(), "heavyEntries": entries.get(d, 0)} for d in normal],
            "baselineDailyHeavyEntries": round(baseline_mean, 4) if baseline_mean is not None else None,
            "alertDays": alert_days,
            "alertDailyHeavyEntries": round(alert_total / len(alert_days), 4) if alert_days else None,
            "alertToNormalRatio": ratio(alert_total / len(alert_days) if alert_days else 0, baseline_mean),
            "capExceededDays": sum(1 for d in alert_days if d["excess"])}


async def cap_findings(session: AsyncSession, *, alerts: Sequence[Alert], plants: Sequence[tuple[str, int, str]],
                       today: date, first_day: date, last_day: date) -> list[dict[str, Any]]:
    """entry_cap_exceeded findings of these plants ((code, id, region) in the alerts' scope) on the days
    of the window: one query of the day aggregates per capped alert, whatever the number of plants."""
    found: list[dict[str, Any]] = []
    for alert in alerts:
        if alert.max_heavy_entry_ratio is None:
            continue
        inside = [p for p in plants if p[2].startswith(alert.region_code)]
        if not inside:
            continue
        first_alert_day, last_alert_day, search_start = _alert_days(alert, today)
        entries = await stats.heavy_entries_by_enterprise_day(session, enterprise_ids=[p[1] for p in inside],
                                                              start=search_start, end=last_alert_day)
        covering = await repository.alerts_between(session, region=alert.region_code[:2],
                                                   start=_day_bounds(search_start)[0],
                                                   end=_day_bounds(first_alert_day)[0])
        baseline_days = rule_set_for(alert.region_code, first_alert_day)["entryCap"]["baselineDays"]
        for code, enterprise_id, region_code in inside:
            cap = entry_cap(alert, today=today, region_code=region_code, entries=entries.get(enterprise_id, {}),
                            covering=covering, baseline_days=baseline_days)
            for day in cap["alertDays"]:
                if day["excess"] and first_day.isoformat() <= day["date"] <= last_day.isoformat():
                    found.append({"rule": "entry_cap_exceeded", "severity": "violation", "enterpriseCode": code,
                                  "alertId": alert.id, "level": alert.level, "measure": alert.measure,
                                  "date": day["date"], "cap": day["cap"], "entries": day["heavyEntries"],
                                  "excess": day["excess"]})
    return sorted(found, key=lambda f: (f["date"], f["enterpriseCode"], f["alertId"]))


async def violating_movements(session: AsyncSession, *, jurisdiction: str, region: str, first_day: date,
                              last_day: date, enterprise_id: int | None = None) -> dict[int, tuple[str, list[str]]]:
    """movement id -> (enterprise code, the rules it broke) for the days and region: what the daily report
    counts and the export's 应急违规 column shows."""
    lower = datetime.combine(first_day, time(), tzinfo=BEIJING)
    upper = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=BEIJING)
    alerts = await repository.alerts_between(session, region=region, start=lower, end=upper)
    params = _params(alerts, jurisdiction=jurisdiction, region=region, first_day=first_day, last_day=last_day,
                     enterprise_id=enterprise_id)
    return {row[0]: (row[1], row[2].split(",")) for row in (await run_sql(session, _BY_MOVEMENT, params)).all()}


_RULES_OF = text(_JUDGED + """
    SELECT rule, count(DISTINCT movement_id)::int FROM judged WHERE rule IS NOT NULL GROUP BY rule
""")


async def alert_rules_broken(session: AsyncSession, *, enterprise_id: int, region_code: str,
                             record_ids: Sequence[str], first: datetime, last: datetime) -> dict[str, int]:
    """How many of these movements (just stored) break each alert rule: for the violations counter at
    ingest. One small query, and nothing to judge, when no alert covers the plant then (the usual case).
    A listed vehicle's entry is counted from ingest's own watch-list check, not here."""
    alerts = await repository.alerts_over(session, region_code=region_code, start=first,
                                          end=last + timedelta(microseconds=1))
    if not alerts:
        return {}
    params = _params(alerts, jurisdiction="", region=region_code, first_day=first.astimezone(BEIJING).date(),
                     last_day=last.astimezone(BEIJING).date(), enterprise_id=enterprise_id, record_ids=record_ids)
    return {row[0]: row[1] for row in (await run_sql(session, _RULES_OF, params)).all()}
