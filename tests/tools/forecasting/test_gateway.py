"""forecasting.forecast end to end: reviewed and approved, called through the gateway with the MCP client."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.gateway.conftest import seed, serve, structured
from tests.tools.forecasting.helpers import shared_data_dir
from tools.forecasting.specs import SPECS

pytestmark = pytest.mark.db


async def test_forecast_through_the_gateway(gateway_settings: Settings) -> None:
    gateway_settings.data_dir = str(shared_data_dir().resolve())
    tools = {spec.name: spec for spec in SPECS}
    await seed(gateway_settings, tools)
    async with serve(gateway_settings, tools=tools) as live:
        token = await live.delegated("alice", "ide-assistant")
        async with live.mcp(token) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"forecasting.forecast", "forecasting.signals"} <= names
            result = await client.call_tool("forecasting.forecast", {
                "series_id": "total_units", "horizon": 6,
                "context_text": "2011-12-12: 20% off all Christmas lines for 5 days",
                "context_sources": ["england_holidays"],
            })
            assert not result.is_error, result
            body = structured(result)
            assert [p["date"] for p in body["forecast"]] == [
                "2011-12-11", "2011-12-12", "2011-12-13", "2011-12-14", "2011-12-15", "2011-12-16"]
            assert body["backbone_model"].startswith("ETS(") and body["interval"]["level"] == 0.8
            assert {s["event_type"] for s in body["signals"]} == {"promotion", "holiday"}
            assert "UCI Online Retail" in body["data"]
            unknown = await client.call_tool("forecasting.forecast", {"series_id": "product:NOPE", "horizon": 3})
            assert unknown.is_error and structured(unknown)["code"] == "unknown_series"
            shown = structured(await client.call_tool("forecasting.signals", {"context_text": "2011-12-26 Boxing Day"}))
            assert shown["signals"][0]["event_type"] == "holiday"
