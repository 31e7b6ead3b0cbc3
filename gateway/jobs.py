"""Long-running tool calls as jobs: enqueue under the caller's identity, execute in a worker, reap the stale.

The job row is the truth; the Celery message only wakes a worker. Execution
is idempotent (a finished job never runs again), a worker beats its heart
into the row while it runs, and :func:`reap` re-enqueues a running job whose
worker fell silent. Job start and end are audit records on the call's trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

from celery import Celery
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import audit
from core.db import session_scope
from core.errors import TollhouseError
from core.jobs import JobRepository, as_dict
from core.settings import Settings
from gateway.invoke import in_process_context
from gateway.tokens import GatewayTokens
from tools.spec import ToolSpec

logger = logging.getLogger(__name__)
RUN_TASK = "tollhouse.jobs.run"


class RetryLater(Exception):
    """An attempt failed for a reason worth another try; the task retries with backoff."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def enqueue(
    sessionmaker: async_sessionmaker[AsyncSession],
    celery: Celery,
    *,
    tool: str,
    tool_version: int,
    user: str,
    agent: str,
    arguments: Any,
    scopes: frozenset[str],
    roles: frozenset[str],
    trace_id: str | None,
    call_id: str,
) -> dict[str, Any]:
    """Record a queued job (durably), then wake a worker; returns the job reference for the caller."""
    async with session_scope(sessionmaker) as session:
        job = await JobRepository(session).create(
            tool=tool, tool_version=tool_version, user=user, agent=agent, arguments=arguments,
            scopes=sorted(scopes), roles=sorted(roles), trace_id=trace_id, call_id=call_id,
        )
        reference = as_dict(job)
    # Publishing is blocking I/O for some transports (the embedded SQLite broker).
    await asyncio.to_thread(celery.send_task, RUN_TASK, args=[reference["job_id"]])
    return {**reference, "poll_with": ["jobs.status", "jobs.result"]}


async def _beat(sessionmaker: async_sessionmaker[AsyncSession], job_id: str, worker: str, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        async with session_scope(sessionmaker) as session:
            await JobRepository(session).heartbeat(job_id, worker)


async def execute(
    job_id: str,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    tools: Mapping[str, ToolSpec],
    *,
    worker: str,
    final_attempt: bool,
) -> str:
    """Run one job once. Returns what happened; raises :class:`RetryLater` for another try."""
    async with session_scope(sessionmaker) as session:
        repository = JobRepository(session)
        job = await repository.claim(job_id, worker, stale_after=dt.timedelta(seconds=settings.jobs.stale_after_seconds))
        if job is None:
            return "skipped: finished, unknown, or running elsewhere"
        await audit.record(session, "job.start", user=job.user, agent=job.agent, tool=job.tool, tool_version=job.tool_version,
                           status="running", trace_id=job.trace_id, call_id=job.call_id,
                           detail={"job_id": job.id, "attempt": job.attempts, "worker": worker})
        user, agent, tool_name, arguments = job.user, job.agent, job.tool, job.arguments
        scopes, roles = frozenset(job.scopes), frozenset(job.roles)
        trace_id, call_id, version = job.trace_id, job.call_id, job.tool_version
    spec = tools.get(tool_name)
    heart = asyncio.create_task(_beat(sessionmaker, job_id, worker, settings.jobs.heartbeat_seconds))
    result: Any = None
    error: str | None = None
    try:
        if spec is None:
            raise TollhouseError(f"tool {tool_name!r} is not in this build", code="tool_not_in_build")
        context = in_process_context(GatewayTokens(settings), settings, sessionmaker, tool_name, user=user, agent=agent,
                                     scopes=scopes, roles=roles, trace_id=trace_id, data_dir=settings.data_path, job_id=job_id)
        result = await spec.handler(arguments, context)
    except TollhouseError as exc:
        # A refusal by the tool itself: retrying cannot change it.
        error = f"{exc.code}: {exc.message}"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if not final_attempt:
            async with session_scope(sessionmaker) as session:
                repository = JobRepository(session)
                job = await repository.get(job_id, for_update=True)
                if job is not None:
                    await repository.requeue(job, error)
            raise RetryLater(error) from exc
    finally:
        heart.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heart
    async with session_scope(sessionmaker) as session:
        repository = JobRepository(session)
        job = await repository.get(job_id, for_update=True)
        assert job is not None
        await repository.finish(job, result=result, error=error)
        await audit.record(session, "job.end", user=user, agent=agent, tool=tool_name, tool_version=version,
                           result=result, status=job.status, reason=error, trace_id=trace_id, call_id=call_id,
                           detail={"job_id": job_id, "attempts": job.attempts})
    return job.status


async def reap(sessionmaker: async_sessionmaker[AsyncSession], celery: Celery, *, stale_after: float) -> list[str]:
    """Re-enqueue running jobs whose worker stopped beating (it died). Returns their ids."""
    async with session_scope(sessionmaker) as session:
        repository = JobRepository(session)
        stale = await repository.stale(dt.timedelta(seconds=stale_after))
        for job in stale:
            await repository.requeue(job, f"worker {job.worker} stopped sending heartbeats; re-enqueued")
            await audit.record(session, "job.requeued", user=job.user, agent=job.agent, tool=job.tool, status="queued",
                               trace_id=job.trace_id, call_id=job.call_id, detail={"job_id": job.id, "worker": job.worker})
        ids = [job.id for job in stale]
    for job_id in ids:
        await asyncio.to_thread(celery.send_task, RUN_TASK, args=[job_id])
    return ids


async def reap_forever(interval: float, sessionmaker: async_sessionmaker[AsyncSession], celery: Celery, stale_after: float,
                       sleep: Callable[[float], Any] = asyncio.sleep) -> None:
    """Reap on an interval, for the life of the app."""
    while True:
        await sleep(interval)
        try:
            requeued = await reap(sessionmaker, celery, stale_after=stale_after)
            if requeued:
                logger.warning("re-enqueued %d stale job(s)", len(requeued))
        except (OSError, TollhouseError):
            logger.exception("reaping stale jobs failed; trying again next interval")
