"""The emergency inputs from the command line: the same checks as the admin API, the same records, audited
as the command line; what staff then read over HTTP."""

import asyncio
import json
from collections.abc import Iterator

import pytest

from service.cli import main
from service.config import get_settings
from tests.conftest import flush_audit, register, scalar, staff_token


@pytest.fixture
def command(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator:
    """Run `hj1321 ...` in-process against the suite's database (in a thread: it runs its own event loop)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()

    async def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    get_settings.cache_clear()


async def test_a_bad_value_is_refused_with_the_apis_words_and_nothing_is_written(command, client, engine):
    plant = await register(engine, region_code="130203")
    code, _, err = await command("grade", "set", "--code", plant.code, "--grade", "E", "--from", "2026-01-01")
    assert code == 2 and "grade" in err and "'A'" in err
    code, _, err = await command("alert", "add", "--region", "13", "--level", "orange", "--from", "2026-13-01 00:00")
    assert code == 2 and "startsAt" in err
    code, _, err = await command("alert", "add", "--region", "13", "--level", "orange", "--from",
                                 "2026-12-02 00:00:00", "--to", "2026-12-01 00:00:00")
    assert code == 2 and "endsAt must be after startsAt" in err
    code, _, err = await command("grade", "set", "--code", "91130203MA0NOSUCH1", "--grade", "B", "--from",
                                 "2026-01-01")
    assert code == 2 and "no enterprise 91130203MA0NOSUCH1" in err
    admin = await staff_token(engine, role="admin", region="13")
    history = (await client.get(f"/api/v1/admin/enterprises/{plant.code}/grade", headers=admin)).json()
    assert history["items"] == []


async def test_grades_alerts_exemptions_and_the_watch_list_from_the_command_line(command, client, engine, tmp_path):
    plant = await register(engine, region_code="130203")
    assert (await command("grade", "set", "--code", plant.code, "--grade", "C", "--from", "2025-01-01"))[0] == 0
    code, out, _ = await command("grade", "show", "--code", plant.code)
    assert code == 0 and "in force today: C" in out

    code, out, _ = await command("alert", "add", "--region", "1302", "--level", "yellow", "--from",
                                 "2026-12-01 00:00:00", "--note", "命令行预警")
    assert code == 0, out
    yellow = int(out.split()[1].rstrip(":"))
    code, out, _ = await command("alert", "add", "--region", "1302", "--level", "orange", "--measure", "3",
                                 "--from", "2026-12-02 12:00:00", "--max-heavy-entry-ratio", "0.5",
                                 "--supersedes", str(yellow))
    assert code == 0 and f"superseding alert {yellow}" in out
    orange = int(out.split()[1].rstrip(":"))
    code, out, _ = await command("alert", "lift", str(orange), "--at", "2026-12-04 00:00:00")
    assert code == 0 and "2026-12-04T00:00:00+08:00" in out

    viewer = await staff_token(engine, region="1302")
    alerts = {a["id"]: a for a in (await client.get("/api/v1/alerts", params={"from": "2026-12-01",
                                                                            "to": "2026-12-05"},
                                                     headers=viewer)).json()["items"]}
    assert alerts[yellow]["endsAt"] == "2026-12-02T12:00:00+08:00" and alerts[yellow]["note"] == "命令行预警"
    assert (alerts[orange]["measure"], alerts[orange]["maxHeavyEntryRatio"], alerts[orange]["endsAt"]) == (
        3, 0.5, "2026-12-04T00:00:00+08:00")
    code, out, _ = await command("alert", "list", "--from", "2026-12-01", "--to", "2026-12-05")
    assert code == 0 and {str(yellow), str(orange)} <= {line.split("\t")[0] for line in out.splitlines()[1:]}

    code, out, _ = await command("exemption", "add", "--code", plant.code, "--plate", "冀B12345", "--color", "2",
                                 "--kind", "livelihood", "--from", "2026-12-01 00:00:00", "--to",
                                 "2026-12-05 00:00:00", "--approval", "唐环应急〔2026〕7号")
    assert code == 0, out
    admin = await staff_token(engine, role="admin", region="13")
    exemptions = (await client.get(f"/api/v1/admin/enterprises/{plant.code}/exemptions", headers=admin)).json()
    assert [(e["plateNo"], e["approval"], e["createdBy"]) for e in exemptions["items"]] == [
        ("冀B12345", "唐环应急〔2026〕7号", "cli")]

    entries = tmp_path / "watchlist.json"
    entries.write_text(json.dumps([
        {"plateNo": "冀B54321", "plateColor": "2", "reason": "5", "listedAt": "2026-11-01 00:00:00"},
        {"plateNo": "冀B54322", "plateColor": "2", "reason": "3", "listedAt": "2026-11-01 00:00:00",
         "releasedAt": "2026-11-10 00:00:00"}]), encoding="utf-8")
    code, out, _ = await command("watchlist", "import", str(entries))
    assert code == 0 and "1 listed, 1 released" in out
    listed = (await client.get("/api/v1/watchlist", headers=plant.auth)).json()["items"]
    assert {(e["plateNo"], e["releasedAt"]) for e in listed} >= {
        ("冀B54321", None), ("冀B54322", "2026-11-10T00:00:00+08:00")}

    await flush_audit()
    actions = await scalar(engine, "SELECT array_agg(DISTINCT action) FROM audit_entry WHERE actor->>'type' = 'cli' "
                                   "AND target IN (:code, :yellow, :orange, '冀B54321/2')",
                           code=plant.code, yellow=str(yellow), orange=str(orange))
    assert {"grade.set", "alert.create", "alert.lift", "exemption.create", "watchlist.list"} <= set(actions)
