"""recsys through the governed path: submitted and signed off like any tool, called with the MCP client."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from core.settings import Settings
from tests.gateway.conftest import audit_records, gateway_settings, seed, serve, structured
from tests.tools.recsys.real_data import real_data_dir
from tools.demo.specs import DEMO_ADD
from tools.recsys.specs import MAX_CUSTOMERS_ENV, SPECS

pytestmark = pytest.mark.db
__all__ = ["gateway_settings"]  # the fixture, imported so that this module can use it


async def test_recommend_similar_items_and_interests_through_the_gateway(gateway_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first 300 customers keep the build to a second or two; the code path is the served one.
    monkeypatch.setenv(MAX_CUSTOMERS_ENV, "300")
    gateway_settings.data_dir = str(real_data_dir())
    tools = {spec.name: spec for spec in SPECS}
    await seed(gateway_settings, tools)
    async with serve(gateway_settings, tools={**tools, DEMO_ADD.name: DEMO_ADD}) as live:
        token = await live.delegated("alice", "ide-assistant")
        async with live.mcp(token) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            assert set(tools) <= listed

            result = await client.call_tool("recsys.recommend", {"user_id": "17850", "k": 5})
            assert not result.is_error, result
            body = structured(result)
            assert (body["user_id"], body["known_user"], body["path"]) == ("17850", True, "personalised")
            assert len(body["items"]) == 5 and all(item["description"] for item in body["items"])

            first = body["items"][0]["id"]
            similar = structured(await client.call_tool("recsys.similar_items", {"item_id": first, "k": 3}))
            assert similar["item"]["id"] == first and len(similar["items"]) == 3

            interests = structured(await client.call_tool("recsys.user_interests", {"user_id": "17850"}))
            assert interests["interests"] and interests["interests"][0]["rank"] == 1

            cold = structured(await client.call_tool("recsys.recommend", {"user_id": "no-such-customer", "k": 3}))
            assert (cold["path"], len(cold["items"])) == ("cold_start", 3)

            unknown = await client.call_tool("recsys.similar_items", {"item_id": "NOPE"})
            assert unknown.is_error and structured(unknown)["code"] == "unknown_item"

            # Arguments are checked against the approved schema before the tool runs.
            with pytest.raises(MCPError, match="greater than the maximum of 100"):
                await client.call_tool("recsys.recommend", {"user_id": "17850", "k": 500})
    calls = [record for record in await audit_records(gateway_settings) if record.tool == "recsys.recommend"]
    assert calls, "every call is in the audit log"
