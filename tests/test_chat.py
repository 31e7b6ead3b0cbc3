"""`tollhouse chat` in a terminal: the LLM agent, through the gateway's LLM endpoint, uses a tool and answers."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

from evals.fake_provider import Reply, serve_fake
from tests.gateway.conftest import free_port

BIN = Path(sys.executable).parent / "tollhouse"


async def test_chat_uses_a_tool_and_answers(tmp_path: Path) -> None:
    script = [
        Reply(tool="demo__add", arguments={"a": 2, "b": 3}),
        Reply(text="The sum is 5."),
    ]
    async with serve_fake(script) as (fake, base_url):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLHOUSE_")}
        env.update(
            TOLLHOUSE_HOME=str(tmp_path / "home"),
            TOLLHOUSE_URL=f"http://127.0.0.1:{port}",
            TOLLHOUSE_LLM__MODELS=json.dumps({"fake-model": {"litellm_model": "openai/fake-model", "api_base": base_url}}),
            TOLLHOUSE_LLM__AGENT_MODELS=json.dumps({"ide-assistant": ["fake-model"]}),
            TOLLHOUSE_AUDIT__CHECKPOINT_INTERVAL_SECONDS="0",
        )
        server = await asyncio.create_subprocess_exec(str(BIN), "serve", "--port", str(port), env=env, cwd=tmp_path,
                                                      stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            async with httpx.AsyncClient() as http:
                for _ in range(300):
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        await asyncio.sleep(0.1)
            chat = await asyncio.create_subprocess_exec(
                str(BIN), "chat", "--user", "alice", "--agent", "ide-assistant", "--model", "fake-model",
                env=env, cwd=tmp_path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(chat.communicate(b"What is 2 plus 3?\n\n"), timeout=120)
        finally:
            server.terminate()
            await server.wait()
    text = out.decode()
    assert chat.returncode == 0, err.decode()
    assert "[tool] demo.add" in text
    assert "agent> The sum is 5." in text
    # The fake saw the tool's result in the conversation, and never the delegated token.
    second = fake.requests[1].body["messages"]
    assert any(m.get("role") == "tool" and '"sum": 5' in (m.get("content") or "") for m in second)
