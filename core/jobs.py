"""Long-running work: the job table (the platform's own record of every job) and the Celery app.

A job is created by the gateway when a long-running tool is called; its row is
the truth (status, attempts, heartbeat, result or error). The Celery message is
only a wake-up call: the task is idempotent (a finished job is never run
again), and a running job whose worker stopped sending heartbeats is put back
in the queue by :func:`reap_stale` — the embedded SQLite broker does not
redeliver a message taken by a dead worker.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from celery import Celery
from sqlalchemy import JSON, DateTime, Integer, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.settings import Settings

FINISHED = ("succeeded", "failed")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tool: Mapped[str] = mapped_column(String(128), index=True)
    tool_version: Mapped[int] = mapped_column(Integer)
    user: Mapped[str] = mapped_column(String(255), index=True)
    agent: Mapped[str] = mapped_column(String(255))
    # What the job runs with; read by the worker only.
    arguments: Mapped[Any] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    roles: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    trace_id: Mapped[str | None] = mapped_column(String(32))
    call_id: Mapped[str | None] = mapped_column(String(36))
    worker: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def as_dict(job: Job, *, with_result: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_id": job.id, "tool": job.tool, "tool_version": job.tool_version, "status": job.status,
        "attempts": job.attempts, "error": job.error,
        "created_at": _aware(job.created_at).isoformat() if job.created_at else None,  # type: ignore[union-attr]
        "started_at": _aware(job.started_at).isoformat() if job.started_at else None,  # type: ignore[union-attr]
        "finished_at": _aware(job.finished_at).isoformat() if job.finished_at else None,  # type: ignore[union-attr]
    }
    if with_result:
        body["result"] = job.result
    return body


class JobRepository:
    """All queries on the job table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, *, tool: str, tool_version: int, user: str, agent: str, arguments: Any,
                     scopes: Sequence[str], roles: Sequence[str], trace_id: str | None, call_id: str | None) -> Job:
        job = Job(id=str(uuid.uuid4()), tool=tool, tool_version=tool_version, user=user, agent=agent,
                  arguments=arguments, scopes=sorted(scopes), roles=sorted(roles), status="queued", attempts=0, trace_id=trace_id, call_id=call_id)
        self.session.add(job)
        await self.session.flush()
        return job

    async def get(self, job_id: str, *, for_update: bool = False) -> Job | None:
        statement = select(Job).where(Job.id == job_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def claim(self, job_id: str, worker: str, *, stale_after: dt.timedelta) -> Job | None:
        """Mark a queued job (or a running one whose worker fell silent) running for this worker.

        None if it is finished, unknown, or running with a live worker: a job runs once at a time.
        """
        job = await self.get(job_id, for_update=True)
        if job is None or job.status in FINISHED:
            return None
        heartbeat = _aware(job.heartbeat_at)
        if job.status == "running" and heartbeat is not None and heartbeat > _now() - stale_after:
            return None
        job.status = "running"
        job.attempts += 1
        job.worker = worker
        job.started_at = _now()
        job.heartbeat_at = _now()
        await self.session.flush()
        return job

    async def heartbeat(self, job_id: str, worker: str) -> None:
        await self.session.execute(
            update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == "running").values(heartbeat_at=_now())
        )

    async def finish(self, job: Job, *, result: Any = None, error: str | None = None) -> None:
        job.status = "failed" if error is not None else "succeeded"
        job.result = result
        job.error = error
        job.finished_at = _now()
        await self.session.flush()

    async def requeue(self, job: Job, error: str) -> None:
        job.status = "queued"
        job.error = error
        await self.session.flush()

    async def stale(self, older_than: dt.timedelta) -> Sequence[Job]:
        cutoff = _now() - older_than
        statement = select(Job).where(Job.status == "running", Job.heartbeat_at < cutoff).with_for_update()
        return (await self.session.scalars(statement)).all()


def make_celery(settings: Settings, include: Sequence[str] = ()) -> Celery:
    """The Celery app for these settings (broker, backend, reliability options, schedule).

    ``include`` names the task modules a worker loads; the composition root
    supplies them, since tasks live in the packages that own the work.
    """
    app = Celery("tollhouse", broker=settings.broker_url, backend=settings.result_backend)
    jobs = settings.jobs
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        broker_connection_retry_on_startup=True,
        # The SQLAlchemy transport hands its options to create_engine: only brokers with a
        # visibility timeout get one.
        broker_transport_options=(
            {
                "visibility_timeout": jobs.visibility_timeout_seconds,
                # Sweep for messages a dead worker left unacknowledged this often (kombu's
                # default, 10 s × a throttle of 10, leaves them for about 100 s).
                "unacked_restore_interval": jobs.restore_interval_seconds,
                "unacked_restore_throttle": 1,
            }
            if settings.broker_url.startswith(("redis", "rediss", "sqs")) else {}
        ),
        result_expires=7 * 86400,
        worker_hijack_root_logger=False,
        imports=tuple(include),
    )
    schedule: dict[str, Any] = {}
    if jobs.checkpoint_seconds > 0:
        schedule["audit-checkpoint"] = {"task": "tollhouse.audit.checkpoint", "schedule": jobs.checkpoint_seconds}
    if jobs.reap_interval_seconds > 0:
        schedule["jobs-reap-stale"] = {"task": "tollhouse.jobs.reap_stale", "schedule": jobs.reap_interval_seconds}
    if jobs.recsys_rebuild_seconds > 0:
        schedule["recsys-rebuild"] = {"task": "tollhouse.recsys.rebuild", "schedule": jobs.recsys_rebuild_seconds}
    app.conf.beat_schedule = schedule
    return app
