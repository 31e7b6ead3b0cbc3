"""The audit chain: concurrent writers never fork it, and plain-SQL tampering is named."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import make_record, record
from core.audit_verify import verify
from core.audit_writer import AuditWriter
from core.checkpoints import load_or_create_key, read_checkpoints, write_checkpoint
from core.db import session_scope

pytestmark = pytest.mark.db


def _sql(database_url: str, statement: str) -> None:
    engine = create_engine(database_url.replace("+aiosqlite", ""))
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


async def _write_concurrently(sessionmaker: async_sessionmaker[AsyncSession], database_url: str, tasks: int = 8, each: int = 25) -> None:
    writer = AuditWriter(database_url, max_batch=16)
    await writer.start()

    async def one_task(task: int) -> None:
        for i in range(each):
            if i % 5 == 0:
                # Direct appends in their own transactions race the group-commit writer.
                async with session_scope(sessionmaker) as session:
                    await record(session, "registry.test", user=f"u{task}", detail={"i": i})
            else:
                await writer.append(make_record("decision", user=f"u{task}", tool="demo.add", arguments={"a": i, "b": task}))

    try:
        await asyncio.gather(*(one_task(t) for t in range(tasks)))
    finally:
        await writer.stop()


async def _verify(sessionmaker: async_sessionmaker[AsyncSession], directory: Path | None = None, key_path: Path | None = None):  # type: ignore[no-untyped-def]
    public = load_or_create_key(key_path).public_key() if key_path else None
    async with sessionmaker() as session:
        return await verify(session, read_checkpoints(directory) if directory else [], public)


async def test_eight_concurrent_writers_make_one_unbroken_chain(sessionmaker, database_url: str) -> None:
    await _write_concurrently(sessionmaker, database_url)
    report = await _verify(sessionmaker)
    assert report.ok, report.problems
    assert report.records == 200 and report.head_seq == 200


async def test_writers_in_separate_processes_never_fork_the_chain(sessionmaker, database_url: str) -> None:
    script = textwrap.dedent(f"""
        import asyncio
        from core.audit import record
        from core.db import make_engine, make_sessionmaker, session_scope

        async def main():
            engine = make_engine({database_url!r})
            sessionmaker = make_sessionmaker(engine)
            async def task(n):
                for i in range(20):
                    async with session_scope(sessionmaker) as session:
                        await record(session, "decision", user="proc", detail={{"task": n, "i": i}})
            await asyncio.gather(*(task(n) for n in range(4)))
            await engine.dispose()

        asyncio.run(main())
    """)
    root = Path(__file__).parents[2]
    processes = [subprocess.Popen([sys.executable, "-c", script], cwd=root) for _ in range(3)]
    assert [p.wait(timeout=120) for p in processes] == [0, 0, 0]
    report = await _verify(sessionmaker)
    assert report.ok, report.problems
    assert report.records == 3 * 4 * 20


@pytest.mark.parametrize(
    ("tamper", "kind", "seq"),
    [
        ("UPDATE audit_records SET \"user\" = 'mallory' WHERE seq = 57", "edited", 57),
        ("UPDATE audit_records SET arguments = '{\"a\": 999}' WHERE seq = 120", "edited", 120),
        ("DELETE FROM audit_records WHERE seq = 90", "deleted", 90),
        ("UPDATE audit_records SET seq = CASE seq WHEN 70 THEN 71 WHEN 71 THEN 70 END WHERE seq IN (70, 71)", "reordered", 70),
    ],
)
async def test_each_tampering_is_detected_and_named(sessionmaker, database_url: str, tamper: str, kind: str, seq: int) -> None:
    await _write_concurrently(sessionmaker, database_url)
    assert (await _verify(sessionmaker)).ok
    if "CASE seq" in tamper:
        # Swap in two steps through a free value: the unique constraint holds at every statement.
        _sql(database_url, "UPDATE audit_records SET seq = -1 WHERE seq = 70")
        _sql(database_url, "UPDATE audit_records SET seq = 70 WHERE seq = 71")
        _sql(database_url, "UPDATE audit_records SET seq = 71 WHERE seq = -1")
    else:
        _sql(database_url, tamper)
    report = await _verify(sessionmaker)
    assert not report.ok
    first = report.first_problem
    assert first is not None
    assert (first.kind, first.seq) == (kind, seq), report.problems


async def test_a_truncated_tail_is_caught_by_the_signed_checkpoint(sessionmaker, database_url: str, tmp_path: Path) -> None:
    await _write_concurrently(sessionmaker, database_url)
    key_path = tmp_path / "key.pem"
    async with sessionmaker() as session:
        from core.audit import head

        seq, digest = await head(session)
    write_checkpoint(tmp_path / "checkpoints", load_or_create_key(key_path), seq, digest)
    assert (await _verify(sessionmaker, tmp_path / "checkpoints", key_path)).ok
    # Delete the last three records and rewind the head to make the chain consistent again.
    _sql(database_url, "DELETE FROM audit_records WHERE seq > 197")
    _sql(database_url, "UPDATE audit_head SET seq = 197, digest = (SELECT record_digest FROM audit_records WHERE seq = 197)")
    assert (await _verify(sessionmaker)).ok, "without the checkpoint, a rewound chain looks whole"
    report = await _verify(sessionmaker, tmp_path / "checkpoints", key_path)
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.seq) == ("truncated", 198)


async def test_a_forged_checkpoint_is_refused(sessionmaker, database_url: str, tmp_path: Path) -> None:
    await _write_concurrently(sessionmaker, database_url, tasks=1, each=3)
    write_checkpoint(tmp_path / "c", load_or_create_key(tmp_path / "other.pem"), 3, "sha256:" + "1" * 64)
    report = await _verify(sessionmaker, tmp_path / "c", tmp_path / "key.pem")
    assert report.first_problem is not None and report.first_problem.kind == "checkpoint"
