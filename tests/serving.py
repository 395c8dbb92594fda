"""Running the service as a user does: the hj1321 command in separate processes on a free local port, or an app
of its own in this process with some settings changed."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
from fastapi import FastAPI

from service.app import create_app
from service.config import Settings

HJ1321 = [sys.executable, "-m", "service.cli"]
PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_hj1321(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(HJ1321 + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def hj1321_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HJ1321_DATABASE_URL")}
    env["PYTHONPATH"] = str(PROJECT)
    env.update(extra)
    return env


class Server:
    """`hj1321 serve` in a subprocess, waited for until /readyz answers, stopped with Ctrl-C."""

    def __init__(self, cwd: Path, env: dict[str, str], *extra: str, scheme: str = "http",
                 verify: str | bool = True, port: int | None = None, command: list[str] = HJ1321,
                 piped: bool = False) -> None:
        """`piped`: its output goes to a pipe, `process.stdout`, read only when the test reads it."""
        self.port = port or free_port()
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self.log = cwd / f"serve-{self.port}-{time.monotonic_ns()}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen([*command, "serve", "--port", str(self.port), *extra], cwd=cwd, env=env,
                                        stdout=subprocess.PIPE if piped else self._log_file,
                                        stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log_file.close()
                raise AssertionError(f"serve exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1, verify=verify).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"serve did not become ready: {self.log.read_text()}")

    def output(self) -> str:
        return self.log.read_text()

    def log_lines(self) -> list[dict[str, Any]]:
        """The service's own log lines, parsed (not the lines programs it runs print, such as PostgreSQL's)."""
        return [json.loads(line) for line in self.output().splitlines() if line.startswith('{"time"')]

    def kill(self, *, supervisor_only: bool = False) -> None:
        """SIGKILL to the supervisor and its workers at once: no shutdown, no flush, as a power cut leaves it
        (`supervisor_only`: to it alone, as the OOM killer might)."""
        family = [psutil.Process(self.process.pid)]
        if not supervisor_only:
            family += psutil.Process(self.process.pid).children(recursive=True)
        for member in family:
            member.kill()
        psutil.wait_procs(family, timeout=10)
        self.process.wait()
        self._log_file.close()

    def workers(self) -> list[psutil.Process]:
        """The worker processes (not multiprocessing's resource tracker, which leaves when the supervisor does)."""
        return [child for child in psutil.Process(self.process.pid).children()
                if "multiprocessing.spawn" in " ".join(child.cmdline())]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


@asynccontextmanager
async def serving(settings: Settings, **overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """An app of its own (its own pool, lane and caches) with these settings changed, and a client of it."""
    app = create_app(settings.model_copy(update=overrides))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60) as client:
        yield client, app
