"""Group commit for the audit chain: the records of concurrent calls share one transaction.

A caller awaits :meth:`AuditWriter.append`; it returns only after the
transaction holding its records has committed (durably: SQLite in FULL
synchronous mode, PostgreSQL's synchronous commit). While one batch commits,
the next gathers, so under load many calls pay for one commit. If the commit
fails, every caller in that batch gets the error: nothing is acknowledged
that is not on disk.

Each batch is written by one synchronous transaction on the writer's own
thread and connection: one hand-off per batch instead of one per statement,
and the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from opentelemetry import trace
from sqlalchemy import Engine

from core.audit import AuditEntry, append_sync
from core.db import make_sync_engine
from core.errors import TollhouseError

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer("tollhouse.audit")


class AuditUnavailable(TollhouseError):
    code = "audit_unavailable"
    status = 503


def _log_failure(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.error("an audit record queued without waiting could not be committed: %s", done.exception())


@dataclass
class _Pending:
    entries: Sequence[AuditEntry]
    # A caller waits for this commit (as opposed to a record queued with submit).
    awaited: bool
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class AuditWriter:
    def __init__(
        self,
        database_url: str,
        *,
        max_batch: int = 256,
        linger_seconds: float = 0.002,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._database_url = database_url
        self._linger = linger_seconds
        self._engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._max_batch = max_batch
        self._tracer = tracer or _tracer
        # None is the stop sentinel.
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        self._engine = make_sync_engine(self._database_url)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-writer")
        self._closing = False
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        """Commit what is queued, then stop; later appends raise :class:`AuditUnavailable`."""
        if self._task is None or self._queue is None:
            return
        self._closing = True
        await self._queue.put(None)
        await self._task
        self._task = None
        if self._thread is not None and self._engine is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
            self._thread.shutdown()
            self._thread, self._engine = None, None

    async def append(self, *entries: AuditEntry) -> None:
        """Append records to the chain; returns once they are committed.

        Raises :class:`AuditUnavailable` if they could not be committed.
        """
        if self._queue is None or self._task is None or self._task.done() or self._closing:
            raise AuditUnavailable("the audit log is not running; nothing can be recorded")
        pending = _Pending(entries, awaited=True)
        await self._queue.put(pending)
        await pending.done

    def submit(self, *entries: AuditEntry) -> None:
        """Queue records without waiting for their commit: for what no caller is acknowledged on
        (an outcome after the call already ran, a listing, a denial). A failed commit is logged;
        a crash before it shows as an open intent in ``verify``, never as silence about a call."""
        if self._queue is None or self._task is None or self._task.done() or self._closing:
            raise AuditUnavailable("the audit log is not running; nothing can be recorded")
        pending = _Pending(entries, awaited=False)
        pending.done.add_done_callback(_log_failure)
        self._queue.put_nowait(pending)

    async def _run(self) -> None:
        assert self._queue is not None
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch, count = [first], len(first.entries)
            stopping = self._drain(batch, count)
            if not stopping and not any(pending.awaited for pending in batch) and self._linger > 0:
                # Nobody waits on these records: give the next call's intent a moment to share
                # their commit (one commit per call instead of two when calls come one by one).
                try:
                    item = await asyncio.wait_for(self._queue.get(), self._linger)
                except TimeoutError:
                    item = first
                if item is None:
                    stopping = True
                elif item is not first:
                    batch.append(item)
                    stopping = self._drain(batch, count + len(item.entries))
            await self._commit(batch)

    def _drain(self, batch: list[_Pending], count: int) -> bool:
        """Move what is queued into ``batch`` (up to the batch limit); True if the stop sentinel came."""
        assert self._queue is not None
        while not self._queue.empty() and count < self._max_batch:
            item = self._queue.get_nowait()
            if item is None:
                return True
            batch.append(item)
            count += len(item.entries)
        return False

    async def _commit(self, batch: list[_Pending]) -> None:
        entries = [entry for pending in batch for entry in pending.entries]
        with self._tracer.start_as_current_span("tollhouse.audit.write") as span:
            span.set_attribute("tollhouse.audit.records", len(entries))
            span.set_attribute("tollhouse.audit.calls", len(batch))
            try:
                await asyncio.get_running_loop().run_in_executor(self._thread, self._write, entries)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, who fails closed
                logger.error("audit commit of %d records failed: %s", len(entries), type(exc).__name__)
                error = AuditUnavailable(f"the audit log could not record this call ({type(exc).__name__}); it was not run")
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(error)
                return
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)

    def _write(self, entries: list[AuditEntry]) -> None:
        assert self._engine is not None
        with self._engine.begin() as connection:
            append_sync(connection, entries)
