"""metrics.prune and metrics.power end to end: approved through the real workflow, called over MCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.gateway import conftest as gateway_fixtures
from tests.gateway.conftest import LiveGateway, seed, serve, structured
from tests.tools.metrics.test_prune import constructed
from tools.metrics.specs import SPECS

pytestmark = pytest.mark.db
gateway_settings = gateway_fixtures.gateway_settings  # the gateway tests' fixture, shared here
TOOLS = {spec.name: spec for spec in SPECS}
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture
async def live(gateway_settings: Settings, tmp_path: Path) -> AsyncIterator[LiveGateway]:
    gateway_settings.data_dir = str(DATA if DATA.is_dir() else tmp_path)
    await seed(gateway_settings, TOOLS)
    async with serve(gateway_settings, tools=TOOLS) as gateway:
        yield gateway


async def test_an_analytics_agent_prunes_metrics_and_computes_power(live: LiveGateway) -> None:
    token = await live.delegated("alice", "chat-bot")
    async with live.mcp(token) as client:
        matrix = {name: values[:60] for name, values in constructed().items()}
        result = await client.call_tool("metrics.prune", {"metrics": matrix, "target": "orders_1"})
        assert not result.is_error
        body = structured(result)
        assert len(body["kept"]) == 4 and "orders_1" in body["kept"]
        assert body["dropped"]["orders_0"]["represented_by"] == "orders_1"

        result = await client.call_tool("metrics.power", {"n_metrics": 50, "effect_z": 2.8, "compare_to": 15,
                                                          "simulations": 4000, "seed": 1})
        assert not result.is_error
        gains = {g["correction"]: g for g in structured(result)["gains"]}
        assert gains["bh"]["analytic"] == pytest.approx(0.424, abs=0.002)
        assert 0.3 < gains["bonferroni"]["simulated"] < 0.6

        result = await client.call_tool("metrics.prune", {"dataset": "asos"})
        if DATA.is_dir():
            body = structured(result)
            assert body["source"] == "asos" and body["observations"] == 94 and len(body["kept"]) == 1
        else:
            assert result.is_error and structured(result)["code"] == "data_unavailable"


async def test_missing_data_is_a_clear_error_and_other_agents_are_denied(live: LiveGateway, tmp_path: Path) -> None:
    live.settings.data_dir = str(tmp_path / "nowhere")
    token = await live.delegated("alice", "chat-bot")
    async with live.mcp(token) as client:
        result = await client.call_tool("metrics.prune", {"dataset": "asos"})
        assert result.is_error and structured(result)["code"] == "data_unavailable"
    token = await live.delegated("alice", "ide-assistant")
    async with live.mcp(token) as client:
        denied = structured(await client.call_tool("metrics.power", {"n_metrics": 5, "effect_z": 2.0}))
    assert (denied["code"], denied["layer"]) == ("POLICY_DENIED", "agent_scope")
