"""Talking to upstream MCP servers: list their tools, call one, keep the registry in step."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx2
import mcp_types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import session_scope
from gateway.tokens import GatewayTokens
from registry.upstream import UpstreamService

logger = logging.getLogger(__name__)
GATEWAY_SERVICE_SUBJECT = "service:tollhouse-gateway"


def _client(url: str, token: str, extra_headers: dict[str, str] | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}", **(extra_headers or {})}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0))
    return Client(streamable_http_client(url, http_client=http), cache=None)


async def fetch_tools(url: str, token: str) -> list[dict[str, Any]]:
    """Every tool the server advertises, as wire objects."""
    async with _client(url, token) as client:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(100):
            page = await client.list_tools(cursor=cursor)
            tools.extend(tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools


async def call_tool(url: str, token: str, name: str, arguments: dict[str, Any], trace_context: dict[str, str]) -> mcp_types.CallToolResult:
    """Call one upstream tool, carrying W3C trace context both as headers and in MCP ``_meta``."""
    async with _client(url, token, trace_context) as client:
        return await client.call_tool(name, arguments, meta=dict(trace_context) or None)  # type: ignore[arg-type]


async def refresh_server(
    name: str, *, tokens: GatewayTokens, sessionmaker: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    """List one server's tools with the gateway's own identity and sync them into the registry.

    Raises ``NotFound`` for an unknown server; a server that cannot be reached
    is recorded on the server (``last_error``) and re-raised.
    """
    async with session_scope(sessionmaker) as session:
        server = await UpstreamService(session).get(name)
        url = server.url
    token = tokens.mint_downstream(
        user=GATEWAY_SERVICE_SUBJECT, agent=GATEWAY_SERVICE_SUBJECT, audience=url, scopes=frozenset({"mcp:list"}), trace_id=None
    )
    try:
        observed = await fetch_tools(url, token)
    except Exception as exc:
        async with session_scope(sessionmaker) as session:
            service = UpstreamService(session)
            await service.record_failure(await service.get(name), f"{type(exc).__name__}: {exc}")
        raise
    async with session_scope(sessionmaker) as session:
        service = UpstreamService(session)
        return await service.sync(await service.get(name), observed)


async def refresh_all(*, tokens: GatewayTokens, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with session_scope(sessionmaker) as session:
        names = [server.name for server in await UpstreamService(session).list()]
    for name in names:
        try:
            await refresh_server(name, tokens=tokens, sessionmaker=sessionmaker)
        except Exception:
            logger.warning("refresh of upstream server %s failed", name, exc_info=True)


async def refresh_forever(interval: float, *, tokens: GatewayTokens, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Re-read every upstream server's tool list on an interval, for the life of the app."""
    while True:
        await asyncio.sleep(interval)
        await refresh_all(tokens=tokens, sessionmaker=sessionmaker)
