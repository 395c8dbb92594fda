"""The FastAPI application: routers, the error envelope, health, and the database engine's lifetime."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.config import Settings, get_settings
from service.db import create_engine, create_sessionmaker
from service.errors import install_error_handlers
from service.ingest.router import router as ingest_router
from service.photos.router import router as photos_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise ValueError("create_app needs a database URL; `hj1321 serve` starts the embedded server first")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="hj1321",
        summary="Receiving service for the HJ 1321-2023 mobile-source electronic ledgers",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app, retry_after_seconds=settings.retry_after_seconds)
    app.include_router(ingest_router)
    app.include_router(photos_router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> JSONResponse:
        """The database answers; 503 otherwise."""
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return JSONResponse({"status": "ready"})

    return app
