"""统计日报, exports and audit samples over HTTP."""

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest

from tests.conftest import register
from tests.factories import movement
from tests.stats.conftest import DAY, NEXT, post, staff_headers


async def test_daily_report_rows_for_the_region(client, engine, plant):
    elsewhere = await register(engine, region_code="130402")
    report = (await client.get("/api/v1/reports/daily", params={"date": DAY, "regionCode": "130203"},
                               headers=await staff_headers(engine, "1302"))).json()
    codes = [row["enterpriseCode"] for row in report["rows"]]
    assert plant.code in codes and elsewhere.code not in codes
    row = next(row for row in report["rows"] if row["enterpriseCode"] == plant.code)
    assert (row["tripsIn"], row["tripsOut"], row["heavyTrips"], row["roadTonnes"], row["late"]) == (5, 1, 5, 91.0, 6)
    assert row["heavyNevTripShare"]["value"] == 0.2 and row["heavyChinaVIOrNevShare"]["value"] == 0.6
    assert row["uploadRate"]["value"] == 0.75 and row["fieldCompletenessRate"]["numerator"] == 2
    assert row["lastSeenAt"] is not None
    quiet = next(r for r in (await client.get("/api/v1/reports/daily", params={"date": DAY}, headers=await
                                              staff_headers(engine, "13"))).json()["rows"]
                 if r["enterpriseCode"] == elsewhere.code)
    assert quiet["uploadRate"]["value"] is None and quiet["tripsIn"] == 0
    wider = await client.get("/api/v1/reports/daily", params={"date": DAY, "regionCode": "13"},
                             headers=await staff_headers(engine, "1302"))
    assert wider.status_code == 403


async def test_csv_export_has_chinese_headers_and_labels(client, engine, plant):
    response = await client.get("/api/v1/exports/movements", params={"enterpriseCode": plant.code, "from": DAY,
                                                                     "to": NEXT, "format": "csv"},
                                headers=await staff_headers(engine))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 7
    first = rows[0]
    assert first["记录流水号"] == "R1" and first["排放标准"] == "6" and first["排放标准(说明)"] == "国VI"
    assert first["进出厂状态(说明)"] == "进厂" and first["车辆类型(大类)"] == "牵引车"
    assert first["企业代码"] == plant.code
    assert first["进/出厂时间"] == f"{DAY} 08:00:00" and first["迟报"] == "是"


async def test_xlsx_export_opens_as_a_workbook(client, engine, plant):
    response = await client.get("/api/v1/exports/movements", params={"enterpriseCode": plant.code, "from": DAY,
                                                                     "to": DAY, "format": "xlsx"},
                                headers=await staff_headers(engine))
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "企业代码" and len(rows) == 1 + 6
    assert {row[1] for row in rows[1:]} == {"R1", "R2", "R3", "R4", "R5", "R7"}


async def test_exports_stay_in_the_jurisdiction(client, engine, plant):
    outsider = await staff_headers(engine, "11")
    response = await client.get("/api/v1/exports/movements",
                                params={"enterpriseCode": plant.code, "from": DAY, "to": DAY}, headers=outsider)
    assert response.status_code == 403
    everything = await client.get("/api/v1/exports/movements", params={"from": DAY, "to": DAY},
                                  headers=await staff_headers(engine, "11"))
    assert everything.status_code == 200
    assert plant.code not in everything.content.decode("utf-8-sig")


async def test_audit_sample_is_reproducible_with_its_seed(client, engine, plant):
    headers = await staff_headers(engine)
    params = {"from": DAY, "to": NEXT, "n": 3, "seed": 42}
    first = (await client.get(f"/api/v1/enterprises/{plant.code}/audit-sample", params=params, headers=headers)).json()
    again = (await client.get(f"/api/v1/enterprises/{plant.code}/audit-sample", params=params, headers=headers)).json()
    assert [i["recordId"] for i in first["items"]] == [i["recordId"] for i in again["items"]]
    assert len(first["items"]) == 3 and first["seed"] == 42
    other = (await client.get(f"/api/v1/enterprises/{plant.code}/audit-sample", params={**params, "seed": 7, "n": 7},
                              headers=headers)).json()
    assert sorted(i["recordId"] for i in other["items"]) == ["R1", "R2", "R3", "R4", "R5", "R6", "R7"]
    r1 = next(i for i in other["items"] if i["recordId"] == "R1")
    photo = await client.get(r1["photoLinks"]["passPhoto"], headers=headers)
    assert photo.status_code == 200 and photo.content.startswith(b"\x89PNG")
    unseeded = (await client.get(f"/api/v1/enterprises/{plant.code}/audit-sample", params={"from": DAY, "to": DAY},
                                 headers=headers)).json()
    assert isinstance(unseeded["seed"], int)


HOSTILE = {"fleetName": '=HYPERLINK("http://evil.example/x","点此")', "goodsName": "+1+cmd|' /C calc'!A0",
           "vehicleModel": "-2+3", "engineMaker": "@SUM(1+1)*cmd|' /C calc'!A0", "engineModel": "http://evil.example"}


async def hostile_plant(client, engine):
    enterprise = await register(engine)
    await post(client, enterprise, "movements", movement(recordId="H1", passTime=f"{DAY} 08:00:00", **HOSTILE))
    return enterprise


async def test_csv_export_neutralises_formulas_from_gateway_text(client, engine):
    enterprise = await hostile_plant(client, engine)
    response = await client.get("/api/v1/exports/movements", params={"enterpriseCode": enterprise.code,
                                                                     "from": DAY, "to": DAY, "format": "csv"},
                                headers=await staff_headers(engine))
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    (first,) = rows
    assert first["车队名称"] == "'" + HOSTILE["fleetName"]
    assert first["运输货物名称"] == "'" + HOSTILE["goodsName"]
    assert first["车辆型号"] == "'-2+3" and first["发动机生产厂"].startswith("'@")
    assert first["发动机型号"] == "http://evil.example"  # not a formula start: kept as sent
    assert first["运输量"] == "34.6"  # numbers stay numbers


async def test_xlsx_export_holds_strings_not_formulas_or_links(client, engine):
    enterprise = await hostile_plant(client, engine)
    response = await client.get("/api/v1/exports/movements", params={"enterpriseCode": enterprise.code,
                                                                     "from": DAY, "to": DAY, "format": "xlsx"},
                                headers=await staff_headers(engine))
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    headers = [cell.value for cell in sheet[1]]
    row = {header: cell for header, cell in zip(headers, sheet[2], strict=True)}
    for header, key in (("车队名称", "fleetName"), ("运输货物名称", "goodsName"), ("车辆型号", "vehicleModel"),
                        ("发动机生产厂", "engineMaker"), ("发动机型号", "engineModel")):
        assert row[header].data_type == "s" and row[header].value == HOSTILE[key], header
        assert row[header].hyperlink is None
    assert not sheet._hyperlinks
    assert isinstance(row["进/出厂时间"].value, datetime) and row["进/出厂时间"].value == datetime(2026, 11, 10, 8)
    assert row["运输量"].data_type == "n"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(headers)).column_letter}2"
    assert sheet.column_dimensions["A"].width >= 12


async def test_xlsx_export_past_the_sheet_limit_continues_on_further_sheets(client, engine):
    from service.reports.service import xlsx_export

    enterprise = await plant_with_rows(client, engine, 5)
    chunks = [chunk async for chunk in xlsx_export(engine, enterprise_ids=[enterprise.id], violations={},
                                                   start=date(2026, 11, 10),
                                                   end=date(2026, 11, 10), rows_per_sheet=3)]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(chunks)), read_only=True)
    sheets = [list(sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets]
    assert [len(rows) for rows in sheets] == [3, 3, 2]  # header + 2, header + 2, header + 1
    assert all(rows[0][0] == "企业代码" for rows in sheets)
    assert [row[1] for rows in sheets for row in rows[1:]] == [f"S{n}" for n in range(5)]
    assert workbook.sheetnames == ["进出厂运输车辆", "进出厂运输车辆 (2)", "进出厂运输车辆 (3)"]


async def plant_with_rows(client, engine, n):
    enterprise = await register(engine)
    await post(client, enterprise, "movements",
               *[movement(recordId=f"S{i}", passTime=f"{DAY} 08:0{i}:00") for i in range(n)])
    return enterprise


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_every_formula_start_of_owasp_is_neutralised(text):
    from service.reports.service import _csv_value

    assert _csv_value(text) == "'" + text
    assert _csv_value("冀B12345") == "冀B12345" and _csv_value(-1.5) == -1.5
