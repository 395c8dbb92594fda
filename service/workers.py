"""`hj1321 serve [--workers N]`: N worker processes (1 by default) under a supervisor, each worker listening
on the port with a socket of its own.

With one listening socket shared by every worker (uvicorn's own --workers), the worker that wakes
first accepts every connection waiting at that moment. Clients that keep their connections open (a
reverse proxy's upstream pool, a handful of busy gateways, the benchmarks) then mostly end on one
worker while the others idle (docs/scaling.md has the splits measured). Each socket here is opened with
SO_REUSEPORT, so the kernel spreads new connections over the workers' sockets by their addresses.

The parent only supervises: it forwards SIGTERM and SIGINT, starts a new worker in place of one that
died or stopped answering, and gives up when a worker cannot start, or dies while starting. A worker
whose event loop is stuck (a runaway computation, a call that never returns) keeps its socket, and the
kernel keeps handing it a share of the new connections, which then wait forever: each worker's loop
writes a heartbeat, and one silent for `hung_seconds` is killed and replaced. One worker is supervised
the same way. Workers never outlive the supervisor: if it dies without stopping them (SIGKILL, the OOM
killer), each stops as on SIGTERM, so no unsupervised worker keeps the port from a restarted service.

The supervisor also keeps the folder where its workers write their metric samples, which /metrics adds up
(PROMETHEUS_MULTIPROC_DIR): a new one at each start, rid of a dead worker's live gauges, removed at the end.
"""

import asyncio
import ctypes
import logging
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client import multiprocess
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("hj1321.workers")
_spawn = multiprocessing.get_context("spawn")
STARTUP_SECONDS = 10  # a worker that exits sooner is taken to have failed to start
HEARTBEAT_SECONDS = 1.0
# Workers write their samples through memory maps, and a page first written on a full disk kills the process
# with SIGBUS: no exception, nothing to catch. On the data disk (photos, the embedded database), a full disk
# killed every worker, then each replacement at its first sample, and the supervisor stopped the service.
# In shared memory, a full data disk costs the requests that need the disk a 503, and nothing else.
SHARED_MEMORY = Path("/dev/shm")


def listening_socket(host: str, port: int, *, shared: bool = True) -> socket.socket:
    """A socket bound to host:port; `shared`: one of the workers' sockets on that port (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock  # uvicorn listens on it, with its backlog


def _stop_with_parent() -> None:
    """SIGTERM to this process when the supervisor dies (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the request took hold
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(options: dict[str, Any], heartbeat: ctypes.c_double) -> None:
    # Out of the terminal's process group: Ctrl-C reaches the parent alone, which passes it on once. A
    # worker signalled twice (by the terminal and by the parent) would drop its requests in flight.
    os.setpgrp()
    _stop_with_parent()
    server = uvicorn.Server(uvicorn.Config("service.app:create_served_app", factory=True, **options))

    async def serve_and_beat() -> None:
        # From the event loop itself: a thread would go on beating while the loop is stuck.
        async def beat() -> None:
            while True:
                heartbeat.value = time.monotonic()
                await asyncio.sleep(HEARTBEAT_SECONDS)

        beating = asyncio.create_task(beat())
        try:
            await server.serve(sockets=[listening_socket(options["host"], options["port"])])
        finally:
            beating.cancel()

    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(serve_and_beat())
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def serve(options: dict[str, Any], workers: int, hung_seconds: float = 0, metrics_fallback: Path | None = None) -> int:
    """Run `workers` uvicorn workers until SIGTERM or SIGINT; 1 if they could not start. A worker whose event
    loop has not run for `hung_seconds` is killed and replaced (0: never). With `metrics_fallback`, the workers'
    metric samples are summed across them, in shared memory or, on a system without it, in that folder."""
    # A port in use fails here, once, with its error. Bound without SO_REUSEPORT, so that a port another
    # server shares out that way is in use too: two services must not split one port's connections.
    try:
        listening_socket(options["host"], options["port"], shared=False).close()
    except OSError as exc:
        logger.error(f"cannot listen on {options['host']}:{options['port']}: {exc.strerror}")
        return 1
    _open_files_as_allowed()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    with _metrics_folder(metrics_fallback) if metrics_fallback else nullcontext():
        return _supervise(options, workers, hung_seconds, stopping)


# What Linux allows a process at most (fs.nr_open) when no hard limit is set.
_MOST_OPEN_FILES = 1 << 20


def _open_files_as_allowed() -> None:
    """Raise this process's (and so its workers') open-file limit to the hard one. Each connection is an open file,
    and the soft limit a service manager usually sets, 1,024, is what a few hundred gateways reconnecting at once
    and a burst of slow clients reach together: past it, a worker accepts nobody."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _MOST_OPEN_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            logger.warning(f"cannot raise the open-file limit from {soft} to {wanted}: {exc}")


@contextmanager
def _metrics_folder(fallback: Path) -> Iterator[None]:
    """A new folder for the workers' samples, readable by this user alone (they name every plant): never one
    another user of the shared /dev/shm could have made first under a name known in advance. Its name carries
    the supervisor's pid, so that a later start removes the folder of one killed before it could."""
    root = SHARED_MEMORY if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK | os.X_OK) else fallback
    root.mkdir(parents=True, exist_ok=True)
    for left in root.glob("hj1321-metrics-*-*"):
        if _left_behind(left):
            shutil.rmtree(left, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"hj1321-metrics-{os.getpid()}-", dir=root)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _left_behind(folder: Path) -> bool:
    """A metrics folder of this user's whose supervisor is gone."""
    try:
        pid = int(folder.name.split("-")[2])
        status = folder.lstat()
        if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid():
            return False
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (ValueError, OSError):
        pass
    return False


def _supervise(options: dict[str, Any], workers: int, hung_seconds: float, stopping: threading.Event) -> int:
    processes = [_start(options) for _ in range(workers)]
    failed = False
    while not stopping.wait(0.5):
        for index, (process, started, heartbeat) in enumerate(processes):
            if process.is_alive():
                # 0 until the loop first runs: a worker still starting is not stuck.
                silent = time.monotonic() - heartbeat.value if heartbeat.value else 0.0
                if hung_seconds and silent > hung_seconds:
                    logger.error("a worker stopped answering; killing it and starting another",
                                 extra={"fields": {"worker_pid": process.pid, "silent_seconds": round(silent, 1)}})
                    process.kill()
                    process.join()
                    _forget(process)
                    processes[index] = _start(options)
                continue
            _forget(process)
            fields: dict[str, Any] = {"worker_pid": process.pid, "exit_code": process.exitcode}
            if process.exitcode is not None and process.exitcode < 0:
                fields["signal"] = signal.Signals(-process.exitcode).name
            # One that could not start, or died while starting, would only do it again: stop instead.
            if process.exitcode == STARTUP_FAILURE or time.monotonic() - started < STARTUP_SECONDS:
                logger.error("a worker could not start; stopping", extra={"fields": fields})
                failed = True
                stopping.set()
                break
            logger.warning("a worker exited; starting another", extra={"fields": fields})
            processes[index] = _start(options)
    _stop([process for process, _, _ in processes], grace=options["timeout_graceful_shutdown"])
    return 1 if failed else 0


def _forget(process: SpawnProcess) -> None:
    """Drop a dead worker's live gauges (the connections it had in use, the request bodies it held): /metrics
    would count them until the service stopped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and process.pid is not None:
        multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]


def _start(options: dict[str, Any]) -> tuple[SpawnProcess, float, ctypes.c_double]:
    heartbeat = _spawn.RawValue(ctypes.c_double, 0.0)  # one writer, one reader: an aligned double needs no lock
    process = _spawn.Process(target=_worker, args=(options, heartbeat))
    process.start()
    return process, time.monotonic(), heartbeat


def _stop(processes: list[SpawnProcess], grace: float) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes its requests in flight
    deadline = time.monotonic() + grace + 5
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
