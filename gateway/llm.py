"""``POST /v1/chat/completions``: OpenAI-compatible inference, governed like a tool call.

The caller is an agent acting for a user (a delegated token); the per-agent
model allow-list decides which configured models it may use; litellm talks to
the provider with the gateway's key, never the caller's token. Every inference
and every refusal is an audit record (kind ``inference``) on the caller's trace.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from opentelemetry import trace
from opentelemetry.propagate import extract
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core import audit
from core.auth import InvalidToken
from core.canonical import NotCanonicalJson, digest
from core.db import session_scope
from core.settings import LlmModel, LlmSettings
from core.telemetry import current_trace_id

logger = logging.getLogger(__name__)
router = APIRouter()

# OpenAI request fields passed on to the provider. Anything else is refused, so a
# caller cannot steer litellm itself (api_base, api_key, mock_response, ...).
PASSTHROUGH = frozenset({
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "presence_penalty",
    "frequency_penalty", "logit_bias", "seed", "user", "response_format", "parallel_tool_calls",
    "logprobs", "top_logprobs", "reasoning_effort", "stream_options",
})
BODY_POLICY: dict[str, audit.Classification] = {"full": "internal", "redacted": "confidential"}
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


class ChatRequest(BaseModel):
    """The part of an OpenAI chat request the gateway reads; other fields ride in ``model_extra``."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None


class Refusal(Exception):
    """A request answered with an OpenAI-style error (and a deny record) instead of an inference."""

    def __init__(self, status: int, code: str, message: str, layer: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.layer = status, code, message, layer


def _error_body(status: int, code: str, message: str) -> dict[str, Any]:
    kind = "api_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """An OpenAI-shaped error response."""
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse(status_code=status, content=_error_body(status, code, message), headers=headers)


@functools.cache
def litellm_module() -> Any:
    """litellm, imported on first use: it takes seconds to import, and without the
    env var below its import fetches the model cost map from GitHub."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False  # gone by 1.106 (a no-op then); older versions phone home without it
    litellm.suppress_debug_info = True  # else every provider error prints a banner to stdout
    return litellm


def _cost(model: str, compute: Callable[[], Any]) -> float | None:
    """What litellm says a call cost, or None when it has no price for the model."""
    try:
        return float(compute())
    except litellm_module().exceptions.ModelNotMappedError:
        logger.info("no price known for %s: cost_usd left empty", model)
    except Exception as exc:  # noqa: BLE001 - litellm's cost code re-raises anything; a price must never fail a call
        logger.warning("cost of a %s call not computed: %s: %s", model, type(exc).__name__, exc)
    return None


def _arguments_digest(arguments: str) -> str:
    # Parsed, it matches the arguments_digest of the tool call the agent then
    # makes at /mcp; arguments that do not parse are digested as text.
    try:
        return digest(json.loads(arguments))
    except (ValueError, NotCanonicalJson):
        return digest(arguments)


def normalise_message(message: Any) -> dict[str, Any] | None:
    """The assistant message in plain OpenAI shape, without provider extras."""
    if not isinstance(message, dict):
        return None
    # Empty content is None either way, so a reply digests the same streamed or not.
    out: dict[str, Any] = {"role": message.get("role") or "assistant", "content": message.get("content") or None}
    calls = [(call.get("id"), call.get("function") or {}) for call in message.get("tool_calls") or []]
    if calls:
        out["tool_calls"] = [
            {"id": id_, "type": "function", "function": {"name": fn.get("name") or "", "arguments": fn.get("arguments") or ""}}
            for id_, fn in calls
        ]
    return out


def tool_calls_summary(message: dict[str, Any] | None) -> list[dict[str, str]]:
    """The tools the model asked for: names and argument digests."""
    return [
        {"name": call["function"]["name"], "arguments_digest": _arguments_digest(call["function"]["arguments"])}
        for call in (message or {}).get("tool_calls", [])
    ]


class Accumulator:
    """Re-assembles a stream's first choice and keeps its usage, as the chunks pass by."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        if isinstance(chunk.get("usage"), dict):
            self.usage = {key: chunk["usage"].get(key) for key in USAGE_KEYS}
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue  # the record keeps the first choice, as the non-streamed one does
            delta = choice.get("delta") or {}
            self.content.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                slot = self.calls.setdefault(call.get("index") or 0, {"id": None, "function": {"name": "", "arguments": ""}})
                function, slot["id"] = call.get("function") or {}, slot["id"] or call.get("id")
                slot["function"]["name"] = slot["function"]["name"] or function.get("name") or ""
                slot["function"]["arguments"] += function.get("arguments") or ""

    def message(self) -> dict[str, Any] | None:
        return normalise_message({"content": "".join(self.content), "tool_calls": [self.calls[i] for i in sorted(self.calls)]})


class Inference:
    """One request: its caller and trace, then (once admitted) its body and model, and its records."""

    body: ChatRequest
    model: LlmModel

    def __init__(self, request: Request, claims: dict[str, Any], span: trace.Span) -> None:
        self.request, self.span, self.trace_id = request, span, current_trace_id()
        self.settings: LlmSettings = request.app.state.settings.llm
        self.user: str = claims["sub"]
        self.agent: str = claims["act"]["sub"]
        self.started = time.perf_counter()

    async def record(self, *, decision: str, layer: str, **fields: Any) -> None:
        async with session_scope(self.request.app.state.sessionmaker) as session:
            await audit.record(session, "inference", user=self.user, agent=self.agent, tool=None,
                               decision=decision, layer=layer, trace_id=self.trace_id, **fields)

    async def admit(self) -> None:
        """Check the agent, the body and the model. Raises :class:`Refusal`."""
        facts = await self.request.app.state.directory.get(self.agent)
        if facts is None or facts.status != "active":
            state, layer = ("not registered", "agent_unregistered") if facts is None else (facts.status, "agent_not_active")
            raise Refusal(403, "agent_not_active", f"agent {self.agent!r} is {state}", layer)
        try:
            body = ChatRequest.model_validate(await self.request.json())
            digest(body.messages)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error.get("loc", ())) or "(body)"
            raise Refusal(400, "invalid_request", f"{where}: {error.get('msg')}", "invalid_request") from exc
        except (ValueError, NotCanonicalJson) as exc:  # json.JSONDecodeError is a ValueError
            raise Refusal(400, "invalid_request", f"the body is not valid JSON: {exc}", "invalid_request") from exc
        extra = body.model_extra or {}
        unsupported = sorted(set(extra) - PASSTHROUGH) + ([] if isinstance(extra.get("stream_options", {}), dict) else ["stream_options (not an object)"])
        if unsupported:
            raise Refusal(400, "invalid_request", f"unsupported parameter(s): {', '.join(unsupported)}", "invalid_request")
        if body.model not in self.settings.models:
            raise Refusal(404, "model_not_found", f"model {body.model!r} does not exist", "model_not_found")
        allowed = self.settings.agent_models.get(self.agent, [])
        if "*" not in allowed and body.model not in allowed:
            raise Refusal(403, "model_not_allowed", f"agent {self.agent!r} may not use model {body.model!r}", "model_not_allowed")
        self.body, self.model = body, self.settings.models[body.model]
        self.span.set_attribute("gen_ai.request.model", body.model)

    def api_key(self) -> str:
        # Some providers insist on a key even where none is needed (local servers).
        return (os.environ.get(self.model.api_key_env) if self.model.api_key_env else None) or "unused"

    def scrub(self, exc: BaseException) -> str:
        """An exception for the log: type and message, the provider key masked, bounded."""
        text, key = f"{type(exc).__name__}: {exc}", self.api_key()
        return (text.replace(key, "***") if key != "unused" else text)[:500]

    async def call(self) -> Any:
        """Ask the provider through litellm; its exceptions propagate."""
        litellm = await anyio.to_thread.run_sync(litellm_module)  # the first import takes seconds: not on the loop
        extra = {key: value for key, value in (self.body.model_extra or {}).items() if key != "stream_options"}
        extra.update({key: getattr(self.body, key) for key in ("tools", "tool_choice") if getattr(self.body, key) is not None})
        if self.body.stream:
            extra["stream_options"] = {"include_usage": True}
        self.started = time.perf_counter()
        return await litellm.acompletion(
            model=self.model.litellm_model, api_base=self.model.api_base or None, api_key=self.api_key(),
            messages=self.body.messages, timeout=self.settings.timeout_seconds, stream=self.body.stream, **extra,
        )

    async def finish(self, *, status: str, message: dict[str, Any] | None = None, usage: dict[str, Any] | None = None,
                     cost: float | None = None, reason: str | None = None) -> None:
        """Write the one record of an inference, and the span's usage attributes."""
        usage = usage or {}
        for attribute, key in (("gen_ai.usage.input_tokens", "prompt_tokens"), ("gen_ai.usage.output_tokens", "completion_tokens")):
            if isinstance(usage.get(key), int):
                self.span.set_attribute(attribute, usage[key])
        keep = self.settings.record_bodies != "none"
        await self.record(
            decision="allow", layer="llm", status=status, reason=reason,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            # audit.record redacts by classification after taking the digests of the real values.
            arguments=self.body.messages if keep else None, result=message if keep else None,
            classification=BODY_POLICY.get(self.settings.record_bodies, "confidential"),
            detail={
                "model": self.body.model, "provider_model": self.model.litellm_model,
                **{key: usage.get(key) for key in USAGE_KEYS}, "cost_usd": cost,
                "prompt_digest": digest(self.body.messages),
                "response_digest": digest(message) if message is not None else None,
                "tool_calls": tool_calls_summary(message), "stream": self.body.stream,
            },
        )

    async def stream(self, wrapper: Any) -> AsyncIterator[str]:
        """SSE to the caller as chunks arrive. The record is committed before ``[DONE]``
        (or the error event), and written even when the caller hangs up."""
        wants_usage = bool(((self.body.model_extra or {}).get("stream_options") or {}).get("include_usage"))
        accumulated, status, reason, recorded = Accumulator(), "cancelled", None, False

        async def close() -> None:
            nonlocal recorded
            recorded = True
            await wrapper.aclose()
            usage, model = accumulated.usage, self.model.litellm_model
            cost = _cost(model, lambda: sum(litellm_module().cost_per_token(
                model=model, prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"]))) if usage else None
            try:
                await self.finish(status=status, message=accumulated.message(), usage=usage, cost=cost, reason=reason)
            finally:
                self.span.end()

        try:
            try:
                async for chunk in wrapper:
                    data = chunk.model_dump()
                    accumulated.add(data)
                    data["model"] = self.body.model
                    if not wants_usage:
                        data.pop("usage", None)
                    yield f"data: {json.dumps(data)}\n\n"
                status, tail = "ok", "[DONE]"
            except Exception as exc:  # noqa: BLE001 - the 200 is sent: the caller gets an error event, the log the reason
                status, reason = "error", f"provider error mid-stream: {type(exc).__name__}"
                logger.warning("stream from model %s failed: %s", self.body.model, self.scrub(exc))
                self.span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
                tail = json.dumps(_error_body(502, "provider_error", f"the provider of model {self.body.model!r} failed mid-stream"))
            await close()
            yield f"data: {tail}\n\n"
        finally:
            if not recorded:
                # Shielded: a caller who hangs up mid-stream still leaves a record.
                with anyio.CancelScope(shield=True):
                    await close()


@router.post("/v1/chat/completions", tags=["llm"])
async def chat_completions(request: Request) -> Response:
    """OpenAI-compatible chat completions for an agent acting for a user."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("a bearer token is required")
        claims = request.app.state.tokens.verify_delegated(token.strip())
    except InvalidToken as exc:
        # The reason, never the token.
        logger.info("refused token at /v1/chat/completions: %s", exc.message)
        return error_response(401, "invalid_token", exc.message)
    tracer = request.app.state.tracer_provider.get_tracer("tollhouse.llm")
    span = tracer.start_span("tollhouse.llm.inference", context=extract(dict(request.headers)))
    span.set_attribute("tollhouse.agent", claims["act"]["sub"])
    streaming = False
    try:
        with trace.use_span(span, end_on_exit=False):
            response = await _answer(Inference(request, claims, span))
            streaming = isinstance(response, StreamingResponse)
            return response
    finally:
        if not streaming:  # a stream's span ends with the stream
            span.end()


async def _answer(inference: Inference) -> Response:
    try:
        await inference.admit()
    except Refusal as refusal:
        inference.span.set_attribute("tollhouse.decision", "deny")
        await inference.record(decision="deny", layer=refusal.layer, reason=refusal.message, status="denied")
        return error_response(refusal.status, refusal.code, refusal.message)
    name = inference.body.model
    try:
        response = await inference.call()
    except Exception as exc:  # noqa: BLE001 - litellm maps provider failures to many types; each is a logged 502
        logger.warning("provider call for model %s failed: %s", name, inference.scrub(exc))
        inference.span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
        await inference.finish(status="error", reason=f"provider error: {type(exc).__name__}")
        return error_response(502, "provider_error", f"the provider of model {name!r} failed ({type(exc).__name__})")
    if inference.body.stream:
        return StreamingResponse(inference.stream(response), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    payload = response.model_dump()
    message = normalise_message((payload.get("choices") or [{}])[0].get("message"))
    cost = _cost(inference.model.litellm_model, lambda: litellm_module().completion_cost(completion_response=response))
    await inference.finish(status="ok", message=message, usage=payload.get("usage"), cost=cost)
    payload["model"] = name
    return JSONResponse(payload)
