"""A live gateway on a loopback port (uvicorn, in the test's event loop), seeded with the demo world."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.sdk.trace import TracerProvider

from agents.identity import exchange_async, load_agent_key
from core.auth import DevIssuer
from core.db import make_engine, make_sessionmaker, session_scope
from core.settings import Settings
from gateway.app import create_app
from gateway.seed import agent_key_path, seed_demo, seed_tools
from registry.schemas import AccessPolicy
from tools.spec import ToolSpec


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveGateway:
    url: str
    settings: Settings
    issuer: DevIssuer
    http: httpx.AsyncClient

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"

    def user_token(self, user: str) -> str:
        return self.issuer.issue_for(user)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.user_token(user)}"}

    async def delegated(self, user: str, agent: str) -> str:
        key = load_agent_key(agent_key_path(self.settings.home, agent))
        token = await exchange_async(self.http, self.url, self.user_token(user), agent, key)
        return token.access_token

    @asynccontextmanager
    async def mcp(self, token: str, *, mode: str = "auto") -> AsyncIterator[Client]:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30.0))
        async with Client(streamable_http_client(self.mcp_url, http_client=http), mode=mode, cache=None) as client:  # type: ignore[arg-type]
            yield client



async def seed(settings: Settings, specs: Mapping[str, ToolSpec] | None = None, policies: Mapping[str, AccessPolicy] | None = None) -> None:
    engine = make_engine(settings.database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        await seed_demo(sessionmaker, settings)
        if specs:
            async with session_scope(sessionmaker) as session:
                await seed_tools(session, settings, specs, policies)
    finally:
        await engine.dispose()


@asynccontextmanager
async def serve(
    settings: Settings, tools: Mapping[str, ToolSpec] | None = None, tracer_provider: TracerProvider | None = None
) -> AsyncIterator[LiveGateway]:
    """Serve the app on a free loopback port until the block ends."""
    port = free_port()
    settings.server.port = port
    settings.gateway.public_url = f"http://127.0.0.1:{port}"
    app = create_app(settings, tools=tools, tracer_provider=tracer_provider)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    async with httpx.AsyncClient(base_url=settings.gateway.public_url, timeout=30) as http:
        try:
            yield LiveGateway(settings.gateway.public_url, settings, DevIssuer(settings.home, settings.auth), http)
        finally:
            server.should_exit = True
            await task


@pytest.fixture
def gateway_settings(settings: Settings) -> Settings:
    # Every registry change is seen at once in tests; the TTLs are for other replicas.
    settings.gateway.agent_cache_seconds = 0
    settings.gateway.upstream_refresh_seconds = 0
    return settings


@pytest.fixture
async def live(gateway_settings: Settings) -> AsyncIterator[LiveGateway]:
    await seed(gateway_settings)
    async with serve(gateway_settings) as gateway:
        yield gateway


def structured(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return dict(result.structured_content)


async def audit_records(settings: Settings, kind_prefix: str = "", *, settle_seconds: float = 5.0) -> list[Any]:
    """Every audit record (oldest first), read through a fresh engine.

    Outcomes are committed just after the answer goes out, so this waits (briefly)
    until every finished call's intent has its outcome.
    """
    from core.audit import recent

    engine = make_engine(settings.database_url)
    try:
        deadline = asyncio.get_running_loop().time() + settle_seconds
        while True:
            async with make_sessionmaker(engine)() as session:
                records = list(reversed(await recent(session, limit=100_000)))
            intents = {r.call_id for r in records if r.kind == "tool_call.intent"}
            outcomes = {r.call_id for r in records if r.kind == "tool_call.outcome"}
            if intents <= outcomes or asyncio.get_running_loop().time() > deadline:
                return [r for r in records if r.kind.startswith(kind_prefix)]
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
