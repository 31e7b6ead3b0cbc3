"""Long-running tools as jobs, with a real worker process, on the embedded SQLite broker and on Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from core.settings import Settings
from tests.gateway.conftest import LiveGateway, audit_records, seed, serve, structured
from tests.job_tools import SLOW
from tools.catalogue import in_process_tools

REDIS_URL = os.environ.get("TOLLHOUSE_TEST_JOBS_REDIS_URL", "redis://127.0.0.1:6379/13")
ROOT = Path(__file__).parents[2]


@dataclass
class JobWorld:
    live: LiveGateway
    env: dict[str, str]
    effects: Path
    workers: list[asyncio.subprocess.Process]

    async def start_worker(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tollhouse", "worker", "--concurrency", "1", env=self.env, cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
        self.workers.append(process)
        return process

    @staticmethod
    async def kill(process: asyncio.subprocess.Process) -> None:
        # The whole process group: the pool's children must die with their parent.
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


def _redis_or_skip() -> None:
    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        client.close()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"Redis at {REDIS_URL} is not reachable")


@pytest.fixture(params=["embedded", "redis"])
async def world(request: pytest.FixtureRequest, gateway_settings: Settings, tmp_path: Path) -> AsyncIterator[JobWorld]:
    settings = gateway_settings
    effects = tmp_path / "effects"
    settings.extra_tool_modules = ["tests.job_tools:SPECS"]
    settings.jobs.heartbeat_seconds = 0.5
    settings.jobs.stale_after_seconds = 3
    settings.jobs.retry_backoff_seconds = 0.5
    settings.audit.checkpoint_interval_seconds = 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLHOUSE_")}
    env.update(
        TOLLHOUSE_HOME=str(settings.home), TOLLHOUSE_DATABASE__URL=settings.database_url,
        TOLLHOUSE_EXTRA_TOOL_MODULES=json.dumps(settings.extra_tool_modules), TOLLHOUSE_TEST_EFFECTS=str(effects),
        TOLLHOUSE_JOBS__HEARTBEAT_SECONDS="0.5", TOLLHOUSE_JOBS__STALE_AFTER_SECONDS="3",
        TOLLHOUSE_JOBS__RETRY_BACKOFF_SECONDS="0.5", TOLLHOUSE_JOBS__CHECKPOINT_SECONDS="0",
        TOLLHOUSE_JOBS__RECSYS_REBUILD_SECONDS="0",
    )
    os.environ["TOLLHOUSE_TEST_EFFECTS"] = str(effects)
    if request.param == "redis":
        _redis_or_skip()
        settings.jobs.broker_url = settings.jobs.result_backend = REDIS_URL
        # Redelivery after a worker dies comes from late acknowledgement: the message is
        # handed out again once this visibility timeout passes; the reaper stays off.
        settings.jobs.visibility_timeout_seconds = 4
        settings.jobs.reap_interval_seconds = 0
        env.update(TOLLHOUSE_JOBS__BROKER_URL=REDIS_URL, TOLLHOUSE_JOBS__RESULT_BACKEND=REDIS_URL,
                   TOLLHOUSE_JOBS__VISIBILITY_TIMEOUT_SECONDS="4", TOLLHOUSE_JOBS__REAP_INTERVAL_SECONDS="0",
                   TOLLHOUSE_JOBS__RESTORE_INTERVAL_SECONDS="1")
    else:
        # The embedded broker does not redeliver: the platform's reaper does.
        settings.jobs.reap_interval_seconds = 1
        env.update(TOLLHOUSE_JOBS__REAP_INTERVAL_SECONDS="1")
    await seed(settings, {SLOW.name: SLOW})
    async with serve(settings, tools=in_process_tools(settings.extra_tool_modules)) as live:
        created = JobWorld(live, env, effects, [])
        try:
            yield created
        finally:
            for process in created.workers:
                if process.returncode is None:
                    await JobWorld.kill(process)


async def _wait_for(live: LiveGateway, token: str, job_id: str, status: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with live.mcp(token) as client:
        while time.monotonic() < deadline:
            current = structured(await client.call_tool("jobs.status", {"job_id": job_id}))
            if current["status"] == status:
                return current
            await asyncio.sleep(0.3)
    raise AssertionError(f"job {job_id} never reached {status}")


async def test_a_long_running_call_returns_a_job_only_its_user_can_read(world: JobWorld) -> None:
    live = world.live
    await world.start_worker()
    alice = await live.delegated("alice", "ide-assistant")
    async with live.mcp(alice) as client:
        reference = structured(await client.call_tool("test.slow", {"label": "first"}))
    assert reference["status"] == "queued"
    job_id = reference["job_id"]
    await _wait_for(live, alice, job_id, "succeeded")
    async with live.mcp(alice) as client:
        result = structured(await client.call_tool("jobs.result", {"job_id": job_id}))
    assert result["result"] == {"label": "first", "user": "alice"}
    carol = await live.delegated("carol", "ide-assistant")
    async with live.mcp(carol) as client:
        denied = await client.call_tool("jobs.result", {"job_id": job_id})
    assert denied.is_error and structured(denied)["layer"] == "job_owner"
    records = await audit_records(live.settings)
    call = next(r for r in records if r.kind == "tool_call.intent" and r.tool == "test.slow")
    start = next(r for r in records if r.kind == "job.start")
    end = next(r for r in records if r.kind == "job.end")
    assert start.trace_id == end.trace_id == call.trace_id and end.status == "succeeded"


async def test_a_worker_killed_mid_task_leaves_a_job_that_completes_once(world: JobWorld) -> None:
    live = world.live
    first = await world.start_worker()
    alice = await live.delegated("alice", "ide-assistant")
    async with live.mcp(alice) as client:
        job_id = structured(await client.call_tool("test.slow", {"label": "once", "seconds": 4}))["job_id"]
    await _wait_for(live, alice, job_id, "running")
    await asyncio.sleep(0.5)
    await JobWorld.kill(first)
    await world.start_worker()
    done = await _wait_for(live, alice, job_id, "succeeded", timeout=120)
    assert done["attempts"] == 2
    effect = world.effects / f"{job_id}.effect"
    assert effect.read_text().splitlines() == ["alice once"]
