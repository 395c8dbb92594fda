"""统计日报, exports and audit samples over HTTP."""

import csv
import io

import openpyxl

from tests.conftest import register
from tests.stats.conftest import DAY, NEXT, staff_headers


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
