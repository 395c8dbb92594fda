"""The package as a bureau installs it: a wheel built from the checkout, installed in a fresh virtualenv
outside it, run from another folder. Everything it needs (schemas, code tables, policies, migrations, the
API pages' scripts) must be inside the wheel."""

import json
import subprocess
import sys
import venv

import httpx

from tests.serving import PROJECT, Server


def test_a_built_wheel_runs_end_to_end_from_any_folder(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(dist), str(PROJECT)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("hj1321-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, hj1321 = env_dir / "bin" / "python", env_dir / "bin" / "hj1321"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", f"{wheel}[embedded]"],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # No checkout on the path: only what the wheel installed.
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "HJ1321_DATA_DIR": str(elsewhere / "var")}

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(hj1321), *args], cwd=elsewhere, env=env, input=stdin, capture_output=True,
                              timeout=180)

    version = run("--version")
    assert version.returncode == 0 and version.stdout.decode().startswith("hj1321 ")
    assert run("samples", "samples").returncode == 0
    for kind in ("movements", "inplant-vehicles", "nonroad-machinery", "clean-transport-volumes"):
        checked = run("validate", "-", "--kind", kind, "--json",
                      stdin=(elsewhere / "samples" / f"{kind}.valid.json").read_bytes())
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout)["rejected"] == 0
    migrated = run("migrate")
    assert migrated.returncode == 0, migrated.stderr

    server = Server(elsewhere, env, command=[str(hj1321)])
    try:
        assert httpx.get(f"{server.base}/readyz").json() == {"status": "ready"}
        page = httpx.get(f"{server.base}/docs")
        assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
        script = httpx.get(f"{server.base}/docs-static/swagger-ui-bundle.js")
        assert script.status_code == 200 and len(script.content) > 100_000
        assert httpx.get(f"{server.base}/openapi.json").json()["info"]["title"] == "hj1321"
    finally:
        server.stop()
