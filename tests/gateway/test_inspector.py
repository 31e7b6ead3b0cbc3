"""A real third-party client: the MCP Inspector's CLI mode (pinned in tests/inspector) lists and calls."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.gateway.conftest import LiveGateway

pytestmark = pytest.mark.db
INSPECTOR = Path(__file__).parents[1] / "inspector" / "node_modules" / ".bin" / "mcp-inspector"


async def _inspect(live: LiveGateway, token: str, *method: str, era: str | None = None) -> tuple[int, str, str]:
    if not INSPECTOR.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("the MCP Inspector is not installed (npm ci in tests/inspector)")
        pytest.skip("the MCP Inspector is not installed: run `npm ci` in tests/inspector")
    # Proxy variables make this release fail to load its HTTP client on Node 20.
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env["HOME"] = tempfile.mkdtemp()
    args = [str(INSPECTOR), "--cli", live.mcp_url, "--transport", "http",
            "--header", f"Authorization: Bearer {token}", "--stored-auth-only", "--format", "json"]
    if era:
        args += ["--protocol-era", era]
    process = await asyncio.create_subprocess_exec(
        *args, *method, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


@pytest.mark.parametrize("era", [None, "modern"])
async def test_the_inspector_lists_and_calls_through_the_gateway(live: LiveGateway, era: str | None) -> None:
    token = await live.delegated("alice", "ide-assistant")
    code, out, err = await _inspect(live, token, "--method", "tools/list", era=era)
    assert code == 0, err
    assert "demo.add" in [tool["name"] for tool in json.loads(out)["result"]["tools"]]
    code, out, err = await _inspect(
        live, token, "--method", "tools/call", "--tool-name", "demo.add", "--tool-arg", "a=2", "--tool-arg", "b=40", era=era
    )
    assert code == 0, err
    assert json.loads(out)["result"]["structuredContent"] == {"sum": 42}


async def test_the_inspector_sees_denials_and_bad_tokens(live: LiveGateway) -> None:
    token = await live.delegated("alice", "chat-bot")
    code, out, err = await _inspect(live, token, "--method", "tools/list")
    assert code == 0 and "demo.add" not in [tool["name"] for tool in json.loads(out)["result"]["tools"]]
    # The Inspector checks the list before calling: a tool this caller may not use is not offered.
    code, _, err = await _inspect(live, token, "--method", "tools/call", "--tool-name", "demo.add", "--tool-arg", "a=1", "--tool-arg", "b=1")
    assert code == 5
    assert "tool_not_found" in err
    code, _, err = await _inspect(live, live.user_token("alice"), "--method", "tools/list")
    assert code == 3
    assert "auth_required" in err
