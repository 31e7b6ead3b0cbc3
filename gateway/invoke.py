"""Running an allowed call: mint its downstream token, then run the tool in-process or upstream."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.propagate import inject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from gateway import federation
from gateway.access import Caller
from gateway.catalogue import ServedTool
from gateway.tokens import GatewayTokens, tool_audience
from tools.spec import ToolContext, ToolSpec


@dataclass(frozen=True)
class Outcome:
    content: Any
    structured: dict[str, Any] | None
    is_error: bool


class Invoker:
    def __init__(
        self,
        *,
        tokens: GatewayTokens,
        tools: dict[str, ToolSpec],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        tracer: trace.Tracer,
    ) -> None:
        self.tracer = tracer
        self.tokens = tokens
        self.tools = tools
        self.settings = settings
        self.sessionmaker = sessionmaker

    async def run(self, tool: ServedTool, caller: Caller, arguments: dict[str, Any], trace_id: str | None) -> Outcome:
        """Run one allowed call. The caller's inbound token is never passed on."""
        # Least privilege: the downstream token carries the scopes this tool needs, no more.
        scopes = tool.facts.required_scopes
        if tool.runs["kind"] == "in_process":
            context = in_process_context(
                self.tokens, self.settings, self.sessionmaker, tool.name,
                user=caller.user, agent=caller.agent, scopes=scopes, roles=caller.roles, trace_id=trace_id,
                data_dir=self.settings.data_path,
            )
            result = await self.tools[tool.name].handler(arguments, context)
            return Outcome(content=result, structured=result if isinstance(result, dict) else None, is_error=False)
        url = tool.runs["url"]
        token = self.tokens.mint_downstream(user=caller.user, agent=caller.agent, audience=url, scopes=scopes, trace_id=trace_id)
        with self.tracer.start_as_current_span("tollhouse.upstream.call") as span:
            span.set_attribute("tollhouse.upstream.url", url)
            carrier: dict[str, str] = {}
            inject(carrier)
            result = await federation.call_tool(url, token, tool.runs["remote_name"], arguments, carrier)
        texts = [block.text for block in result.content if getattr(block, "type", "") == "text"]
        content: Any = result.structured_content if result.structured_content is not None else "\n".join(texts)
        return Outcome(content=content, structured=result.structured_content, is_error=bool(result.is_error))


def in_process_context(
    tokens: GatewayTokens,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    tool: str,
    *,
    user: str,
    agent: str,
    scopes: frozenset[str],
    roles: frozenset[str],
    trace_id: str | None,
    data_dir: Path | None,
    job_id: str | None = None,
) -> ToolContext:
    """What an in-process tool gets for one call: a token minted for it alone, never the inbound one."""
    # The claims are our own, fresh: checking them again would only spend time. The
    # token is signed when the tool first presents it (a tool or upstream server
    # verifies it then).
    claims = tokens.downstream_claims(
        user=user, agent=agent, audience=tool_audience(tool), scopes=scopes, trace_id=trace_id, roles=roles
    )
    return ToolContext(
        user=user,
        agent=agent,
        scopes=scopes,
        claims=claims,
        sign=partial(tokens.sign, claims),
        trace_id=trace_id,
        settings=settings,
        sessionmaker=sessionmaker,
        data_dir=data_dir,
        job_id=job_id,
        roles=roles,
    )


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
