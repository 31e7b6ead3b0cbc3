"""The FastAPI app factory: one app serving the registry API (and, later, /mcp)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from core.auth import build_verifier
from core.db import make_engine, make_sessionmaker
from core.settings import Settings, get_settings
from core.telemetry import make_tracer_provider
from core.web import install_error_handlers
from registry.endpoints import router as registry_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Nothing touches the network or the database until it starts."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url, echo=settings.database.echo)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Tollhouse" + (" (DEV MODE)" if settings.auth.dev_mode else ""),
        description="Governed MCP tool registry and gateway.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.verifier = build_verifier(settings.auth, settings.home)
    app.state.tracer_provider = make_tracer_provider(settings.telemetry)
    install_error_handlers(app)
    app.include_router(registry_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1 FROM alembic_version"))
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is returned
            return JSONResponse(
                status_code=503, content={"status": "not_ready", "reason": type(exc).__name__}
            )
        return JSONResponse({"status": "ready", "dev_mode": settings.auth.dev_mode})

    return app
