"""The hj1321 command, run as a user runs it: in a fresh folder, as separate processes."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.cli import main
from service.embedded_db import start_embedded
from tests.serving import Server, free_port, hj1321_env, run_hj1321

SAMPLES = Path(__file__).resolve().parent / "samples"


def test_validate_accepts_the_valid_samples(capsys):
    for kind in ("movements", "inplant-vehicles", "nonroad-machinery"):
        assert main(["validate", str(SAMPLES / f"{kind}.valid.json"), "--kind", kind]) == 0
        assert "valid against schemas/" in capsys.readouterr().out


def test_validate_prints_every_error(capsys):
    assert main(["validate", str(SAMPLES / "movements.invalid.json"), "--kind", "movements"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "records[0].emissionStandard", "records[1].plateColor", "records[2].vin", "records[3].passTime",
        "records[4].direction", "records[5].plateNo"]
    assert lines[-1].endswith("6 error(s) against schemas/movements.batch.json")


def test_validate_takes_a_single_record(tmp_path, capsys):
    record = json.loads((SAMPLES / "movements.valid.json").read_text(encoding="utf-8"))["records"][0]
    path = tmp_path / "one.json"
    path.write_text(json.dumps({**record, "plateColor": 1}), encoding="utf-8")
    assert main(["validate", str(path), "--kind", "movements"]) == 1
    assert "plateColor: 1 is not of type 'string'" in capsys.readouterr().out


def test_validate_reports_unreadable_files(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{", encoding="utf-8")
    assert main(["validate", str(path), "--kind", "movements"]) == 2
    assert "broken.json" in capsys.readouterr().err


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def _post_sample(base: str, key: str, name: str, code: str | None = None) -> dict:
    body = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
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
        for name in ("movements.valid.json", "inplant-vehicles.valid.json", "nonroad-machinery.valid.json"):
            answer = _post_sample(server.base, key, name)
            assert answer["accepted"] == answer["received"] > 0
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
    assert not (workdir / "var").exists()
