"""Nothing acknowledged is lost: SIGKILL the served gateway under load, restart, verify."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.gateway.conftest import free_port
from tests.mcp_wire import modern_request

pytestmark = pytest.mark.db
BIN = Path(sys.executable).parent / "tollhouse"


def _start(env: dict[str, str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([str(BIN), "serve", "--port", str(port)], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("gateway did not start")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The parent pid is the second field after the parenthesised command name.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _load(url: str, token: str, workers: int, acknowledged: list[tuple[int, int]], stop: asyncio.Event) -> None:
    async def worker(a: int) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            for b in range(10_000):
                if stop.is_set():
                    return
                body, headers = modern_request(b, "tools/call", {"name": "demo.add", "arguments": {"a": a, "b": b}})
                try:
                    response = await http.post(f"{url}/mcp", json=body, headers={**headers, "Authorization": f"Bearer {token}"})
                except httpx.HTTPError:
                    return
                if response.status_code == 200 and response.json().get("result", {}).get("isError") is False:
                    acknowledged.append((a, b))

    await asyncio.gather(*(worker(a) for a in range(workers)))


async def test_every_acknowledged_call_survives_sigkill_and_verify_reports_open_intents(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLHOUSE_")}
    env.update(TOLLHOUSE_HOME=str(tmp_path / "home"), TOLLHOUSE_DATABASE__URL=database_url, TOLLHOUSE_AUDIT__CHECKPOINT_INTERVAL_SECONDS="0")
    server = _start(env, port, tmp_path)
    try:
        token = subprocess.run([str(BIN), "token", "--user", "alice", "--agent", "ide-assistant", "--url", f"http://127.0.0.1:{port}"],
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
        acknowledged: list[tuple[int, int]] = []
        stop = asyncio.Event()
        load = asyncio.create_task(_load(f"http://127.0.0.1:{port}", token, 8, acknowledged, stop))
        while len(acknowledged) < 40:
            await asyncio.sleep(0.05)
        workers = _children(server.pid) if sys.platform.startswith("linux") else []
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        await load
    finally:
        if server.poll() is None:
            server.kill()
    assert len(acknowledged) >= 40
    # The embedded job worker does not outlive the gateway that was killed.
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), f"embedded worker outlived the gateway: {workers}"

    engine = create_engine(database_url.replace("+aiosqlite", ""))
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT arguments FROM audit_records WHERE kind = 'tool_call.intent'")).all()
    engine.dispose()
    import json

    intents = {(args["a"], args["b"]) for (raw,) in rows for args in [raw if isinstance(raw, dict) else json.loads(raw)]}
    assert set(acknowledged) <= intents, "an acknowledged call has no intent record"

    restarted = _start(env, port, tmp_path)
    restarted.terminate()
    restarted.wait(timeout=20)
    verified = subprocess.run([str(BIN), "audit", "verify"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK:")
    print(f"\n{len(acknowledged)} calls acknowledged before SIGKILL; verify: {verified.stdout.strip()}")
