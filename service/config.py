from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PACKAGE = Path(__file__).resolve().parent
# Installed from a wheel, the schemas and migrations are inside the package; in a checkout (and an
# editable install) they are the repository's top-level folders.
_DATA = _PACKAGE if (_PACKAGE / "schemas").is_dir() else _PACKAGE.parent
SCHEMAS_DIR = _DATA / "schemas"
MIGRATIONS_DIR = _DATA / "migrations"


class ConfigurationError(Exception):
    """A setting or the environment stops the service from starting: said in one line, never a traceback."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HJ1321_", extra="ignore", populate_by_name=True)

    # Empty means: start the embedded PostgreSQL under data_dir.
    database_url: str = Field(default="", validation_alias=AliasChoices("DATABASE_URL", "HJ1321_DATABASE_URL"))
    data_dir: Path = Path("var")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Where photo bytes live (service/photos/store.py): empty for <data_dir>/photos, or file:///path.
    photo_store: str = ""
    db_pool_size: int = 10
    # Every wait on the database is bounded; past a bound the answer is 503 + Retry-After, never a hang.
    db_pool_timeout_seconds: float = 5.0
    db_connect_timeout_seconds: float = 5.0
    db_lock_timeout_seconds: float = 5.0
    db_statement_timeout_seconds: float = 60.0

    max_body_bytes: int = 16 * 1024 * 1024
    # Request bodies a worker holds in memory at once; past it, a large one gets 503 server_busy (a gate's
    # small batch never does). Unbounded, 80 bodies of 14 MB at once took a worker to 2.5 GB; with it, 0.8 GB.
    max_body_bytes_in_flight: int = 256 * 1024 * 1024
    # A body that has not arrived in full by then gets 408: a stalled upload cannot keep its place.
    body_timeout_seconds: float = 60.0
    # A request head (the request line and headers, under a kilobyte) not in full by then gets 408 and the
    # connection is closed: counted from the connection's opening, or from its last answer.
    header_timeout_seconds: float = 10.0
    # Requests of one enterprise in flight at once (per worker); more get 429. 0 turns the limit off.
    max_requests_in_flight_per_enterprise: int = 8
    # Backfill (records flagged 补传 or passed longer ago than the timeliness window) in flight per worker,
    # and the database connections it must leave free for live passes; 0 turns the lane off.
    backfill_max_in_flight: int = 2
    backfill_reserve_connections: int = 3
    # Backfill in flight per worker while live batches arrive on it (one came in the last second).
    backfill_max_in_flight_beside_live: int = 1
    # More than one in ten small live batches of the last second slower than this close the lane to backfill
    # for a second: the worker is saturated. The default is the single-record p99 the service is built for.
    # 0: latency does not close it.
    backfill_live_latency_ms: int = 50
    # A 补传 batch deferred while the lane is closed comes back after it opens, spread over this many seconds.
    backfill_retry_spread_seconds: int = 3
    max_batch_records: int = 500
    # A worker whose event loop has not run for this long is killed and replaced (its requests in flight are
    # lost, unacknowledged). 0: never.
    worker_timeout_seconds: int = 60
    max_photo_bytes: int = 2 * 1024 * 1024
    max_inline_photo_bytes: int = 1024 * 1024

    # HJ 1321 timeliness: a record received later than this after its passTime is late.
    timeliness_window_seconds: int = 600
    future_tolerance_seconds: int = 300
    # Movements and what is derived from them are kept this many months (the standard: at least 24), the
    # ledgers' history this many years (at least 5); the maintenance task purges what is older (retention.py).
    retention_months: int = 24
    ledger_retention_years: int = 5
    # How often a worker runs maintenance (make the coming months' partitions, purge past retention); one
    # worker at a time across every host does it. 0 leaves it to `hj1321 retention` from cron.
    maintenance_interval_seconds: int = 3600
    retry_after_seconds: int = 5
    last_seen_resolution_seconds: int = 10
    # How long a worker trusts a credential it has checked: a revocation elsewhere reaches it within this.
    credential_cache_seconds: float = 10.0
    # Audit entries of reads waiting to be written, per worker; past it staff requests get 503.
    audit_backlog_entries: int = 10_000
    # Audit entries are kept this long (never less than 180 days: 网络安全法 asks for six months).
    audit_retention_days: int = 365
    # When set, GET /metrics answers only `Authorization: Bearer <metrics_token>`.
    metrics_token: str = ""
    # Requests per second and burst per enterprise and worker process; 0 turns the limit off.
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        return to_asyncpg_url(url) if url else url

    @field_validator("maintenance_interval_seconds", "backfill_live_latency_ms", "backfill_retry_spread_seconds",
                     "worker_timeout_seconds", "backfill_max_in_flight", "backfill_reserve_connections")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 or more")
        return value

    @field_validator("backfill_reserve_connections")
    @classmethod
    def _backfill_can_have_a_connection(cls, value: int, info: ValidationInfo) -> int:
        # Reserving the whole pool would refuse every 补传 batch for ever, its gateway told to come back each time.
        pool = info.data.get("db_pool_size")
        if info.data.get("backfill_max_in_flight") and pool is not None and value >= pool:
            raise ValueError(f"must be less than HJ1321_DB_POOL_SIZE ({pool}), or no 补传 batch is ever admitted; "
                             "HJ1321_BACKFILL_MAX_IN_FLIGHT=0 turns the lane off")
        return value

    @field_validator("audit_retention_days")
    @classmethod
    def _six_months_at_least(cls, value: int) -> int:
        if value < 180:
            raise ValueError("audit entries must be kept at least 180 days")
        return value

    # Waits that must be bounded, where 0 would mean none or refuse everything. PostgreSQL counts its timeouts in
    # whole milliseconds and takes 0 (and so 0.0004) for no bound at all.
    @field_validator("db_pool_timeout_seconds", "db_connect_timeout_seconds", "db_lock_timeout_seconds",
                     "db_statement_timeout_seconds", "header_timeout_seconds")
    @classmethod
    def _a_millisecond_at_least(cls, value: float) -> float:
        if value < 0.001:
            raise ValueError("must be 0.001 or more: this wait is bounded")
        return value

    # backfill_max_in_flight_beside_live: backfill waiting for the live passes to stop could wait for ever.
    @field_validator("timeliness_window_seconds", "future_tolerance_seconds", "retention_months",
                     "ledger_retention_years", "backfill_max_in_flight_beside_live", "db_pool_size")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value


def to_asyncpg_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// spellings and pin the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


@lru_cache
def get_settings() -> Settings:
    return Settings()
