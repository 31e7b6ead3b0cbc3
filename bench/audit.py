"""Audit log benchmark: verify speed, and export throughput and memory, over a chain of N records.

    python bench/audit.py --records 100000 [--database-url URL] [--write]

Writes bench/results/audit.md with --write. Records are appended in batches of
1,000 through the real chain code (one transaction per batch), then the whole
chain is verified, and exported as JSONL and CSV through the auditor's API
(in-process ASGI, streamed) while tracemalloc records the peak Python memory.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.audit import append, make_record
from core.audit_verify import verify
from core.auth import DevIssuer
from core.db import make_engine, make_sessionmaker, session_scope
from core.settings import DatabaseSettings, Settings
from gateway.app import create_app
from migrations import upgrade


async def fill(url: str, count: int) -> float:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    started = time.perf_counter()
    for start in range(0, count, 1000):
        batch = [
            make_record("decision", user=f"user{i % 50}", agent="ide-assistant", tool="demo.add", tool_version=1,
                        decision="allow", layer="allow", arguments={"a": i, "b": i + 1}, trace_id=f"{i:032x}")
            for i in range(start, min(start + 1000, count))
        ]
        async with session_scope(sessionmaker) as session:
            await append(session, batch)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


async def measure_verify(url: str) -> tuple[int, float]:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        report = await verify(session, [], None)
    await engine.dispose()
    assert report.ok, report.problems
    return report.records, report.seconds


async def measure_export(settings: Settings, fmt: str) -> tuple[int, float, float]:
    app = create_app(settings)
    token = DevIssuer(settings.home, settings.auth).issue_for("erin")
    lines = 0
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", timeout=None) as client:
            tracemalloc.start()
            started = time.perf_counter()
            async with client.stream("GET", "/api/v1/audit/export", params={"format": fmt}, headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status_code == 200
                async for _line in response.aiter_lines():
                    lines += 1
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    return lines, elapsed, peak / 2**20


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--write", action="store_true")
    options = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tollhouse-bench-"))
    url = options.database_url or f"sqlite+aiosqlite:///{home / 'bench.db'}"
    upgrade(url)
    settings = Settings(home=home, database=DatabaseSettings(url=url))
    settings.gateway.upstream_refresh_seconds = 0
    settings.audit.checkpoint_interval_seconds = 0
    fill_seconds = await fill(url, options.records)
    records, verify_seconds = await measure_verify(url)
    exports = {fmt: await measure_export(settings, fmt) for fmt in ("jsonl", "csv")}
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    lines = [
        f"# Audit log: verify and export over {records:,} records ({backend})",
        "",
        f"{dt.date.today().isoformat()}, commit {git_commit()}, {platform.machine()} {platform.system()}, Python {platform.python_version()}; "
        f"`python bench/audit.py --records {options.records}`",
        "",
        "| measure | value |",
        "|---|---|",
        f"| append (batches of 1,000, chain digests computed) | {records / fill_seconds:,.0f} records/s |",
        f"| verify (every link and digest, streamed) | {records / verify_seconds:,.0f} records/s ({verify_seconds:.1f} s) |",
    ]
    for fmt, (count, seconds, peak) in exports.items():
        lines.append(f"| export {fmt.upper()} (streamed through the API) | {count / seconds:,.0f} lines/s ({seconds:.1f} s), peak Python memory {peak:.1f} MiB |")
    text = "\n".join(lines) + "\n"
    print(text)
    if options.write:
        out = ROOT / "bench" / "results" / "audit.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
