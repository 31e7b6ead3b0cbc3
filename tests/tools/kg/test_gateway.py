"""The kg tools end to end: reviewed and approved, called through the gateway with the MCP client."""

from __future__ import annotations

import pytest

from core.db import make_engine, make_sessionmaker, session_scope
from core.settings import Settings
from tests.gateway.conftest import seed, serve, structured
from tests.tools.kg.conftest import small_graph
from tools.kg.repository import KgRepository
from tools.kg.specs import SPECS

pytestmark = pytest.mark.db


async def _load_small_graph(url: str) -> None:
    engine = make_engine(url)
    try:
        build, items, triples = small_graph()
        async with session_scope(make_sessionmaker(engine)) as session:
            await KgRepository(session).replace_graph(build, items, triples)
    finally:
        await engine.dispose()


async def test_kg_tools_through_the_gateway(gateway_settings: Settings) -> None:
    await _load_small_graph(gateway_settings.database_url)
    tools = {spec.name: spec for spec in SPECS}
    await seed(gateway_settings, tools)
    async with serve(gateway_settings, tools=tools) as live:
        token = await live.delegated("alice", "ide-assistant")
        async with live.mcp(token) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"kg.lookup", "kg.related_items", "kg.explain_pair"} <= names
            result = await client.call_tool("kg.lookup", {"entity": "Christmas", "direction": "in", "min_score": 0.5})
            assert not result.is_error, result
            body = structured(result)
            assert body["entity"] == "christmas"
            assert [(e["head"], e["relation"], e["head_item"]) for e in body["edges"]] == [
                ("christmas advent calendar", "forOccasion", "23084")]
            related = structured(await client.call_tool("kg.related_items", {"item_id": "85123A"}))
            assert [r["item_id"] for r in related["related"]] == ["22808", "22808"]
            why = structured(await client.call_tool("kg.explain_pair", {"item_a": "85123A", "item_b": "22808"}))
            assert "is used together with" in why["summary"]
            unknown = await client.call_tool("kg.explain_pair", {"item_a": "85123A", "item_b": "NOPE1"})
            assert unknown.is_error and structured(unknown)["code"] == "unknown_item"
        # The agent's grant is not enough without the user's scope: carol lacks kg:read.
        carol = await live.delegated("carol", "ide-assistant")
        async with live.mcp(carol) as client:
            denied = await client.call_tool("kg.lookup", {"entity": "christmas"})
            assert denied.is_error and structured(denied)["layer"] == "user_scope"
