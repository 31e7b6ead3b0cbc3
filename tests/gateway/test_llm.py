"""/v1/chat/completions end to end: the gateway on a loopback port, litellm, a fake provider."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from core import audit
from core.canonical import digest
from core.db import make_engine, make_sessionmaker
from core.settings import LlmModel, Settings
from tests.fakes.openai_server import FakeOpenAI, Reply, serve_fake, text_pieces
from tests.gateway.conftest import LiveGateway, audit_records, free_port, seed, serve

pytestmark = pytest.mark.db
TEXT = "The answer, as far as the fake knows, is forty two."
# Typed loosely: the openai client wants its own TypedDicts.
MESSAGES: list[Any] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the secret answer?"}]
TOOL: Any = {"type": "function", "function": {"name": "demo.add", "parameters": {"type": "object"}}}


@dataclass
class World:
    """A live gateway with the fake provider behind it."""

    live: LiveGateway
    fake: FakeOpenAI
    settings: Settings

    def client(self, token: str, **headers: str) -> openai.AsyncOpenAI:
        # No retries: a 502 must reach the test as it left the gateway.
        return openai.AsyncOpenAI(base_url=f"{self.live.url}/v1", api_key=token, max_retries=0, default_headers=headers)

    async def post(self, token: str, body: Any) -> Any:
        return await self.live.http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def world(gateway_settings: Settings) -> AsyncIterator[World]:
    async with serve_fake([Reply(text=TEXT)]) as (fake, base_url):
        gateway_settings.llm.models = {
            "fake-model": LlmModel(litellm_model="openai/fake-model", api_base=base_url),
            # A name litellm has a price for, served by the same fake.
            "priced": LlmModel(litellm_model="openai/gpt-4o-mini", api_base=base_url),
            # Nothing listens there.
            "dead": LlmModel(litellm_model="openai/dead", api_base=f"http://127.0.0.1:{free_port()}/v1"),
        }
        gateway_settings.llm.agent_models = {"ide-assistant": ["fake-model", "priced", "dead"]}
        await seed(gateway_settings)
        async with serve(gateway_settings) as live:
            yield World(live, fake, gateway_settings)


async def inference_records(settings: Settings) -> list[audit.AuditRecord]:
    """The inference records, newest first, read through an engine of our own."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return list(await audit.recent(session, kind_prefix="inference"))
    finally:
        await engine.dispose()


def traceparent() -> tuple[str, str]:
    """A fresh W3C trace id and a traceparent header carrying it."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


async def test_a_completion_is_answered_and_recorded_on_the_callers_trace(world: World) -> None:
    token = await world.live.delegated("alice", "ide-assistant")
    trace_id, parent = traceparent()
    async with world.client(token, traceparent=parent) as client:
        reply = await client.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert reply.choices[0].message.content == TEXT
    assert reply.model == "fake-model"
    expected = world.fake.usage(MESSAGES, Reply(text=TEXT))
    assert reply.usage is not None and reply.usage.total_tokens == expected["total_tokens"]

    [record] = await inference_records(world.settings)
    assert (record.user, record.agent, record.tool, record.decision, record.layer, record.status) == (
        "alice", "ide-assistant", None, "allow", "llm", "ok")
    assert record.trace_id == trace_id and len(record.trace_id) == 32
    detail = record.detail or {}
    assert {key: detail[key] for key in expected} == expected
    assert detail["model"] == "fake-model" and detail["provider_model"] == "openai/fake-model"
    assert detail["prompt_digest"] == digest(MESSAGES) == record.arguments_digest
    assert detail["response_digest"] == digest({"role": "assistant", "content": TEXT}) == record.result_digest
    assert detail["cost_usd"] is None  # litellm has no price for fake-model
    assert detail["tool_calls"] == [] and detail["stream"] is False
    stored = json.dumps([record.arguments, record.result, record.reason, detail])
    assert "secret answer" not in stored and "forty two" not in stored
    assert record.arguments == [{"role": "[redacted]", "content": "[redacted]"}] * 2

    # The same traceparent at /mcp: one trace id on both records.
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}", "traceparent": parent})
    async with Client(streamable_http_client(world.live.mcp_url, http_client=http), cache=None) as mcp:
        await mcp.call_tool("demo.add", {"a": 1, "b": 2})
    outcome = (await audit_records(world.settings, "tool_call.outcome"))[-1]
    assert outcome.trace_id == trace_id


async def test_a_stream_arrives_in_order_and_is_recorded_once_with_its_usage(world: World) -> None:
    token = await world.live.delegated("alice", "ide-assistant")
    body = {"model": "fake-model", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    events: list[str] = []
    async with world.live.http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") async for line in response.aiter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    pieces = [choice["delta"]["content"] for chunk in chunks for choice in chunk["choices"] if choice["delta"].get("content")]
    assert pieces == text_pieces(TEXT) and "".join(pieces) == TEXT
    expected = world.fake.usage(MESSAGES, Reply(text=TEXT))
    assert {key: chunks[-1]["usage"][key] for key in expected} == expected
    assert world.fake.requests[-1].body["stream_options"] == {"include_usage": True}

    [record] = await inference_records(world.settings)
    detail = record.detail or {}
    assert record.status == "ok" and detail["stream"] is True
    assert {key: detail[key] for key in expected} == expected
    # Streamed or not, the same reply has the same digest.
    assert detail["response_digest"] == digest({"role": "assistant", "content": TEXT})


async def test_the_openai_client_reassembles_a_stream(world: World) -> None:
    token = await world.live.delegated("alice", "ide-assistant")
    async with world.client(token) as client:
        stream = await client.chat.completions.create(model="fake-model", messages=MESSAGES, stream=True)
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == TEXT


@pytest.mark.parametrize("stream", [False, True])
async def test_a_tool_call_the_model_asks_for_is_recorded(world: World, stream: bool) -> None:
    world.fake.script(Reply(tool="demo.add", arguments={"a": 1, "b": 2}))
    token = await world.live.delegated("alice", "ide-assistant")
    async with world.client(token) as client:
        if stream:
            chunks = await client.chat.completions.create(model="fake-model", messages=MESSAGES, tools=[TOOL], stream=True)
            names = [call.function.name async for chunk in chunks if chunk.choices
                     for call in chunk.choices[0].delta.tool_calls or [] if call.function and call.function.name]
        else:
            reply = await client.chat.completions.create(model="fake-model", messages=MESSAGES, tools=[TOOL])
            names = [call.function.name for call in reply.choices[0].message.tool_calls or []]  # type: ignore[union-attr]
    assert names == ["demo.add"]
    assert world.fake.requests[-1].body["tools"] == [TOOL]
    [record] = await inference_records(world.settings)
    assert (record.detail or {})["tool_calls"] == [{"name": "demo.add", "arguments_digest": digest({"a": 1, "b": 2})}]


async def test_a_priced_model_has_a_cost(world: World) -> None:
    token = await world.live.delegated("alice", "ide-assistant")
    for stream in (False, True):
        body = {"model": "priced", "messages": MESSAGES, "stream": stream}
        response = await world.post(token, body)
        assert response.status_code == 200, response.text
    costs = [(record.detail or {})["cost_usd"] for record in await inference_records(world.settings)]
    assert len(costs) == 2 and costs[0] == pytest.approx(costs[1]) and costs[0] > 0


@pytest.mark.parametrize("policy", ["full", "none"])
async def test_the_body_policy_decides_what_is_kept(gateway_settings: Settings, policy: str) -> None:
    gateway_settings.llm.record_bodies = policy  # type: ignore[assignment]
    async with serve_fake([Reply(text=TEXT)]) as (_fake, base_url):
        gateway_settings.llm.models = {"fake-model": LlmModel(litellm_model="openai/fake-model", api_base=base_url)}
        gateway_settings.llm.agent_models = {"ide-assistant": ["*"]}
        await seed(gateway_settings)
        async with serve(gateway_settings) as live:
            token = await live.delegated("alice", "ide-assistant")
            response = await World(live, _fake, gateway_settings).post(token, {"model": "fake-model", "messages": MESSAGES})
            assert response.status_code == 200
    [record] = await inference_records(gateway_settings)
    if policy == "full":
        assert record.arguments == MESSAGES and record.result == {"role": "assistant", "content": TEXT}
    else:
        assert record.arguments is None and record.result is None
    assert (record.detail or {})["prompt_digest"] == digest(MESSAGES)


def error_code(response: Any) -> str:
    """The code of an OpenAI-shaped error body (which must have a message)."""
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return str(body["error"]["code"])


async def test_models_are_refused_outside_the_agents_allow_list_and_recorded(world: World) -> None:
    chat_bot = await world.live.delegated("alice", "chat-bot")
    response = await world.post(chat_bot, {"model": "fake-model", "messages": MESSAGES})
    assert response.status_code == 403 and error_code(response) == "model_not_allowed"
    ide = await world.live.delegated("alice", "ide-assistant")
    response = await world.post(ide, {"model": "gpt-9", "messages": MESSAGES})
    assert response.status_code == 404 and error_code(response) == "model_not_found"
    records = await inference_records(world.settings)
    assert [(r.agent, r.decision, r.layer) for r in reversed(records)] == [
        ("chat-bot", "deny", "model_not_allowed"), ("ide-assistant", "deny", "model_not_found")]
    assert world.fake.requests == []


async def test_the_users_own_token_is_refused(world: World) -> None:
    response = await world.post(world.live.user_token("alice"), {"model": "fake-model", "messages": MESSAGES})
    assert response.status_code == 401 and error_code(response) == "invalid_token"
    assert response.headers["www-authenticate"].startswith("Bearer")
    response = await world.live.http.post("/v1/chat/completions", json={"model": "fake-model", "messages": MESSAGES})
    assert response.status_code == 401
    assert world.fake.requests == []


async def test_a_suspended_agent_is_refused_at_once(world: World) -> None:
    token = await world.live.delegated("alice", "ide-assistant")
    suspended = await world.live.http.post(
        "/api/v1/agents/ide-assistant/suspend", json={"reason": "x"}, headers=world.live.auth("admin"))
    assert suspended.status_code == 200, suspended.text
    response = await world.post(token, {"model": "fake-model", "messages": MESSAGES})
    assert response.status_code == 403 and error_code(response) == "agent_not_active"
    [record] = await inference_records(world.settings)
    assert (record.decision, record.layer) == ("deny", "agent_not_active")


@pytest.mark.parametrize("body", [
    {"model": "fake-model", "messages": []},
    {"model": "fake-model"},
    {"messages": MESSAGES},
    {"model": "fake-model", "messages": "hello"},
    {"model": "fake-model", "messages": MESSAGES, "stream": "maybe"},
    {"model": "fake-model", "messages": MESSAGES, "api_base": "http://evil.example/v1"},
    {"model": "fake-model", "messages": MESSAGES, "stream": True, "stream_options": "yes"},
    ["not", "an", "object"],
])
async def test_a_malformed_body_is_a_400(world: World, body: Any) -> None:
    token = await world.live.delegated("alice", "ide-assistant")
    response = await world.post(token, body)
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    response = await world.live.http.post(
        "/v1/chat/completions", content=b"{not json", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert world.fake.requests == []


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unreachable_provider_is_a_502_and_recorded(world: World, stream: bool) -> None:
    os.environ["TOLLHOUSE_TEST_LLM_KEY"] = "sk-do-not-leak-0123456789"
    world.settings.llm.models["dead"].api_key_env = "TOLLHOUSE_TEST_LLM_KEY"
    try:
        token = await world.live.delegated("alice", "ide-assistant")
        response = await world.post(token, {"model": "dead", "messages": MESSAGES, "stream": stream})
    finally:
        del os.environ["TOLLHOUSE_TEST_LLM_KEY"]
    assert response.status_code == 502 and error_code(response) == "provider_error"
    assert "dead" in response.text and "sk-do-not-leak" not in response.text
    [record] = await inference_records(world.settings)
    assert (record.decision, record.status) == ("allow", "error")
    assert (record.detail or {})["model"] == "dead" and "sk-do-not-leak" not in json.dumps(record.detail)


async def test_the_provider_gets_the_messages_and_never_the_delegated_token(world: World) -> None:
    token = await world.live.delegated("alice", "ide-assistant")
    async with world.client(token) as client:
        await client.chat.completions.create(model="fake-model", messages=MESSAGES, temperature=0.2)
    [received] = world.fake.requests
    assert received.body["messages"] == MESSAGES
    assert received.body["temperature"] == 0.2
    assert received.headers.get("authorization") == "Bearer unused"
    assert token not in json.dumps(received.headers) and token not in json.dumps(received.body)


async def test_a_stream_the_provider_drops_ends_in_an_error_event_and_is_recorded(world: World) -> None:
    world.fake.script(Reply(text=TEXT, fail_after=3))
    token = await world.live.delegated("alice", "ide-assistant")
    body = {"model": "fake-model", "messages": MESSAGES, "stream": True}
    async with world.live.http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        events = [line.removeprefix("data: ") async for line in response.aiter_lines() if line.startswith("data: ")]
    assert json.loads(events[-1])["error"]["code"] == "provider_error" and "[DONE]" not in events
    [record] = await inference_records(world.settings)
    assert record.status == "error"


async def test_a_caller_who_hangs_up_mid_stream_still_leaves_a_record(world: World) -> None:
    world.fake.script(Reply(text=TEXT, delay=0.2))
    token = await world.live.delegated("alice", "ide-assistant")
    body = {"model": "fake-model", "messages": MESSAGES, "stream": True}
    async with world.live.http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                break
    for _ in range(100):
        records = await inference_records(world.settings)
        if records:
            break
        await asyncio.sleep(0.05)
    [record] = records
    assert record.status == "cancelled"
