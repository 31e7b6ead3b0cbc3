"""Celery tasks owned by the gateway: run a job, reap stale jobs, sign an audit checkpoint.

Each task builds what it needs from the settings in the worker process and
runs its async body to completion.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from celery import shared_task
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit_verify import checkpoint_configured
from core.db import make_engine, make_sessionmaker
from core.jobs import make_celery
from core.settings import get_settings
from gateway import jobs
from tools.catalogue import in_process_tools

T = TypeVar("T")


def _run(body: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = make_engine(get_settings().database_url)
        try:
            return await body(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


@shared_task(name=jobs.RUN_TASK, bind=True, acks_late=True)
def run_job(self: Any, job_id: str) -> str:
    """Run a long-running tool call; idempotent, retried with backoff, failed for good after the last try."""
    settings = get_settings()
    final = self.request.retries >= settings.jobs.max_retries
    try:
        return _run(lambda sm: jobs.execute(job_id, settings, sm, in_process_tools(settings.extra_tool_modules), worker=jobs.worker_name(), final_attempt=final))
    except jobs.RetryLater as exc:
        raise self.retry(exc=exc, countdown=settings.jobs.retry_backoff_seconds * 2**self.request.retries) from exc


@shared_task(name="tollhouse.jobs.reap_stale")
def reap_stale() -> list[str]:
    settings = get_settings()
    celery = make_celery(settings)
    return _run(lambda sm: jobs.reap(sm, celery, stale_after=settings.jobs.stale_after_seconds))


@shared_task(name="tollhouse.audit.checkpoint")
def audit_checkpoint() -> dict[str, Any]:
    settings = get_settings()

    async def body(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        async with sessionmaker() as session:
            checkpoint = await checkpoint_configured(session, settings)
        return {"seq": checkpoint.seq, "digest": checkpoint.digest}

    return _run(body)
