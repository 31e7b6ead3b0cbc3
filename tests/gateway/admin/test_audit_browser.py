"""An auditor in a real browser: filter the log, open a trace, the chain's integrity, shadow agents, usage."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import expect

from agents.identity import exchange_form, make_assertion
from core import keys
from core.audit_verify import checkpoint_configured
from core.db import make_engine, make_sessionmaker
from core.settings import LlmModel, Settings
from evals.fake_provider import Reply, serve_fake
from tests.gateway.admin.conftest import POLICIES, TOOLS, UserPage
from tests.gateway.conftest import LiveGateway, seed, serve, structured


@pytest.fixture
async def live(gateway_settings: Settings) -> AsyncIterator[LiveGateway]:
    """The admin world with a scripted model behind /v1/chat/completions."""
    async with serve_fake([Reply(tool="demo.add", arguments={"a": 2, "b": 3})]) as (_, base_url):
        gateway_settings.llm.models = {"fake-model": LlmModel(litellm_model="openai/fake-model", api_base=base_url)}
        gateway_settings.llm.agent_models = {"ide-assistant": ["fake-model"]}
        await seed(gateway_settings, TOOLS, POLICIES)
        async with serve(gateway_settings, tools=TOOLS) as gateway:
            yield gateway


async def _agent_session(live: LiveGateway) -> str:
    """alice through ide-assistant: the model asks for demo.add, the agent calls it, on one trace."""
    token = await live.delegated("alice", "ide-assistant")
    trace_id = secrets.token_hex(16)
    parent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    inference = await live.http.post(
        "/v1/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": "add 2 and 3"}]},
        headers={"Authorization": f"Bearer {token}", "traceparent": parent},
    )
    assert inference.status_code == 200, inference.text
    # The SDK types _meta narrowly; W3C trace context travels in it all the same.
    meta: Any = {"traceparent": parent}
    async with live.mcp(token) as client:
        result = await client.call_tool("demo.add", {"a": 2, "b": 3}, meta=meta)
    assert structured(result) == {"sum": 5}
    # Noise the filter must leave out: another agent refused, and a rogue one.
    async with live.mcp(await live.delegated("alice", "chat-bot")) as client:
        assert structured(await client.call_tool("demo.add", {"a": 1, "b": 1}))["layer"] == "agent_scope"
    rogue = make_assertion("rogue-bot", keys.generate_private_key(), f"{live.url}/oauth/token")
    await live.http.post("/oauth/token", data=exchange_form(live.user_token("bob"), rogue))
    engine = make_engine(live.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await checkpoint_configured(session, live.settings)
    finally:
        await engine.dispose()
    return trace_id


async def test_an_auditor_filters_the_log_and_opens_a_trace(live: LiveGateway, open_tab: Any) -> None:
    trace_id = await _agent_session(live)
    erin: UserPage = await open_tab()
    await erin.sign_in("erin", "/admin/audit")
    await expect(erin.page.locator("#audit-filter")).to_be_visible()
    await expect(erin.page.locator("aside")).to_contain_text("Last checkpoint")

    await erin.page.get_by_label("Agent").fill("ide-assistant")
    await erin.page.get_by_label("User").fill("alice")
    await erin.page.get_by_label("Decision").select_option("allow")
    await erin.page.get_by_role("button", name="Filter").click()
    await erin.page.wait_for_url("**/admin/audit?*decision=allow*")
    rows = erin.page.locator("#audit-records tbody tr")
    kinds = await rows.locator("td:nth-child(3)").all_inner_texts()
    assert "inference" in kinds and "decision" in kinds
    assert set(await rows.locator("td:nth-child(4)").all_inner_texts()) == {"alice"}
    assert set(await rows.locator("td:nth-child(5)").all_inner_texts()) == {"ide-assistant"}
    assert set(await rows.locator("td:nth-child(7)").all_inner_texts()) == {"allow"}
    await erin.shot("audit-filtered")

    await erin.page.locator(f'a.trace-link[href$="{trace_id}"]').first.click()
    await expect(erin.page.locator("h1")).to_contain_text(trace_id)
    steps = erin.page.locator("#trace-records > li")
    # The model's inference, then the call it asked for: decided, intent written, outcome written.
    assert await steps.locator("code.kind").all_inner_texts() == ["inference", "decision", "tool_call.intent", "tool_call.outcome"]
    seqs = [int(text.lstrip("#")) for text in await steps.locator(".seq").all_inner_texts()]
    assert seqs == sorted(seqs)
    await expect(steps.nth(3)).to_contain_text('"sum": 5')
    await erin.shot("audit-trace")

    await erin.page.get_by_role("link", name="This trace in the log").click()
    await expect(erin.page.locator("#audit-records tbody tr")).to_have_count(4)
    await erin.goto("/admin/audit/integrity")
    await expect(erin.page.locator("#verify-status")).to_contain_text("Verified")
    await erin.shot("audit-integrity")
    await erin.goto("/admin/audit/shadow-agents")
    await expect(erin.page.locator("#shadow-agents")).to_contain_text("rogue-bot")
    await expect(erin.page.locator("#shadow-agents")).to_contain_text("unregistered")
    await erin.shot("audit-shadow-agents")
    await erin.goto("/admin/usage")
    for chart in ("#calls-chart", "#denials-chart"):
        assert await erin.page.locator(chart).evaluate("image => image.complete && image.naturalWidth > 0")
    await expect(erin.page.locator("table.grid").first).to_contain_text("demo.add")
    await expect(erin.page.locator("table.grid").nth(1)).to_contain_text("agent_scope")
    await erin.shot("usage")
    erin.assert_clean()


async def test_the_audit_pages_are_for_auditors_only(live: LiveGateway, open_tab: Any) -> None:
    alice: UserPage = await open_tab()
    await alice.sign_in("alice")
    await expect(alice.page.get_by_role("link", name="Audit")).to_have_count(0)
    response = await alice.page.goto(f"{live.url}/admin/audit")
    assert response is not None and response.status == 403
    await expect(alice.page.locator(".error")).to_contain_text("needs one of the roles: auditor")
    await alice.shot("forbidden")
