"""The /mcp endpoint: the SDK's low-level server, its tool list read live from the catalogue.

Every tools/call takes one path: decide (and record) first, then validate the
arguments against the approved schema held in memory, then record the intent,
run, and record the outcome. A denial is a tool result with ``isError`` and
``POLICY_DENIED``; a name the registry never saw is a protocol error.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import mcp_types
from mcp.server import Server
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract

from core import audit
from core.audit_writer import AuditUnavailable, AuditWriter
from core.auth import InvalidToken
from core.errors import TollhouseError
from core.telemetry import current_trace_id
from gateway.access import AccessService, Caller, UnknownTool
from gateway.catalogue import Catalogue
from gateway.invoke import Invoker, as_text
from gateway.tokens import GatewayTokens

logger = logging.getLogger(__name__)
MCP_SCOPE = "mcp:use"


class DelegatedTokenVerifier:
    """The SDK's TokenVerifier seam: only delegated tokens issued here, for /mcp, pass.

    A token that verified is remembered until it expires (bounded), so a session
    pays for the signature check once; expiry is still checked on every use,
    and the agent's status and grants are read live by the decision anyway.
    """

    MAX_CACHED = 10_000

    def __init__(self, tokens: GatewayTokens) -> None:
        self.tokens = tokens
        self._verified: dict[str, dict[str, Any]] = {}

    def _claims(self, token: str) -> dict[str, Any]:
        claims = self._verified.get(token)
        if claims is not None and claims["exp"] > time.time():
            return claims
        claims = self.tokens.verify_delegated(token)
        if len(self._verified) >= self.MAX_CACHED:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = self._claims(token)
        except InvalidToken as exc:
            # The reason, never the token.
            logger.info("refused token at /mcp: %s", exc.message)
            return None
        return AccessToken(
            token=token,
            client_id=claims["act"]["sub"],
            scopes=str(claims.get("scope", "")).split(),
            expires_at=int(claims["exp"]),
            resource=claims["aud"],
            subject=claims["sub"],
            claims=claims,
        )


def _caller() -> Caller:
    access = get_access_token()
    if access is None or access.claims is None:
        # The auth middleware admits no request without a verified token.
        raise MCPError(code=mcp_types.INVALID_REQUEST, message="no verified caller")
    return Caller.from_claims(access.claims)


def _denied(body: dict[str, Any]) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=as_text(body))],
        structured_content=body,
        is_error=True,
    )


def _trace_context(ctx: ServerRequestContext[Any]) -> otel_context.Context:
    """The caller's trace: the SDK's span if a global tracer records one, else W3C
    trace context from the request's ``_meta`` or its ``traceparent`` header."""
    if trace.get_current_span().get_span_context().is_valid:
        return otel_context.get_current()
    carrier: dict[str, str] = {}
    headers = getattr(ctx.request, "headers", None)
    if headers is not None:
        for key in ("traceparent", "tracestate"):
            if key in headers:
                carrier[key] = headers[key]
    meta = ctx.meta if isinstance(ctx.meta, Mapping) else {}
    for key in ("traceparent", "tracestate"):
        if isinstance(meta.get(key), str):
            carrier[key] = meta[key]
    return extract(carrier)


class McpGateway:
    def __init__(
        self,
        *,
        access: AccessService,
        catalogue: Catalogue,
        invoker: Invoker,
        tracer: trace.Tracer,
        writer: AuditWriter,
        enqueue: Callable[..., Awaitable[dict[str, Any]]],
    ) -> None:
        self.enqueue = enqueue
        self.access = access
        self.catalogue = catalogue
        self.invoker = invoker
        self.tracer = tracer
        self.writer = writer
        self.server: Server[Any] = Server(
            "tollhouse",
            version="0.1.0",
            title="Tollhouse gateway",
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            get_tool_input_schema=catalogue.input_schema,
        )

    async def _append(self, *entries: audit.AuditEntry) -> None:
        try:
            await self.writer.append(*entries)
        except AuditUnavailable as exc:
            # Fail closed: what the log cannot hold does not happen.
            raise MCPError(code=mcp_types.INTERNAL_ERROR, message=exc.message, data={"code": exc.code}) from exc

    def _submit(self, *entries: audit.AuditEntry) -> None:
        try:
            self.writer.submit(*entries)
        except AuditUnavailable as exc:
            raise MCPError(code=mcp_types.INTERNAL_ERROR, message=exc.message, data={"code": exc.code}) from exc

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListToolsResult:
        caller = _caller()
        with self.tracer.start_as_current_span("mcp tools/list", context=_trace_context(ctx)):
            visible = await self.access.visible(caller)
            self._submit(
                audit.make_record(
                    "mcp.tools_list",
                    user=caller.user,
                    agent=caller.agent,
                    status="ok",
                    trace_id=current_trace_id(),
                    detail={"tools": [f"{tool.name}@{tool.version}" for tool in visible]},
                )
            )
            return mcp_types.ListToolsResult(tools=[tool.listed for tool in visible])

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult:
        caller = _caller()
        arguments: dict[str, Any] = dict(params.arguments or {})
        with self.tracer.start_as_current_span("mcp tools/call", context=_trace_context(ctx)) as span:
            span.set_attribute("tollhouse.tool", params.name)
            trace_id = current_trace_id()
            call_id = str(uuid.uuid4())
            try:
                checked = await self.access.check(
                    caller, params.name, arguments, preflight=False, trace_id=trace_id, call_id=call_id, defer_record=True
                )
            except UnknownTool as exc:
                raise MCPError(code=mcp_types.INVALID_PARAMS, message=f"Unknown tool: {params.name}") from exc
            except AuditUnavailable as exc:
                raise MCPError(code=mcp_types.INTERNAL_ERROR, message=exc.message, data={"code": exc.code}) from exc
            decided = [checked.record] if checked.record is not None else []
            if not checked.decision.allowed or checked.tool is None:
                # Nothing runs on a denial: its record need not hold up the answer.
                self._submit(*decided)
                return _denied(checked.decision.as_error())
            tool = checked.tool
            classification: audit.Classification = tool.classification  # type: ignore[assignment]
            invalid = _first_schema_error(tool, arguments)
            if invalid is not None:
                path, message = invalid
                await self._append(*decided, audit.make_record(
                    "tool_call.rejected", user=caller.user, agent=caller.agent, tool=tool.name, tool_version=tool.version,
                    reason=f"{path}: {message}", status="invalid_arguments", trace_id=trace_id, call_id=call_id,
                ))
                raise MCPError(code=mcp_types.INVALID_PARAMS, message=f"invalid arguments for {tool.name}: {path}: {message}", data={"path": path})
            # Durable before the tool runs: a call the log cannot hold does not run.
            await self._append(*decided, audit.make_record(
                "tool_call.intent", user=caller.user, agent=caller.agent, tool=tool.name, tool_version=tool.version,
                arguments=arguments, arguments_digest=checked.record.arguments_digest if checked.record else None,
                classification=classification, status="started", trace_id=trace_id, call_id=call_id,
            ))
            if tool.long_running and tool.runs["kind"] == "in_process":
                return await self._as_job(tool, caller, arguments, trace_id, call_id, classification)
            started = time.perf_counter()
            with self.tracer.start_as_current_span("tollhouse.tool.run") as run_span:
                run_span.set_attribute("tollhouse.tool", tool.name)
                run_span.set_attribute("tollhouse.tool.version", tool.version)
                try:
                    outcome = await self.invoker.run(tool, caller, arguments, trace_id)
                    status, result, is_error = ("error" if outcome.is_error else "ok"), outcome.content, outcome.is_error
                except TollhouseError as exc:
                    status, result, is_error = "error", exc.to_dict(), True
                except Exception as exc:
                    logger.exception("tool %s failed", tool.name)
                    status, result, is_error = "error", {"code": "tool_failed", "message": type(exc).__name__}, True
                run_span.set_attribute("tollhouse.status", status)
            latency_ms = (time.perf_counter() - started) * 1000
            # The intent is already durable; the outcome is committed in the next group
            # without holding up the answer (a crash before it leaves an open intent).
            self._submit(audit.make_record(
                "tool_call.outcome", user=caller.user, agent=caller.agent, tool=tool.name, tool_version=tool.version,
                result=result, classification=classification, status=status, latency_ms=latency_ms,
                trace_id=trace_id, call_id=call_id,
            ))
            return mcp_types.CallToolResult(
                content=[mcp_types.TextContent(type="text", text=as_text(result))],
                structured_content=result if isinstance(result, dict) else None,
                is_error=is_error,
            )


    async def _as_job(
        self, tool: Any, caller: Caller, arguments: dict[str, Any], trace_id: str | None, call_id: str, classification: audit.Classification
    ) -> mcp_types.CallToolResult:
        """Enqueue a long-running call under the caller's identity and answer at once with the job reference."""
        with self.tracer.start_as_current_span("tollhouse.job.enqueue"):
            reference = await self.enqueue(
                tool=tool.name, tool_version=tool.version, user=caller.user, agent=caller.agent, arguments=arguments,
                scopes=tool.facts.required_scopes, roles=caller.roles, trace_id=trace_id, call_id=call_id,
            )
        await self._append(audit.make_record(
            "tool_call.outcome", user=caller.user, agent=caller.agent, tool=tool.name, tool_version=tool.version,
            result=reference, classification=classification, status="queued", trace_id=trace_id, call_id=call_id,
        ))
        return mcp_types.CallToolResult(
            content=[mcp_types.TextContent(type="text", text=as_text(reference))], structured_content=reference, is_error=False
        )


def _first_schema_error(tool: Any, arguments: dict[str, Any]) -> tuple[str, str] | None:
    errors = sorted(tool.validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    first = errors[0]
    return ".".join(str(part) for part in first.absolute_path) or "(arguments)", first.message
