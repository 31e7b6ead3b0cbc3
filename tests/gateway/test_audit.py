"""The audit log as security teams use it, and as the gateway must keep it: fail closed, traced."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import create_engine, text

from core import keys
from core.settings import Settings
from tests.gateway.conftest import LiveGateway, audit_records, seed, serve, structured
from tools.demo.specs import DEMO_ADD
from tools.spec import ToolContext

pytestmark = pytest.mark.db
side_effects: list[dict[str, Any]] = []


async def remember(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    side_effects.append(arguments)
    return {"sum": arguments["a"] + arguments["b"]}


REMEMBER = dataclasses.replace(DEMO_ADD, name="test.remember", handler=remember, title="Remembers")
TOOLS = {DEMO_ADD.name: DEMO_ADD, REMEMBER.name: REMEMBER}


@pytest.fixture
async def traced(gateway_settings: Settings) -> AsyncIterator[tuple[LiveGateway, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    await seed(gateway_settings, TOOLS)
    async with serve(gateway_settings, tools=TOOLS, tracer_provider=provider) as gateway:
        yield gateway, exporter


async def test_a_call_leaves_decision_intent_and_outcome_sharing_call_and_trace(traced: tuple[LiveGateway, InMemorySpanExporter]) -> None:
    live, exporter = traced
    token = await live.delegated("alice", "ide-assistant")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with live.mcp(token) as client:
        await client.list_tools()
        result = await client.call_tool("demo.add", {"a": 1, "b": 2}, meta={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    assert not result.is_error
    records = await audit_records(live.settings)
    kinds = [r.kind for r in records]
    assert kinds.count("mcp.tools_list") == 1
    decision, intent, outcome = (r for r in records if r.tool == "demo.add" and r.kind in ("decision", "tool_call.intent", "tool_call.outcome"))
    assert (decision.kind, intent.kind, outcome.kind) == ("decision", "tool_call.intent", "tool_call.outcome")
    assert decision.call_id == intent.call_id == outcome.call_id
    assert decision.trace_id == intent.trace_id == outcome.trace_id == trace_id
    assert intent.arguments == {"a": 1, "b": 2} and outcome.result == {"sum": 3}
    assert (outcome.status, outcome.user, outcome.agent, outcome.tool_version) == ("ok", "alice", "ide-assistant", 1)
    assert outcome.latency_ms is not None and decision.seq < intent.seq < outcome.seq

    spans = {span.name: span for span in exporter.get_finished_spans()}
    call_span = spans["mcp tools/call"]
    assert format(call_span.context.trace_id, "032x") == trace_id
    for child in ("tollhouse.decision", "tollhouse.tool.run"):
        assert spans[child].parent is not None and spans[child].parent.span_id == call_span.context.span_id, child
    assert spans["tollhouse.decision"].attributes["tollhouse.layer"] == "allow"
    assert spans["tollhouse.tool.run"].attributes["tollhouse.status"] == "ok"
    assert spans["tollhouse.audit.write"].attributes["tollhouse.audit.records"] >= 1


async def test_if_the_intent_cannot_be_written_the_tool_does_not_run(traced: tuple[LiveGateway, InMemorySpanExporter]) -> None:
    live, _ = traced
    url = live.settings.database_url
    engine = create_engine(url.replace("+aiosqlite", ""))
    with engine.begin() as connection:
        if url.startswith("sqlite"):
            connection.execute(text(
                "CREATE TRIGGER refuse_intents BEFORE INSERT ON audit_records WHEN NEW.kind = 'tool_call.intent' "
                "BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END"
            ))
        else:
            connection.execute(text(
                "CREATE FUNCTION refuse_intents() RETURNS trigger AS $$ BEGIN "
                "IF NEW.kind = 'tool_call.intent' THEN RAISE EXCEPTION 'audit store unavailable'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            ))
            connection.execute(text("CREATE TRIGGER refuse_intents BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION refuse_intents()"))
    side_effects.clear()
    try:
        token = await live.delegated("alice", "ide-assistant")
        async with live.mcp(token) as client:
            with pytest.raises(MCPError) as refused:
                await client.call_tool("test.remember", {"a": 5, "b": 6})
        assert "audit log could not record this call" in refused.value.message
        assert side_effects == []
        assert not any(r.kind == "tool_call.intent" for r in await audit_records(live.settings))
    finally:
        # The PostgreSQL test database outlives this test: leave no trigger behind.
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER IF EXISTS refuse_intents" + ("" if url.startswith("sqlite") else " ON audit_records")))
            if not url.startswith("sqlite"):
                connection.execute(text("DROP FUNCTION IF EXISTS refuse_intents()"))
        engine.dispose()


async def test_the_auditor_queries_exports_verifies_and_sees_shadow_agents(traced: tuple[LiveGateway, InMemorySpanExporter]) -> None:
    live, _ = traced
    token = await live.delegated("alice", "ide-assistant")
    async with live.mcp(token) as client:
        for i in range(3):
            await client.call_tool("demo.add", {"a": i, "b": 1})
    denied_token = await live.delegated("alice", "chat-bot")
    async with live.mcp(denied_token) as client:
        assert structured(await client.call_tool("demo.add", {"a": 1, "b": 1}))["layer"] == "agent_scope"
    from agents.identity import exchange_form, make_assertion

    rogue = make_assertion("rogue-bot", keys.generate_private_key(), f"{live.url}/oauth/token")
    await live.http.post("/oauth/token", data=exchange_form(live.user_token("bob"), rogue))
    auditor = live.auth("erin")

    assert (await live.http.get("/api/v1/audit/records", headers=live.auth("alice"))).status_code == 403
    page = (await live.http.get("/api/v1/audit/records", params={"agent": "chat-bot", "decision": "deny"}, headers=auditor)).json()
    assert [(r["kind"], r["layer"]) for r in page["records"]] == [("decision", "agent_scope")]
    intents = (await live.http.get("/api/v1/audit/records", params={"kind": "tool_call.intent", "user": "alice"}, headers=auditor)).json()
    assert len(intents["records"]) == 3

    jsonl = (await live.http.get("/api/v1/audit/export", params={"format": "jsonl"}, headers=auditor)).text.splitlines()
    rows = [json.loads(line) for line in jsonl]
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    csv_rows = list(csv.DictReader(io.StringIO((await live.http.get("/api/v1/audit/export", params={"format": "csv"}, headers=auditor)).text)))
    assert len(csv_rows) == len(rows) and csv_rows[0]["record_digest"] == rows[0]["record_digest"]

    report = (await live.http.get("/api/v1/audit/verify", headers=auditor)).json()
    assert report["ok"] and report["records"] == len(rows) and report["open_intents"] == []

    shadow = (await live.http.get("/api/v1/audit/shadow-agents", headers=auditor)).json()
    assert [(row["agent"], row["why"], row["attempts"]) for row in shadow] == [("rogue-bot", "unregistered", 1)]
    usage = (await live.http.get("/api/v1/audit/usage", headers=auditor)).json()
    assert [(row["tool"], row["calls"]) for row in usage["calls"]] == [("demo.add", 3)]
    assert [(row["layer"], row["denials"]) for row in usage["denials"]] == [("agent_scope", 1)]
