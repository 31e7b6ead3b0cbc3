"""Audit log benchmark: verify speed, and export throughput and memory, over a chain of N records.

    python bench/audit.py --records 100000 [--database-url URL] [--write]

Writes bench/results/audit.md with --write. Records are appended in batches of
1,000 through the real chain code (one transaction per batch), then the whole
chain is verified, and exported as JSONL and CSV through the auditor's API of
a served gateway (its own process), whose peak RSS (VmHWM) is read before and
after each export.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.audit import append, make_record
from core.audit_verify import verify
from core.auth import DevIssuer
from core.db import make_engine, make_sessionmaker, session_scope
from core.settings import DatabaseSettings, Settings
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


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure_exports(settings: Settings, url: str) -> dict[str, tuple[int, float, float]]:
    """Export through a real server process; its peak RSS before and after shows what the export costs."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLHOUSE_")}
    env.update(TOLLHOUSE_HOME=str(settings.home), TOLLHOUSE_DATABASE__URL=url, TOLLHOUSE_SEED_DEMO="false",
               TOLLHOUSE_AUDIT__CHECKPOINT_INTERVAL_SECONDS="0", TOLLHOUSE_GATEWAY__UPSTREAM_REFRESH_SECONDS="0")
    server = subprocess.Popen([str(Path(sys.executable).parent / "tollhouse"), "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    token = DevIssuer(settings.home, settings.auth).issue_for("erin")
    results: dict[str, tuple[int, float, float]] = {}
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=httpx.Timeout(30, read=600)) as client:
            # Warm the export path once on a small slice, so the baseline includes its code.
            client.get("/api/v1/audit/records", params={"limit": 10}, headers={"Authorization": f"Bearer {token}"})
            for fmt in ("jsonl", "csv"):
                before = _peak_rss_mib(server.pid)
                lines = 0
                started = time.perf_counter()
                with client.stream("GET", "/api/v1/audit/export", params={"format": fmt}, headers={"Authorization": f"Bearer {token}"}) as response:
                    assert response.status_code == 200
                    for _line in response.iter_lines():
                        lines += 1
                elapsed = time.perf_counter() - started
                results[fmt] = (lines, elapsed, _peak_rss_mib(server.pid) - before)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


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
    exports = measure_exports(settings, url)
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
        lines.append(f"| export {fmt.upper()} (streamed by a served gateway) | {count / seconds:,.0f} lines/s ({seconds:.1f} s); server peak RSS grew {peak:.1f} MiB |")
    text = "\n".join(lines) + "\n"
    print(text)
    if options.write:
        out = ROOT / "bench" / "results" / "audit.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


if __name__ == "__main__":
    asyncio.run(main())
