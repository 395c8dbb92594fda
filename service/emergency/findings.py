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
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import planned_for_values, run_sql
from service.emergency import repository
from service.emergency.models import Alert
from service.emergency.rules import GRADES, ban_for, rule_set_for, rule_sets
from service.enterprises.models import Enterprise
from service.errors import Unprocessable
from service.ingest.models import ALERT_CANDIDATE, HEAVY
from service.ingest.payloads import BEIJING
from service.params import MAX_BIGINT, MAX_INT
from service.stats import repository as stats
from service.stats.service import ratio

# Only the movements that can break a rule or be exempt are read: the alert candidates (through their
# partial index) and exempted plates (through the exemptions); a fraction of the movements in scope. A
# plant whose ban is wider than the index (no road transport at all, or a rule table banning more) has
# all its movements read. What each plant and alert has in scope is counted from the day aggregates for
# the days the alert covers whole, and from the movements only on the days it starts or ends within.
# Every read of movements also names the days asked for (the spans lie within them, so it changes no
# answer): bounds known when the statement is planned let PostgreSQL plan only those months' partitions.
# Without them it planned all of them: over 24 months, the most of a cold daily report's time.
# Movement columns go unqualified in the branches that read movements (no other table there has them),
# so the index's own predicate can be written into them.
# What the index can answer: bans up to stage 4 (gas: 5 for the fuels E and F), exemption by use R only.
INDEXED_GAS_FUELS, INDEXED_EXEMPT_USES = {"E", "F"}, {"R"}
_MOVEMENT_COLUMNS = """m.id AS movement_id, m.record_id, m.plate_no, m.plate_color, m.pass_time, m.pass_date,
               m.direction, m.vehicle_type, m.fuel_type, coalesce(m.emission_standard, 'X') AS stage, m.use_nature,
               m.late, m.reupload"""
_IN_WINDOWS = f"""
        SELECT p.plant_id, p.alert_id, {_MOVEMENT_COLUMNS}, ({HEAVY}) AS heavy
        FROM plants AS p JOIN movement AS m ON m.enterprise_id = p.plant_id AND m.pass_time >= p.lower
             AND m.pass_time < p.upper AND m.pass_date BETWEEN :first_day AND :last_day
        WHERE p.read_all
        UNION ALL
        SELECT p.plant_id, p.alert_id, {_MOVEMENT_COLUMNS}, true
        FROM plants AS p JOIN movement AS m ON m.enterprise_id = p.plant_id AND m.pass_time >= p.lower
             AND m.pass_time < p.upper AND m.pass_date BETWEEN :first_day AND :last_day
        WHERE NOT p.read_all AND {ALERT_CANDIDATE}
        UNION ALL
        SELECT DISTINCT ON (m.id, p.alert_id) p.plant_id, p.alert_id, {_MOVEMENT_COLUMNS}, ({HEAVY})
        FROM plants AS p JOIN emergency_exemption AS x ON x.enterprise_id = p.plant_id AND x.valid_from < p.upper
             AND x.valid_to > p.lower
        JOIN movement AS m ON m.plate_no = x.plate_no AND m.plate_color = x.plate_color
             AND m.enterprise_id = p.plant_id AND m.pass_time >= greatest(x.valid_from, p.lower)
             AND m.pass_time < least(x.valid_to, p.upper) AND m.pass_date BETWEEN :first_day AND :last_day
        WHERE NOT p.read_all AND ({ALERT_CANDIDATE}) IS NOT TRUE
"""
# At receipt, the movements just stored, read by their key whatever they are: the branches above exist to spare
# a question over a window from reading every movement in it, and judged the same, a movement gets the same
# verdict either way. One branch by key plans in half the time (1.0 ms against 2.3) and reads only the batch.
_BY_KEY = f"""
        SELECT p.plant_id, p.alert_id, {_MOVEMENT_COLUMNS}, ({HEAVY}) AS heavy
        FROM plants AS p JOIN movement AS m ON m.enterprise_id = p.plant_id AND m.pass_time >= p.lower
             AND m.pass_time < p.upper AND m.pass_date BETWEEN :first_day AND :last_day
        WHERE m.record_id = ANY(CAST(:record_ids AS text[]))
"""


def _judged(candidates: str) -> str:
    """Every candidate movement judged against the ban table of its plant, alert and grade."""
    return f"""
    WITH bans AS (
        SELECT * FROM json_to_recordset(CAST(:bans AS json)) AS b(
            alert_id int, rules_prefix text, grade text, all_road boolean, max_stage text, max_gas_stage text,
            gas_fuels text[], exempt_uses text[], indexed boolean)
    ), spans AS (
        -- Per alert: the part of it inside the window asked for, the days it covers whole, the days cut.
        SELECT * FROM json_to_recordset(CAST(:spans AS json)) AS s(
            alert_id int, lower timestamptz, upper timestamptz, lower_day date, whole_first date, whole_last date,
            cut_days date[])
    ), plant_alert AS (
        SELECT e.id AS plant_id, e.code AS enterprise_code, e.region_code, a.id AS alert_id, a.level, a.measure,
               s.lower, s.upper, s.lower_day, s.whole_first, s.whole_last, s.cut_days,
               (SELECT b.rules_prefix FROM bans AS b
                WHERE b.alert_id = a.id AND starts_with(e.region_code, b.rules_prefix)
                ORDER BY length(b.rules_prefix) DESC LIMIT 1) AS rules_prefix
        FROM emergency_alert AS a JOIN spans AS s ON s.alert_id = a.id
        JOIN enterprise AS e ON starts_with(e.region_code, a.region_code)
        WHERE starts_with(e.region_code, :jurisdiction) AND starts_with(e.region_code, :region)
          AND (CAST(:enterprise_id AS int) IS NULL OR e.id = :enterprise_id)
    ), plants AS (
        SELECT pa.*, coalesce((SELECT g.grade FROM enterprise_grade AS g
                               WHERE g.enterprise_id = pa.plant_id AND g.valid_from <= pa.lower_day
                               ORDER BY g.valid_from DESC, g.id DESC LIMIT 1), 'none') AS first_grade,
               EXISTS (SELECT 1 FROM bans AS b
                       WHERE b.alert_id = pa.alert_id AND b.rules_prefix = pa.rules_prefix AND NOT b.indexed
                         AND (b.grade = 'none' OR b.grade IN (SELECT grade FROM enterprise_grade
                                                              WHERE enterprise_id = pa.plant_id))) AS read_all
        FROM plant_alert AS pa
    ), grades AS (
        SELECT enterprise_id, grade, valid_from,
               lead(valid_from) OVER (PARTITION BY enterprise_id ORDER BY valid_from, id) AS valid_to
        FROM enterprise_grade WHERE enterprise_id IN (SELECT plant_id FROM plant_alert)
    ), candidates AS ({candidates}    ), scoped AS (
        SELECT c.*, p.enterprise_code, p.region_code, p.level, p.measure, p.rules_prefix,
               coalesce(g.grade, 'none') AS grade
        FROM candidates AS c JOIN plants AS p ON p.plant_id = c.plant_id AND p.alert_id = c.alert_id
        LEFT JOIN grades AS g ON g.enterprise_id = c.plant_id AND g.valid_from <= c.pass_date
             AND (g.valid_to IS NULL OR c.pass_date < g.valid_to)
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
_FINDINGS = _judged(_IN_WINDOWS) + """
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
    ), counted AS (
        SELECT p.enterprise_code, p.alert_id, d.records, d.heavy
        FROM plants AS p JOIN movement_day_stat AS d ON d.enterprise_id = p.plant_id
             AND d.pass_date BETWEEN p.whole_first AND p.whole_last
        UNION ALL
        SELECT p.enterprise_code, p.alert_id, 1, HEAVY_EXPR
        FROM plants AS p JOIN movement AS m ON m.enterprise_id = p.plant_id AND m.pass_time >= p.lower
             AND m.pass_time < p.upper AND m.pass_date = ANY(p.cut_days)
             AND m.pass_date BETWEEN :first_day AND :last_day
    ), scope AS (
        SELECT enterprise_code, alert_id, sum(records)::int AS in_scope,
               (sum(records) FILTER (WHERE heavy))::int AS heavy_in_scope
        FROM counted GROUP BY enterprise_code, alert_id
    ), exempted AS (
        SELECT enterprise_code, alert_id, count(DISTINCT movement_id)::int AS exempt FROM judged
        WHERE exempt GROUP BY enterprise_code, alert_id
    ), broken AS (
        -- Movements with any violation (a listed vehicle's entry during an alert among them); listed
        -- vehicles' entries outside any alert get a row of their own.
        SELECT enterprise_code, alert_id, count(DISTINCT movement_id)::int AS violations FROM findings
        WHERE severity = 'violation' GROUP BY enterprise_code, alert_id
    ), summary AS (
        SELECT coalesce(s.enterprise_code, b.enterprise_code) AS enterprise_code,
               coalesce(s.alert_id, b.alert_id) AS alert_id, p.plant_id, p.region_code, p.level,
               p.first_grade AS grade, s.in_scope, s.heavy_in_scope, x.exempt, coalesce(b.violations, 0) AS violations
        FROM scope AS s FULL JOIN broken AS b ON b.enterprise_code = s.enterprise_code AND b.alert_id = s.alert_id
        LEFT JOIN plants AS p ON p.enterprise_code = coalesce(s.enterprise_code, b.enterprise_code)
             AND p.alert_id = coalesce(s.alert_id, b.alert_id)
        LEFT JOIN exempted AS x ON x.enterprise_code = s.enterprise_code AND x.alert_id = s.alert_id
        WHERE s.in_scope > 0 OR b.violations > 0
    )
    SELECT 'item' AS part, to_jsonb(page) AS row FROM page
    UNION ALL
    SELECT 'summary', to_jsonb(summary) FROM summary
""".replace("HEAVY_EXPR", HEAVY))


_BY_MOVEMENT = text(_FINDINGS + """
    SELECT movement_id, enterprise_code, string_agg(DISTINCT rule, ',' ORDER BY rule) AS rules
    FROM findings WHERE severity = 'violation' GROUP BY movement_id, enterprise_code
""")

# How a spreadsheet names each rule.
RULE_LABELS = {"stage_banned_during_alert": "应急期间禁用排放阶段车辆",
               "stage_unknown_during_alert": "应急期间排放阶段不明",
               "road_transport_stopped": "应急期间停止公路运输",
               "watchlisted_vehicle": "超标车辆进厂"}


async def _judge(session: AsyncSession, statement: TextClause, params: dict[str, Any]) -> Sequence[Any]:
    """Run a findings statement planned for its own parameters: a generic plan is blind to the alerts' spans
    and bans."""
    async with planned_for_values(session):
        return (await run_sql(session, statement, params)).all()


def _params(alerts: Sequence[Alert], *, jurisdiction: str, region: str, first_day: date, last_day: date,
            enterprise_id: int | None = None, only_alert: int | None = None) -> dict[str, Any]:
    """What the findings query takes: the alerts with their ban table and spans, and the filters (None: all)."""
    return {"bans": orjson.dumps(ban_table(alerts)).decode(),
            "spans": orjson.dumps(spans(alerts, first_day=first_day, last_day=last_day, only_alert=only_alert)
                                  ).decode(),
            "alert_ids": [a.id for a in alerts], "only_alert": only_alert, "jurisdiction": jurisdiction,
            "region": region, "enterprise_id": enterprise_id, "first_day": first_day, "last_day": last_day}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=BEIJING)


def spans(alerts: Sequence[Alert], *, first_day: date, last_day: date,
          only_alert: int | None = None) -> list[dict[str, Any]]:
    """For each alert, the part of it inside the Beijing days [first_day, last_day]: its bounds, the days it
    covers whole (counted from the day aggregates) and the days it starts or ends within (from the movements)."""
    found = []
    for alert in alerts:
        if only_alert is not None and alert.id != only_alert:
            continue
        lower = max(alert.starts_at, _midnight(first_day))
        upper = min(alert.ends_at or datetime.max.replace(tzinfo=UTC), _midnight(last_day + timedelta(days=1)))
        if upper <= lower:
            continue
        lower_day, upper_day = lower.astimezone(BEIJING), upper.astimezone(BEIJING)
        lower_cut, upper_cut = lower_day.time() != time(), upper_day.time() != time()
        found.append({"alert_id": alert.id, "lower": lower.isoformat(), "upper": upper.isoformat(),
                      "lower_day": lower_day.date().isoformat(),
                      "whole_first": (lower_day.date() + timedelta(days=1 if lower_cut else 0)).isoformat(),
                      "whole_last": (upper_day.date() - timedelta(days=1)).isoformat(),
                      "cut_days": sorted({d.isoformat() for d, cut in ((lower_day.date(), lower_cut),
                                                                        (upper_day.date(), upper_cut)) if cut})})
    return found


def ban_table(alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    """For each alert, each rule table in force at its start, each region that table names and each grade:
    what is banned, and whether the candidates index holds every movement the ban can catch or exempt.
    Grades that ban nothing have no row."""
    rows = []
    for alert in alerts:
        day = alert.starts_at.astimezone(BEIJING).date()
        for rules in rule_sets():
            if date.fromisoformat(rules["validFrom"]) > day:
                continue
            gas_ceiling = "5" if set(rules["gasFuels"]) <= INDEXED_GAS_FUELS else "4"
            for prefix in rules.get("regions") or [""]:
                for grade in GRADES:
                    ban = ban_for(rules, grade=grade, measure=alert.measure)
                    if ban is None:
                        continue
                    indexed = (not ban.all_road and (ban.max_stage or "9") <= "4"
                               and (ban.max_gas_stage or "9") <= gas_ceiling
                               and set(rules["exemptUseNatures"]) <= INDEXED_EXEMPT_USES)
                    rows.append({"alert_id": alert.id, "rules_prefix": prefix, "grade": grade,
                                 "all_road": ban.all_road, "max_stage": ban.max_stage,
                                 "max_gas_stage": ban.max_gas_stage, "gas_fuels": rules["gasFuels"],
                                 "exempt_uses": rules["exemptUseNatures"], "indexed": indexed})
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
            or not 0 < movement_id <= MAX_BIGINT or not 0 <= alert_id <= MAX_INT):
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
    await _recount_whole_days(session, params)
    rows = await _judge(session, _PAGE_AND_SUMMARY, {**params, "after_time": after[0], "after_id": after[1],
                                                     "after_alert": after[2], "after_rule": after[3],
                                                     "limit": limit + 1})
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


_PLANTS = text("""
    SELECT e.id FROM enterprise AS e
    WHERE starts_with(e.region_code, :jurisdiction) AND starts_with(e.region_code, :region)
      AND (CAST(:enterprise_id AS int) IS NULL OR e.id = :enterprise_id)
      AND EXISTS (SELECT 1 FROM emergency_alert AS a
                  WHERE a.id = ANY(CAST(:alert_ids AS int[])) AND starts_with(e.region_code, a.region_code))
""")


async def _recount_whole_days(session: AsyncSession, params: dict[str, Any]) -> None:
    """The day aggregates of the plants and days the summary counts from, recounted where a record changed."""
    covered = [s for s in orjson.loads(params["spans"]) if s["whole_first"] <= s["whole_last"]]
    if not covered:
        return
    plants = [row[0] for row in (await run_sql(session, _PLANTS, params)).all()]
    if plants:
        await stats.refresh(session, enterprise_ids=plants,
                            start=date.fromisoformat(min(s["whole_first"] for s in covered)),
                            end=date.fromisoformat(max(s["whole_last"] for s in covered)))


BASELINE_SEARCH_DAYS = 60


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    return _midnight(day), _midnight(day + timedelta(days=1))


def _alert_days(alert: Alert, today: date) -> tuple[date, date, date]:
    """(first alert day, last alert day so far, the first day searched for normal days)."""
    first = alert.starts_at.astimezone(BEIJING).date()
    last = min(today, ((alert.ends_at - timedelta(microseconds=1)).astimezone(BEIJING).date()
                       if alert.ends_at is not None else today))
    return first, max(first, last), first - timedelta(days=BASELINE_SEARCH_DAYS)


def normal_days(alert: Alert, *, today: date, region_code: str, covering: Sequence[Alert],
                baseline_days: int) -> list[date]:
    """The `baseline_days` full Beijing days before the alert's start on which no alert covered a plant of this
    region (`covering`: alerts over any region; those not covering `region_code` are skipped), oldest first."""
    first_alert_day, _, search_start = _alert_days(alert, today)
    covering = [a for a in covering if region_code.startswith(a.region_code)]
    normal: list[date] = []
    day = first_alert_day - timedelta(days=1)
    while len(normal) < baseline_days and day >= search_start:
        lower, upper = _day_bounds(day)
        if not any(a.starts_at < upper and (a.ends_at is None or a.ends_at > lower) for a in covering):
            normal.append(day)
        day -= timedelta(days=1)
    normal.reverse()
    return normal


def entry_cap(alert: Alert, *, today: date, entries: dict[date, int], normal: Sequence[date]) -> dict[str, Any]:
    """The plant's baseline over its normal days, and each alert day's heavy entries, cap and excess.

    A day wholly inside the alert gets cap = ceil(ratio x baseline mean) when the alert caps entries, and
    excess = max(0, entries - cap)."""
    first_alert_day, last_alert_day, _ = _alert_days(alert, today)
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
    return {"baselineTotal": baseline_total, "alertDays": alert_days}


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
    normal = normal_days(alert, today=today, region_code=enterprise.region_code, covering=covering,
                         baseline_days=baseline_days)
    cap = entry_cap(alert, today=today, entries=entries, normal=normal)
    alert_days = cap["alertDays"]
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
        covering = await repository.alerts_between(session, region=alert.region_code[:2],
                                                   start=_day_bounds(search_start)[0],
                                                   end=_day_bounds(first_alert_day)[0])
        baseline_days = rule_set_for(alert.region_code, first_alert_day)["entryCap"]["baselineDays"]
        # Plants of one region share their normal days: only those days and the alert's are read.
        normal = {region: normal_days(alert, today=today, region_code=region, covering=covering,
                                      baseline_days=baseline_days) for region in {p[2] for p in inside}}
        alert_days = [first_alert_day + timedelta(days=n) for n in range((last_alert_day - first_alert_day).days + 1)]
        entries = await stats.heavy_entries_by_enterprise_day(
            session, enterprise_ids=[p[1] for p in inside], start=search_start, end=last_alert_day,
            days=sorted({*alert_days, *(d for days in normal.values() for d in days)}))
        for code, enterprise_id, region_code in inside:
            cap = entry_cap(alert, today=today, entries=entries.get(enterprise_id, {}), normal=normal[region_code])
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
    alerts = await repository.alerts_between(session, region=region, start=_midnight(first_day),
                                             end=_midnight(last_day + timedelta(days=1)))
    params = _params(alerts, jurisdiction=jurisdiction, region=region, first_day=first_day, last_day=last_day,
                     enterprise_id=enterprise_id)
    return {row[0]: (row[1], row[2].split(",")) for row in await _judge(session, _BY_MOVEMENT, params)}


_RULES_OF = text(_judged(_BY_KEY) + """
    SELECT rule, count(DISTINCT movement_id)::int FROM judged WHERE rule IS NOT NULL GROUP BY rule
""")


async def alert_rules_broken(session: AsyncSession, *, alert_ids: Sequence[int], enterprise_id: int,
                             region_code: str, record_ids: Sequence[str], first: datetime,
                             last: datetime) -> dict[str, int]:
    """How many of these movements (just stored) break each rule of these alerts (those covering the plant
    during them: repository.at_ingest), for the violations counter at ingest. A listed vehicle's entry is
    counted from ingest's own watch-list check, not here."""
    alerts = await repository.alerts_by_id(session, alert_ids)
    params = _params(alerts, jurisdiction="", region=region_code, first_day=first.astimezone(BEIJING).date(),
                     last_day=last.astimezone(BEIJING).date(), enterprise_id=enterprise_id)
    return {row[0]: row[1] for row in await _judge(session, _RULES_OF, {**params, "record_ids": list(record_ids)})}
