"""An MCP client with identity: (user, agent) → delegated token → /mcp, on one trace.

It reaches the gateway over HTTP only. Every request of one session carries
the same W3C trace context, so the gateway's audit records of a run can be
joined by trace id.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
import mcp_types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agents.identity import exchange_async


def new_trace() -> tuple[str, str]:
    """A fresh (trace id, traceparent header)."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


@dataclass(frozen=True)
class ToolResult:
    name: str
    arguments: dict[str, Any]
    is_error: bool
    structured: dict[str, Any] | None
    text: str

    @property
    def denied(self) -> dict[str, Any] | None:
        """The denial, if the gateway refused this call by policy."""
        if self.is_error and self.structured and self.structured.get("code") == "POLICY_DENIED":
            return self.structured
        return None

    @property
    def value(self) -> Any:
        """The structured output, else the text parsed as JSON when it is JSON, else the text."""
        if self.structured is not None:
            return self.structured
        try:
            return json.loads(self.text)
        except ValueError:
            return self.text


class GatewaySession:
    """One (user, agent) session on the gateway: tools listed and called on one trace."""

    def __init__(self, client: Client, *, gateway_url: str, token: str, trace_id: str, traceparent: str) -> None:
        self.client = client
        self.gateway_url = gateway_url
        self.token = token
        self.trace_id = trace_id
        self.traceparent = traceparent

    async def list_tools(self) -> list[mcp_types.Tool]:
        return list((await self.client.list_tools()).tools)

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Call a tool. A policy denial is a result (``denied``), not an exception; a protocol
        error (unknown tool, invalid arguments) raises ``mcp.shared.exceptions.MCPError``."""
        result = await self.client.call_tool(name, arguments, meta={"traceparent": self.traceparent})  # type: ignore[arg-type]
        text = "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")
        return ToolResult(name, arguments, bool(result.is_error), result.structured_content, text)


@asynccontextmanager
async def open_session(
    gateway_url: str,
    *,
    user_token: str,
    agent_id: str,
    agent_key: Any,
    trace: tuple[str, str] | None = None,
) -> AsyncIterator[GatewaySession]:
    """Exchange for a delegated token, then open /mcp with it. Raises ``ExchangeRefused``."""
    trace_id, traceparent = trace or new_trace()
    async with httpx.AsyncClient(timeout=30, headers={"traceparent": traceparent}) as http:
        delegated = await exchange_async(http, gateway_url, user_token, agent_id, agent_key)
    headers = {"Authorization": f"Bearer {delegated.access_token}", "traceparent": traceparent}
    http2 = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0))
    url = f"{gateway_url.rstrip('/')}/mcp"
    async with Client(streamable_http_client(url, http_client=http2), cache=None) as client:  # type: ignore[arg-type]
        yield GatewaySession(client, gateway_url=gateway_url, token=delegated.access_token, trace_id=trace_id, traceparent=traceparent)
