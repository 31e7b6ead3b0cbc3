"""/mcp end to end with the SDK's own client, in both protocol eras."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from tests.gateway.conftest import LiveGateway, structured

pytestmark = pytest.mark.db
MODES = ["auto", "legacy"]


@pytest.mark.parametrize("mode", MODES)
async def test_alice_through_ide_assistant_lists_and_calls(live: LiveGateway, mode: str) -> None:
    token = await live.delegated("alice", "ide-assistant")
    async with live.mcp(token, mode=mode) as client:
        listed = await client.list_tools()
        names = [tool.name for tool in listed.tools]
        assert {"demo.add", "jobs.result", "jobs.status"} <= set(names)
        # ide-assistant is not granted pricing:read, so those tools are not offered.
        assert not any(name.startswith("pricing.") for name in names)
        result = await client.call_tool("demo.add", {"a": 2, "b": 3.5})
        assert not result.is_error
        assert structured(result) == {"sum": 5.5}


@pytest.mark.parametrize("mode", MODES)
async def test_chat_bot_lacks_the_scope_and_is_denied_on_the_agent_side(live: LiveGateway, mode: str) -> None:
    token = await live.delegated("alice", "chat-bot")
    async with live.mcp(token, mode=mode) as client:
        assert "demo.add" not in [tool.name for tool in (await client.list_tools()).tools]
        result = await client.call_tool("demo.add", {"a": 1, "b": 1})
        assert result.is_error
        body = structured(result)
        assert body["code"] == "POLICY_DENIED"
        assert body["layer"] == "agent_scope"
        assert body["missing_scopes"] == ["demo:use"]


@pytest.mark.parametrize("agent", ["ide-assistant", "chat-bot"])
async def test_a_user_without_the_scope_is_denied_through_any_agent(live: LiveGateway, agent: str) -> None:
    token = await live.delegated("carol", agent)
    async with live.mcp(token) as client:
        body = structured(await client.call_tool("demo.add", {"a": 1, "b": 1}))
        assert body["layer"] == "user_scope"


async def test_an_unknown_name_is_a_protocol_error_and_bad_arguments_name_the_field(live: LiveGateway) -> None:
    token = await live.delegated("alice", "ide-assistant")
    async with live.mcp(token) as client:
        await client.list_tools()
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("demo.nothing", {})
        with pytest.raises(MCPError, match="b") as raised:
            await client.call_tool("demo.add", {"a": 1, "b": "two"})
        assert "invalid arguments" in raised.value.message


async def test_suspending_the_agent_stops_its_calls_at_once(live: LiveGateway) -> None:
    token = await live.delegated("alice", "ide-assistant")
    async with live.mcp(token) as client:
        assert not (await client.call_tool("demo.add", {"a": 1, "b": 1})).is_error
        response = await live.http.post(
            "/api/v1/agents/ide-assistant/suspend", json={"reason": "compromised"}, headers=live.auth("admin")
        )
        assert response.status_code == 200
        body = structured(await client.call_tool("demo.add", {"a": 1, "b": 1}))
        assert body["layer"] == "agent_not_active"
