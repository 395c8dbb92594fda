"""统计日报, exports of movements for people (Chinese headers, codes with their labels), audit samples."""

import asyncio
import csv
import io
import os
import secrets
import tempfile
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import xlsxwriter
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.service import Staff, is_region_prefix
from service.codes import (
    DIRECTION,
    EMISSION_STANDARD,
    FUEL_TYPE,
    NETWORK_STATUS,
    PLATE_COLOR,
    USE_NATURE,
    VEHICLE_TYPE_PREFIX,
    CodeTable,
)
from service.csv_cells import neutralised
from service.emergency import findings
from service.enterprises.models import Enterprise
from service.errors import Forbidden, Unprocessable
from service.ingest.kinds import MOVEMENTS
from service.ingest.payloads import BEIJING, ITEM_NAMES
from service.queries.repository import enterprises_in
from service.queries.service import record_item
from service.reports import repository
from service.stats import repository as stats_repository
from service.stats.service import check_window, completeness_by_enterprise, ratio

_LABELS: dict[str, CodeTable] = {"direction": DIRECTION, "plateColor": PLATE_COLOR, "fuelType": FUEL_TYPE,
                                 "emissionStandard": EMISSION_STANDARD, "useNature": USE_NATURE,
                                 "networkStatus": NETWORK_STATUS}


def window_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    check_window(start, end)
    return (datetime.combine(start, time(), tzinfo=BEIJING),
            datetime.combine(end + timedelta(days=1), time(), tzinfo=BEIJING))


# ---- 统计日报 ------------------------------------------------------------------------------------

async def daily_report(session: AsyncSession, *, staff: Staff, day: date, region_code: str | None) -> dict[str, Any]:
    region = region_code if region_code is not None else staff.region_prefix
    if not region.startswith(staff.region_prefix):
        raise Forbidden(f"region {region} is not within your jurisdiction", code="outside_jurisdiction")
    if not is_region_prefix(region):
        raise Unprocessable("regionCode must be 2, 4 or 6 digits", code="invalid_region")
    enterprises = list(await enterprises_in(session, region))
    ids = [e.id for e in enterprises if e.id is not None]
    counts = await completeness_by_enterprise(session, enterprise_ids=ids, start=day, end=day)
    trips: dict[int, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for enterprise_id, direction, standard, heavy, records, tonnes in await stats_repository.trip_mix(
            session, enterprise_ids=ids, start=day, end=day):
        mine = trips[enterprise_id]
        mine["in" if direction == "1" else "out"] += records
        mine["tonnes"] += tonnes
        if heavy:
            mine["heavy"] += records
            mine["heavyNev"] += records if standard == "D" else 0
            mine["heavyVIOrNev"] += records if standard in ("6", "D") else 0
    violating = Counter(code for code, _ in (await findings.violating_movements(
        session, jurisdiction=staff.region_prefix, region=region, first_day=day, last_day=day)).values())
    return {"date": day.isoformat(), "regionCode": region,
            "rows": [{**_report_row(e, trips.get(e.id or 0, {}), counts[e.id or 0].get(day)),
                      "alertViolations": violating.get(e.code, 0)} for e in enterprises]}


def _report_row(enterprise: Enterprise, trips: dict[str, Any], counts: dict[str, Any] | None) -> dict[str, Any]:
    received = counts["received"] if counts else 0
    late = counts["late"] if counts else 0
    expected = counts["expected"] if counts else None
    return {
        "enterpriseCode": enterprise.code, "name": enterprise.name, "regionCode": enterprise.region_code,
        "industry": enterprise.industry,
        "tripsIn": trips.get("in", 0), "tripsOut": trips.get("out", 0), "heavyTrips": trips.get("heavy", 0),
        "heavyNevTripShare": ratio(trips.get("heavyNev", 0), trips.get("heavy", 0)),
        "heavyChinaVIOrNevShare": ratio(trips.get("heavyVIOrNev", 0), trips.get("heavy", 0)),
        "roadTonnes": float(trips.get("tonnes", 0)),
        "uploadRate": ratio(received, expected),
        "fieldCompletenessRate": ratio(counts["complete"] if counts else 0, received),
        "timelinessRate": ratio(received - late, received),
        "late": late,
        "lastSeenAt": enterprise.last_seen_at.astimezone(BEIJING).isoformat() if enterprise.last_seen_at else None,
    }


# ---- exports ----------------------------------------------------------------------------------

def export_columns() -> list[tuple[str, str, CodeTable | None]]:
    """(Chinese header, column, code table for a label column) in the Appendix C order."""
    columns: list[tuple[str, str, CodeTable | None]] = [("企业代码", "code", None)]
    for name, field in MOVEMENTS.model.model_fields.items():
        key = field.alias or name
        columns.append((ITEM_NAMES[key], name, None))
        if key in _LABELS:
            columns.append((f"{ITEM_NAMES[key]}(说明)", name, _LABELS[key]))
        if key == "vehicleType":
            columns.append((f"{ITEM_NAMES[key]}(大类)", name, VEHICLE_TYPE_PREFIX))
    columns += [("迟报", "late", None), ("版本", "version", None), ("接收时间", "received_at", None),
                ("首次接收时间", "first_received_at", None), ("完整", "complete", None),
                (ALERT_VIOLATIONS, "id", None)]
    return columns


ALERT_VIOLATIONS = "应急违规"


def _violations_cell(violations: dict[int, tuple[str, list[str]]], movement_id: int) -> str:
    found = violations.get(movement_id)
    return "；".join(findings.RULE_LABELS.get(rule, rule) for rule in found[1]) if found else ""


def _cells(mapping: Any, columns: list[tuple[str, str, CodeTable | None]],
           violations: dict[int, tuple[str, list[str]]]) -> list[Any]:
    return [_violations_cell(violations, mapping["id"]) if header == ALERT_VIOLATIONS
            else _cell(mapping, column, table) for header, column, table in columns]


def _cell(row: Any, column: str, table: CodeTable | None) -> Any:
    """A typed cell: text, a number, or a Beijing wall-clock time (naive, as spreadsheets keep them)."""
    value = row[column]
    if table is not None:
        return table.label(value[0] if table is VEHICLE_TYPE_PREFIX and value else value) or ""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(BEIJING).replace(tzinfo=None)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return float(value)
    return value


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return neutralised(value)


async def csv_export(engine: AsyncEngine, *, enterprise_ids: Sequence[int], start: date, end: date,
                     violations: dict[int, tuple[str, list[str]]]) -> AsyncIterator[bytes]:
    columns = export_columns()
    lower, upper = window_bounds(start, end)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([header for header, _, _ in columns])
    yield ("\ufeff" + buffer.getvalue()).encode()  # the BOM makes spreadsheet programs read UTF-8
    async for partition in repository.export_rows(engine, enterprise_ids=enterprise_ids, start=lower, end=upper):
        buffer.seek(0)
        buffer.truncate()
        for row in partition:
            mapping = row._mapping
            writer.writerow([_csv_value(value) for value in _cells(mapping, columns, violations)])
        yield buffer.getvalue().encode()


XLSX_ROWS_PER_SHEET = 1_048_576  # Excel's limit, the header row included
# Strings stay strings: xlsxwriter would otherwise write "=..." as a live formula and "http://..." as a
# hyperlink, planting whatever a gateway sent into the spreadsheet a bureau officer opens.
_XLSX_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                 "strings_to_numbers": False}
_XLSX_SHEET = "进出厂运输车辆"


class _Sheets:
    """Rows to as many worksheets as they need (each with its header), never silently cut at the limit."""

    def __init__(self, workbook: Any, columns: list[tuple[str, str, CodeTable | None]], rows_per_sheet: int) -> None:
        self.workbook = workbook
        self.headers = [header for header, _, _ in columns]
        self.rows_per_sheet = rows_per_sheet
        self.time_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.sheet: Any = None
        self.count = 0
        self.line = 0

    def _next_sheet(self) -> None:
        self._finish()
        self.count += 1
        name = _XLSX_SHEET if self.count == 1 else f"{_XLSX_SHEET} ({self.count})"
        self.sheet = self.workbook.add_worksheet(name)
        for index, header in enumerate(self.headers):
            self.sheet.set_column(index, index, max(12, 2 * len(header) + 2))
            self.sheet.write_string(0, index, header)
        self.sheet.freeze_panes(1, 0)
        self.line = 1

    def _finish(self) -> None:
        if self.sheet is not None:
            self.sheet.autofilter(0, 0, self.line - 1, len(self.headers) - 1)

    def write(self, values: list[Any]) -> None:
        if self.sheet is None or self.line >= self.rows_per_sheet:
            self._next_sheet()
        for index, value in enumerate(values):
            if isinstance(value, datetime):
                self.sheet.write_datetime(self.line, index, value, self.time_format)
            elif isinstance(value, str):
                self.sheet.write_string(self.line, index, value)
            else:
                self.sheet.write_number(self.line, index, value)
        self.line += 1

    def close(self) -> None:
        if self.sheet is None:
            self._next_sheet()
        self._finish()


async def xlsx_export(engine: AsyncEngine, *, enterprise_ids: Sequence[int], start: date, end: date,
                      violations: dict[int, tuple[str, list[str]]],
                      rows_per_sheet: int = XLSX_ROWS_PER_SHEET) -> AsyncIterator[bytes]:
    """Rows go to a temporary file as they arrive (constant-memory mode), which is then streamed out."""
    columns = export_columns()
    lower, upper = window_bounds(start, end)
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(path, _XLSX_OPTIONS)
        sheets = _Sheets(workbook, columns, rows_per_sheet)
        async for partition in repository.export_rows(engine, enterprise_ids=enterprise_ids, start=lower,
                                                      end=upper):
            for row in partition:
                mapping = row._mapping
                sheets.write(_cells(mapping, columns, violations))
        sheets.close()
        await asyncio.to_thread(workbook.close)  # zips the sheets: file work off the event loop
        produced = await asyncio.to_thread(open, path, "rb")
        try:
            while chunk := await asyncio.to_thread(produced.read, 256 * 1024):
                yield chunk
        finally:
            produced.close()
    finally:
        os.unlink(path)


# ---- 核查 audit sample --------------------------------------------------------------------------

async def audit_sample(session: AsyncSession, *, enterprise: Enterprise, start: date, end: date, n: int,
                       seed: int | None) -> dict[str, Any]:
    assert enterprise.id is not None
    lower, upper = window_bounds(start, end)
    seed = secrets.randbelow(2**31) if seed is None else seed
    records = await repository.audit_sample(session, enterprise_id=enterprise.id, start=lower, end=upper, n=n,
                                            seed=seed)
    items = []
    for record in records:
        item = record_item(MOVEMENTS, record, enterprise.code)
        item["photoLinks"] = {key: f"/api/v1/photos/{value[len('sha256:'):]}"
                              for key, column in MOVEMENTS.photo_fields if (value := getattr(record, column))}
        items.append(item)
    return {"enterpriseCode": enterprise.code, "from": start.isoformat(), "to": end.isoformat(), "n": n,
            "seed": seed, "items": items}
