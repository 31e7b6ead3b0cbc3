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
from collections.abc import AsyncIterator
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


def _arguments_digest(arguments: str) -> str:
    # The digest of the parsed arguments matches the arguments_digest of the
    # tool call the agent then makes at /mcp; unparseable ones are digested as text.
    try:
        return digest(json.loads(arguments))
    except (ValueError, NotCanonicalJson):
        return digest(arguments)


def normalise_message(message: dict[str, Any] | None) -> dict[str, Any] | None:
    """The assistant message in plain OpenAI shape (no provider extras), streamed or not alike."""
    if not isinstance(message, dict):
        return None
    out: dict[str, Any] = {"role": message.get("role") or "assistant", "content": message.get("content")}
    calls = [
        {"id": call.get("id"), "type": "function",
         "function": {"name": (call.get("function") or {}).get("name") or "",
                      "arguments": (call.get("function") or {}).get("arguments") or ""}}
        for call in message.get("tool_calls") or []
    ]
    if calls:
        out["tool_calls"] = calls
    return out


def tool_calls_summary(message: dict[str, Any] | None) -> list[dict[str, str]]:
    """The tools the model asked for: names and argument digests."""
    return [
        {"name": call["function"]["name"], "arguments_digest": _arguments_digest(call["function"]["arguments"])}
        for call in (message or {}).get("tool_calls", [])
    ]


class Accumulator:
    """Re-assembles a stream's first choice and keeps its usage, as chunks pass by."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        if isinstance(chunk.get("usage"), dict):
            self.usage = {key: chunk["usage"].get(key) for key in USAGE_KEYS}
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self.content.append(delta["content"])
            for call in delta.get("tool_calls") or []:
                slot = self.calls.setdefault(call.get("index") or 0, {"id": None, "function": {"name": "", "arguments": ""}})
                function = call.get("function") or {}
                slot["id"] = slot["id"] or call.get("id")
                slot["function"]["name"] = slot["function"]["name"] or function.get("name") or ""
                slot["function"]["arguments"] += function.get("arguments") or ""

    def message(self) -> dict[str, Any] | None:
        return normalise_message({
            "role": "assistant", "content": "".join(self.content) or None,
            "tool_calls": [self.calls[index] for index in sorted(self.calls)],
        })


class ChatRequest(BaseModel):
    """The part of an OpenAI chat request the gateway reads; other fields ride in ``model_extra``."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None


class Refusal(Exception):
    """A request the gateway answers with an OpenAI-style error instead of an inference."""

    def __init__(self, status: int, code: str, message: str, *, layer: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.layer = status, code, message, layer


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """An OpenAI-shaped error body."""
    kind = "api_error" if status >= 500 else "invalid_request_error"
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse(
        status_code=status,
        content={"error": {"message": message, "type": kind, "code": code, "param": None}},
        headers=headers,
    )


@functools.cache
def litellm_module() -> Any:
    """litellm, imported on first use: it takes seconds to import, and the env var below
    keeps its import from fetching the model cost map over the network."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False  # gone by 1.106 (a no-op then); older versions phone home without it
    litellm.suppress_debug_info = True  # else every provider error prints a banner to stdout
    return litellm


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("a bearer token is required")
    return token.strip()


def _cost(kind: str, compute: Any) -> float | None:
    """What litellm says the call cost, or None when it has no price for the model."""
    litellm = litellm_module()
    try:
        return float(compute())
    except litellm.exceptions.ModelNotMappedError as exc:
        logger.info("no %s price known: %s", kind, exc)
    except Exception as exc:  # noqa: BLE001 - litellm's cost code re-raises anything; a price must never fail a call
        logger.warning("cost of %s not computed: %s: %s", kind, type(exc).__name__, exc)
    return None


class Inference:
    """One request's caller, trace and audit trail."""

    def __init__(self, request: Request, claims: dict[str, Any], span: trace.Span, trace_id: str | None) -> None:
        self.request = request
        self.settings: LlmSettings = request.app.state.settings.llm
        self.user: str = claims["sub"]
        self.agent: str = claims["act"]["sub"]
        self.span = span
        self.trace_id = trace_id

    async def record(self, *, decision: str, layer: str, **fields: Any) -> None:
        async with session_scope(self.request.app.state.sessionmaker) as session:
            await audit.record(
                session, "inference", user=self.user, agent=self.agent, tool=None,
                decision=decision, layer=layer, trace_id=self.trace_id, **fields,
            )

    async def admit(self) -> tuple[ChatRequest, str, LlmModel]:
        """The validated request and its model. Raises :class:`Refusal` (recorded)."""
        facts = await self.request.app.state.directory.get(self.agent)
        if facts is None or facts.status != "active":
            state = "not registered" if facts is None else facts.status
            raise Refusal(403, "agent_not_active", f"agent {self.agent!r} is {state}",
                          layer="agent_unregistered" if facts is None else "agent_not_active")
        try:
            body = ChatRequest.model_validate(await self.request.json())
            digest(body.messages)
        except (ValueError, ValidationError, NotCanonicalJson) as exc:
            # json.JSONDecodeError is a ValueError; pydantic's errors name the field.
            message = str(exc).splitlines()[0] if not isinstance(exc, ValidationError) else _first_problem(exc)
            raise Refusal(400, "invalid_request", message, layer="invalid_request") from exc
        unsupported = sorted(set(body.model_extra or {}) - PASSTHROUGH)
        if not isinstance((body.model_extra or {}).get("stream_options", {}), dict):
            unsupported.append("stream_options (not an object)")
        if unsupported:
            raise Refusal(400, "invalid_request", f"unsupported parameter(s): {', '.join(unsupported)}",
                          layer="invalid_request")
        model = self.settings.models.get(body.model)
        if model is None:
            raise Refusal(404, "model_not_found", f"model {body.model!r} does not exist", layer="model_not_found")
        allowed = self.settings.agent_models.get(self.agent, [])
        if "*" not in allowed and body.model not in allowed:
            raise Refusal(403, "model_not_allowed", f"agent {self.agent!r} may not use model {body.model!r}",
                          layer="model_not_allowed")
        return body, body.model, model

    def _bodies(self) -> tuple[bool, audit.Classification]:
        policy = self.settings.record_bodies
        return policy != "none", BODY_POLICY.get(policy, "confidential")

    async def finish(self, body: ChatRequest, name: str, model: LlmModel, *, status: str, started: float,
                     message: dict[str, Any] | None, usage: dict[str, Any] | None, cost: float | None,
                     reason: str | None = None) -> None:
        """Write the one record of an inference, and the span's usage attributes."""
        usage = usage or {}
        keep, classification = self._bodies()
        for attribute, key in (("gen_ai.usage.input_tokens", "prompt_tokens"), ("gen_ai.usage.output_tokens", "completion_tokens")):
            if isinstance(usage.get(key), int):
                self.span.set_attribute(attribute, usage[key])
        await self.record(
            decision="allow", layer="llm", status=status, reason=reason,
            latency_ms=(time.perf_counter() - started) * 1000,
            arguments=body.messages if keep else None,
            result=message if keep else None, classification=classification,
            detail={
                "model": name, "provider_model": model.litellm_model,
                "prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": usage.get("completion_tokens"),
                "total_tokens": usage.get("total_tokens"), "cost_usd": cost,
                "prompt_digest": digest(body.messages),
                "response_digest": digest(message) if message is not None else None,
                "tool_calls": tool_calls_summary(message), "stream": body.stream,
            },
        )

    async def call(self, body: ChatRequest, model: LlmModel) -> Any:
        """Ask the provider; litellm's own exceptions propagate."""
        litellm = litellm_module()
        extra = {key: value for key, value in (body.model_extra or {}).items() if key != "stream_options"}
        for key in ("tools", "tool_choice"):
            if getattr(body, key) is not None:
                extra[key] = getattr(body, key)
        if body.stream:
            extra["stream_options"] = {"include_usage": True}
        return await litellm.acompletion(
            model=model.litellm_model, api_base=model.api_base or None,
            # Some providers insist on a key even when none is needed (local servers).
            api_key=(os.environ.get(model.api_key_env) if model.api_key_env else None) or "unused",
            messages=body.messages, timeout=self.settings.timeout_seconds, stream=body.stream, **extra,
        )

    async def stream(self, body: ChatRequest, name: str, model: LlmModel, wrapper: Any, started: float) -> AsyncIterator[str]:
        """SSE to the caller as chunks arrive; the record is written when the stream ends, however it ends."""
        wants_usage = bool(((body.model_extra or {}).get("stream_options") or {}).get("include_usage"))
        accumulated, status, reason = Accumulator(), "cancelled", None
        try:
            try:
                async for chunk in wrapper:
                    data = chunk.model_dump()
                    accumulated.add(data)
                    data["model"] = name
                    if not wants_usage:
                        data.pop("usage", None)
                    yield f"data: {json.dumps(data)}\n\n"
            except Exception as exc:  # noqa: BLE001 - the 200 is sent: the caller gets an error event, the log the reason
                status, reason = "error", f"{type(exc).__name__}"
                logger.warning("stream from model %s failed: %s", name, type(exc).__name__)
                yield f"data: {json.dumps(_stream_error(name))}\n\n"
                return
            status = "ok"
            yield "data: [DONE]\n\n"
        finally:
            # Shielded: a caller who hangs up mid-stream still leaves a record.
            with anyio.CancelScope(shield=True):
                await wrapper.aclose()
                usage = accumulated.usage
                cost = _cost(model.litellm_model, lambda: sum(litellm_module().cost_per_token(
                    model=model.litellm_model, prompt_tokens=usage["prompt_tokens"],
                    completion_tokens=usage["completion_tokens"]))) if usage else None
                try:
                    await self.finish(body, name, model, status=status, started=started,
                                      message=accumulated.message(), usage=usage, cost=cost, reason=reason)
                finally:
                    self.span.end()


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    path = ".".join(str(part) for part in error.get("loc", ())) or "(body)"
    return f"{path}: {error.get('msg', 'invalid')}"


def _stream_error(name: str) -> dict[str, Any]:
    return {"error": {"message": f"the provider of model {name!r} failed mid-stream", "type": "api_error",
                      "code": "provider_error", "param": None}}


@router.post("/v1/chat/completions", tags=["llm"])
async def chat_completions(request: Request) -> Response:
    """OpenAI-compatible chat completions for an agent acting for a user."""
    try:
        claims = request.app.state.tokens.verify_delegated(_bearer(request))
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
            inference = Inference(request, claims, span, current_trace_id())
            response = await _answer(inference)
            streaming = isinstance(response, StreamingResponse)
            return response
    finally:
        # A stream's span ends with the stream.
        if not streaming:
            span.end()


async def _answer(inference: Inference) -> Response:
    try:
        body, name, model = await inference.admit()
    except Refusal as refusal:
        inference.span.set_attribute("tollhouse.decision", "deny")
        await inference.record(decision="deny", layer=refusal.layer or refusal.code, reason=refusal.message,
                               status="denied")
        return error_response(refusal.status, refusal.code, refusal.message)
    inference.span.set_attribute("gen_ai.request.model", name)
    started = time.perf_counter()
    try:
        response = await inference.call(body, model)
    except Exception as exc:  # noqa: BLE001 - litellm maps provider failures to many types; each is a 502, logged
        logger.warning("provider call for model %s failed: %s", name, type(exc).__name__)
        inference.span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
        await inference.finish(body, name, model, status="error", started=started, message=None, usage=None,
                               cost=None, reason=f"provider error: {type(exc).__name__}")
        return error_response(502, "provider_error", f"the provider of model {name!r} failed ({type(exc).__name__})")
    if body.stream:
        return StreamingResponse(
            inference.stream(body, name, model, response, started), media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    payload = response.model_dump()
    message = normalise_message((payload.get("choices") or [{}])[0].get("message"))
    cost = _cost(model.litellm_model, lambda: litellm_module().completion_cost(completion_response=response))
    await inference.finish(body, name, model, status="ok", started=started, message=message,
                           usage=payload.get("usage"), cost=cost)
    payload["model"] = name
    return JSONResponse(payload)
