"""The FastAPI app factory: the registry API, the token endpoint, /mcp, discovery documents."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from mcp.server.auth.settings import AuthSettings as McpAuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import text
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Receive, Scope, Send

from core.audit_verify import checkpoint_forever
from core.audit_writer import AuditWriter
from core.auth import build_verifier
from core.db import make_engine, make_read_sessionmaker, make_sessionmaker
from core.jobs import make_celery
from core.settings import Settings, get_settings
from core.telemetry import make_tracer_provider
from core.web import install_error_handlers
from gateway import federation, jobs
from gateway.access import AccessService
from gateway.admin import router as admin_router
from gateway.audit_endpoints import router as audit_router
from gateway.catalogue import Catalogue
from gateway.directory import AgentDirectory
from gateway.endpoints import router as gateway_router
from gateway.exchange import router as exchange_router
from gateway.invoke import Invoker
from gateway.llm import router as llm_router
from gateway.mcp import MCP_SCOPE, DelegatedTokenVerifier, McpGateway
from gateway.ratelimit import make_rate_limiter
from gateway.tokens import GatewayTokens
from registry.endpoints import router as registry_router
from tools.catalogue import in_process_tools
from tools.spec import ToolSpec

MCP_PATH = "/mcp"


def _transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host and Origin allow-lists for /mcp (DNS-rebinding protection), on whatever address we bind."""
    from urllib.parse import urlsplit

    public = urlsplit(settings.public_url)
    hosts = settings.gateway.allowed_hosts or [public.netloc, "127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = settings.gateway.allowed_origins or [
        f"{public.scheme}://{public.netloc}", "http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*",
    ]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def create_app(
    settings: Settings | None = None,
    *,
    tools: Mapping[str, ToolSpec] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the app. Nothing touches the network or the database until it starts."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url, echo=settings.database.echo)
    sessionmaker = make_sessionmaker(engine)
    # The per-call caches read without taking SQLite's write lock from the audit writer.
    read_sessionmaker = make_read_sessionmaker(engine)
    tool_specs = dict(tools if tools is not None else in_process_tools(settings.extra_tool_modules))
    tokens = GatewayTokens(settings)
    directory = AgentDirectory(read_sessionmaker, ttl_seconds=settings.gateway.agent_cache_seconds)
    catalogue = Catalogue(
        sessionmaker, tool_specs, ttl_seconds=settings.gateway.catalogue_ttl_seconds, read_sessionmaker=read_sessionmaker
    )
    limiter = make_rate_limiter(settings.gateway.rate_limit_redis_url or None)
    tracer_provider = tracer_provider or make_tracer_provider(settings.telemetry)
    tracer = tracer_provider.get_tracer("tollhouse.gateway")
    writer = AuditWriter(settings.database_url, max_batch=settings.audit.group_commit_max, tracer=tracer)
    access = AccessService(
        catalogue=catalogue, directory=directory, limiter=limiter, sessionmaker=sessionmaker,
        writer=writer, tracer=tracer, approval_ttl_seconds=settings.gateway.approval_ttl_seconds,
    )
    celery = make_celery(settings)

    async def enqueue(**job: Any) -> dict[str, Any]:
        return await jobs.enqueue(sessionmaker, celery, **job)

    gateway = McpGateway(
        enqueue=enqueue,
        access=access,
        catalogue=catalogue,
        invoker=Invoker(tokens=tokens, tools=tool_specs, settings=settings, sessionmaker=sessionmaker, tracer=tracer),
        tracer=tracer,
        writer=writer,
    )
    mcp_app = gateway.server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        json_response=settings.gateway.mcp_json_response,
        stateless_http=settings.gateway.mcp_stateless,
        transport_security=_transport_security(settings),
        auth=McpAuthSettings(
            issuer_url=settings.public_url,
            resource_server_url=settings.mcp_resource,
            required_scopes=[MCP_SCOPE],
            validate_token_resource=True,
        ),
        token_verifier=DelegatedTokenVerifier(tokens),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        background = []
        if settings.gateway.upstream_refresh_seconds > 0:
            background.append(asyncio.create_task(
                federation.refresh_forever(settings.gateway.upstream_refresh_seconds, tokens=tokens, sessionmaker=sessionmaker)
            ))
        if settings.jobs.reap_interval_seconds > 0:
            background.append(asyncio.create_task(
                jobs.reap_forever(settings.jobs.reap_interval_seconds, sessionmaker, celery, settings.jobs.stale_after_seconds)
            ))
        if settings.audit.checkpoint_interval_seconds > 0:
            background.append(asyncio.create_task(
                checkpoint_forever(settings.audit.checkpoint_interval_seconds, sessionmaker, settings)
            ))
        await writer.start()
        try:
            # A mounted sub-app's lifespan does not run: the MCP session manager runs here.
            async with gateway.server.session_manager.run():
                yield
        finally:
            await writer.stop()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await limiter.close()
            tracer_provider.shutdown()
            await engine.dispose()

    app = FastAPI(
        title="Tollhouse" + (" (DEV MODE)" if settings.auth.dev_mode else ""),
        description="Governed MCP tool registry and gateway.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.verifier = build_verifier(settings.auth, settings.home)
    app.state.tokens = tokens
    app.state.directory = directory
    app.state.catalogue = catalogue
    app.state.access = access
    app.state.tracer_provider = tracer_provider
    app.state.audit_writer = writer
    app.state.celery = celery
    install_error_handlers(app)
    app.include_router(registry_router)
    app.include_router(gateway_router)
    app.include_router(audit_router)
    app.include_router(exchange_router)
    app.include_router(llm_router)
    app.include_router(admin_router)

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

    # The MCP endpoint is matched first (it is the hot path; the API routes never
    # claim /mcp), and the MCP app's other routes through the catch-all mount, last.
    app.router.routes.insert(0, _ExactPath(MCP_PATH, mcp_app))
    app.mount("/", mcp_app)
    return app


class _ExactPath(BaseRoute):
    """One exact path handed unchanged to an ASGI app, before the router walks its other routes."""

    def __init__(self, path: str, app: ASGIApp) -> None:
        self.path = path
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path, root = scope["path"], scope.get("root_path", "")
            if (path[len(root):] if root and path.startswith(root) else path) == self.path:
                return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)
