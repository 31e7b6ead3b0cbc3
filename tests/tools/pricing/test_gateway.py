"""pricing.features and pricing.conversion end to end: approved through the real workflow, called over MCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.gateway import conftest as gateway_fixtures
from tests.gateway.conftest import LiveGateway, seed, serve, structured
from tools.pricing.specs import SPECS

pytestmark = pytest.mark.db
gateway_settings = gateway_fixtures.gateway_settings  # the gateway tests' fixture, shared here
TOOLS = {spec.name: spec for spec in SPECS}
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture
async def live(gateway_settings: Settings) -> AsyncIterator[LiveGateway]:
    gateway_settings.data_dir = str(DATA)
    await seed(gateway_settings, TOOLS)
    async with serve(gateway_settings, tools=TOOLS) as gateway:
        yield gateway


async def test_an_analytics_agent_gets_features_and_both_conversion_models(live: LiveGateway) -> None:
    token = await live.delegated("alice", "chat-bot")
    async with live.mcp(token) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"pricing.features", "pricing.conversion"} <= names
        lines = [{"unit_price": 0.0, "category": "toys", "shipping": 0.0}, {"unit_price": 0.01, "category": "toys"}]
        result = await client.call_tool("pricing.features", {"lines": lines})
        assert not result.is_error
        free, penny = structured(result)["lines"]
        assert (free["is_free"], penny["is_free"]) == (True, False)
        assert free["interactions"] == {"is_free:toys": 1, "is_free_shipping:toys": 1}

        result = await client.call_tool("pricing.conversion", {"use": "simulation", "seed": 1,
                                                               "simulation": {"customers": 800}})
        assert not result.is_error
        body = structured(result)
        assert body["source"] == "simulation" and body["calibration_sample"] == "held_out"
        assert set(body["models"]) == {"baseline", "zero_aware_mixture"}
        assert abs(body["models"]["baseline"]["jump"]) < 0.01 < body["models"]["zero_aware_mixture"]["jump"]

        refused = await client.call_tool("pricing.conversion", {"offers": [{"price": 1.0, "converted": 1},
                                                                           {"price": 0.0, "converted": 1}]})
        assert refused.is_error and structured(refused)["code"] == "invalid_offers"


async def test_an_agent_without_the_pricing_grant_is_denied_by_policy(live: LiveGateway) -> None:
    token = await live.delegated("alice", "ide-assistant")
    async with live.mcp(token) as client:
        result = await client.call_tool("pricing.features", {"lines": [{"unit_price": 1.0}]})
    assert result.is_error
    body = structured(result)
    assert (body["code"], body["layer"]) == ("POLICY_DENIED", "agent_scope")
