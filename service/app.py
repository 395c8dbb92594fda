"""The FastAPI application: routers, the error envelope, health, and the database engine's lifetime."""

import asyncio
import gc
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from service import __version__, metrics
from service.admin.router import router as admin_router
from service.answers import Status
from service.audit.middleware import AuditMiddleware
from service.audit.router import router as audit_router
from service.audit.writer import AuditWriter
from service.auth.cache import CredentialCache
from service.auth.service import Gateway, Staff
from service.body import BodyMemory
from service.config import Settings, get_settings
from service.db import create_engine, create_sessionmaker
from service.docs_pages import install_docs
from service.emergency.router import router as emergency_router
from service.errors import ServiceUnavailable, Unauthorized, error_responses, install_error_handlers
from service.evidence.router import router as evidence_router
from service.http_guard import HttpGuardMiddleware
from service.ingest.router import router as ingest_router
from service.limits import GIVE_WAY_SECONDS, BackfillLane, InFlightLimiter, RateLimiter
from service.maintenance import MaintenanceTask
from service.observability import ObservabilityMiddleware, configure_logging
from service.openapi import DESCRIPTION, TAGS, operation_id
from service.photos.router import router as photos_router
from service.photos.store import photo_store
from service.queries.router import router as queries_router
from service.reports.router import XLSX_MEDIA_TYPE
from service.reports.router import router as reports_router
from service.stats.router import router as stats_router

logger = logging.getLogger("hj1321")


def tune_garbage_collector() -> None:
    """A batch allocates a few objects per record; with the default thresholds the collector ran
    every few records and rescanned every long-lived object, about a quarter of the CPU of a
    500-record batch (measured). Freeze what startup built and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 50)


async def database_state(engine: AsyncEngine, timeout_seconds: float = 2.0) -> Literal["ready", "read_only", "down"]:
    """Whether the database answers, and takes writes: a standby (a failover that left us on it) or a server made
    read-only answers, and every batch would fail."""
    try:
        async with asyncio.timeout(timeout_seconds), engine.connect() as connection:
            read_only = (await connection.execute(text("SELECT current_setting('transaction_read_only')"))).scalar()
        return "read_only" if read_only == "on" else "ready"
    except (SQLAlchemyError, OSError, TimeoutError):
        return "down"


async def seed_enterprise_gauges(engine: AsyncEngine) -> None:
    """Start the per-enterprise gauges from the database, so a restart does not hide silent plants."""
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text(
                "SELECT code, extract(epoch FROM last_seen_at), clock_skew_seconds FROM enterprise "
                "WHERE last_seen_at IS NOT NULL"))
            for code, last_seen, skew in rows:
                metrics.ENTERPRISE_LAST_SEEN.labels(code).set(float(last_seen))
                if skew is not None:
                    metrics.ENTERPRISE_CLOCK_SKEW.labels(code).set(skew)
    except (SQLAlchemyError, OSError) as exc:
        # The service still starts without its database; /readyz says so and requests get 503.
        logger.warning("could not read enterprises at startup: %s", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise ValueError("create_app needs a database URL; `hj1321 serve` starts the embedded server first")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.audit_writer = AuditWriter(app.state.sessionmaker, backlog=settings.audit_backlog_entries)
        app.state.audit_writer.start()
        await seed_enterprise_gauges(engine)
        tune_garbage_collector()
        maintenance = MaintenanceTask(engine, settings)
        maintenance.start()
        try:
            yield
        finally:
            await maintenance.stop()
            await app.state.audit_writer.stop()
            await engine.dispose()

    app = FastAPI(
        title="hj1321",
        summary="Receiving service for the HJ 1321-2023 mobile-source electronic ledgers",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    photo_store(settings)  # a bad HJ1321_PHOTO_STORE stops the start, not the first upload
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.in_flight = InFlightLimiter(settings.max_requests_in_flight_per_enterprise)
    app.state.body_memory = BodyMemory(settings.max_body_bytes_in_flight)
    lane_on, unlimited = settings.backfill_max_in_flight > 0, 10**9
    app.state.backfill_lane = BackfillLane(
        capacity=settings.db_pool_size, reserve=settings.backfill_reserve_connections,
        max_backfill=settings.backfill_max_in_flight if lane_on else unlimited,
        max_backfill_beside_live=settings.backfill_max_in_flight_beside_live if lane_on else unlimited,
        live_seconds=settings.backfill_live_latency_ms / 1000, retry_spread=settings.backfill_retry_spread_seconds,
        give_way_seconds=GIVE_WAY_SECONDS if lane_on else 0)
    app.state.gateway_cache = CredentialCache[Gateway](settings.credential_cache_seconds)
    app.state.staff_cache = CredentialCache[Staff](settings.credential_cache_seconds)
    install_error_handlers(app, retry_after_seconds=settings.retry_after_seconds)
    # Listed records and figures are JSON that shrinks tenfold; spreadsheets and photos are compressed already.
    # Level 3, not 6: a batch's answer (mostly receipts, hashes that do not shrink) and a page of movements
    # come out 7-12 % bigger for half to a third of the CPU: 2.4 µs a record of a 500-record batch at 6.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=3,
                       exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, XLSX_MEDIA_TYPE))
    app.add_middleware(HttpGuardMiddleware)
    # Outside the error envelope: it records the final status.
    app.add_middleware(AuditMiddleware, retry_after_seconds=settings.retry_after_seconds)
    app.add_middleware(ObservabilityMiddleware)  # added last: outermost, sees every final status
    app.include_router(ingest_router)
    app.include_router(photos_router)
    app.include_router(queries_router)
    app.include_router(stats_router)
    app.include_router(reports_router)
    app.include_router(admin_router)
    app.include_router(audit_router)
    app.include_router(evidence_router)
    app.include_router(emergency_router)
    install_docs(app)

    @app.get("/healthz", tags=["operations"], response_model=Status, summary="存活 The process is up")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], response_class=Response, summary="监控指标 Prometheus metrics",
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **error_responses(401)})
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus metrics (text exposition format); with HJ1321_METRICS_TOKEN set, only for that bearer."""
        # The per-plant series (last seen, clock skew) are not for anyone who can reach the port.
        if settings.metrics_token and not secrets.compare_digest(
                request.headers.get("authorization", "").encode(), f"Bearer {settings.metrics_token}".encode()):
            raise Unauthorized("/metrics needs the bearer token set in HJ1321_METRICS_TOKEN", code="missing_key",
                               headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        state = await database_state(request.app.state.engine)
        metrics.DATABASE_UP.set(state != "down")
        metrics.DATABASE_READ_ONLY.set(state == "read_only")
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.get("/readyz", tags=["operations"], responses={200: {"model": Status}, **error_responses(503)},
             summary="就绪 The database answers and takes writes")
    async def readyz(request: Request) -> JSONResponse:
        """The database answers and takes writes; 503 otherwise."""
        state = await database_state(request.app.state.engine)
        if state == "down":
            raise ServiceUnavailable("the database does not answer")
        if state == "read_only":
            raise ServiceUnavailable("the database takes no writes (a standby, or made read-only)")
        return JSONResponse({"status": "ready"})

    # Load balancers and container probes ask with HEAD.
    app.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
    app.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)

    return app


def create_served_app() -> FastAPI:
    """The app as `hj1321 serve` runs it, in its own process or in each worker: JSON logs, then the app."""
    configure_logging(get_settings().log_level)
    return create_app()
