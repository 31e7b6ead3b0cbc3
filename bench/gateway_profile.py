"""Where a governed call's time goes: the gateway under wrk load, profiled.

    python bench/gateway_profile.py [--connections 8] [--seconds 8] [--top 25]

Serves the gateway in this process (SQLite, everything on, as in
bench/gateway.py) and loads it with wrk from its own process. Reports:
- the CPU time per call of the whole process and of the audit writer's thread
  (from /proc, exact, no profiler running);
- then, in a second run under cProfile (the event loop's thread only; the
  profiler slows it about twofold, so read shares, not times), own time by
  package and the functions with the most own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gateway import check_once, free_port, request_for, run_wrk, tollhouse_env

TICKS = os.sysconf("SC_CLK_TCK")
# Own time by where the code lives; the first pattern that matches names it.
AREAS = [
    ("waiting for events (idle)", r"method 'poll' of 'select.epoll'"),
    ("socket send/recv", r"method '(send|recv)' of '_socket"),
    ("Tollhouse gateway/core/tools", r"/work/[^/]+/(gateway|core|tools|registry)/|main/(gateway|core|tools|registry)/"),
    ("OpenTelemetry SDK", r"opentelemetry"),
    ("MCP SDK", r"site-packages/mcp"),
    ("FastAPI/Starlette/uvicorn", r"fastapi|starlette|uvicorn|httptools"),
    ("pydantic", r"pydantic"),
    ("SQLAlchemy/sqlite", r"sqlalchemy|sqlite3|aiosqlite"),
    ("JWT/crypto", r"jwt|cryptography"),
    ("jsonschema", r"jsonschema|referencing"),
    ("Python standard library and builtins", r"lib/python3\.\d+/(?!site-packages)|~:0"),
]


def thread_ticks() -> dict[str, int]:
    """CPU ticks (user + system) of each thread of this process, by Python thread name where known."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    ticks: Counter[str] = Counter()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[names.get(int(task.name), f"thread {task.name}")] += int(fields[11]) + int(fields[12])
    return dict(ticks)


def area_of(location: str) -> str:
    for area, pattern in AREAS:
        if re.search(pattern, location):
            return area
    return "other libraries"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tollhouse-profile-"))
    env = tollhouse_env(home, None)
    os.environ.update(env)
    os.chdir(home)

    import uvicorn

    from core.settings import get_settings
    from gateway.app import create_app
    from migrations import upgrade
    from tollhouse.cli import _seed

    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    asyncio.run(_seed())
    settings.server.port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.server.port,
                                           log_level="warning", access_log=False))
    profiler = cProfile.Profile()
    phase = {"profile": threading.Event(), "stop": threading.Event()}
    report: list[str] = []

    def load() -> None:
        try:
            token = subprocess.run([str(Path(sys.executable).parent / "tollhouse"), "token", "--user", "alice", "--agent", "ide-assistant",
                                    "--url", settings.public_url], env=env, capture_output=True, text=True, check=True).stdout.strip()
            url = f"{settings.public_url}/mcp"
            body, headers = request_for("2026-07-28", "tools/call", url, {"Authorization": f"Bearer {token}"})
            check_once(url, body, headers, "tools/call")
            run_wrk(url, body, headers, options.connections, 2)
            before = thread_ticks()
            rps, p50, *_ = run_wrk(url, body, headers, options.connections, options.seconds)
            after = thread_ticks()
            calls = rps * options.seconds
            spent = {name: (after.get(name, 0) - before.get(name, 0)) / TICKS for name in after}
            writer = sum(value for name, value in spent.items() if name.startswith("audit-writer"))
            report.append(f"without a profiler: {rps:,.0f} calls/s at {options.connections} connections, p50 {p50:.2f} ms; "
                          f"CPU per call {1000 * sum(spent.values()) / calls:.2f} ms for the process, of which "
                          f"{1000 * writer / calls:.2f} ms in the audit writer's thread")
            phase["profile"].set()
            rps, *_ = run_wrk(url, body, headers, options.connections, options.seconds)
            report.append(f"under cProfile: {rps:,.0f} calls/s")
        finally:
            phase["stop"].set()
            server.should_exit = True

    async def run() -> None:
        async def toggle() -> None:
            while not phase["profile"].is_set() and not phase["stop"].is_set():
                await asyncio.sleep(0.01)
            profiler.enable()
            while not phase["stop"].is_set():
                await asyncio.sleep(0.01)
            profiler.disable()

        toggling = asyncio.create_task(toggle())
        await server.serve()
        await toggling

    threading.Thread(target=load, daemon=True).start()
    asyncio.run(run())
    print("\n".join(report))
    stats = pstats.Stats(profiler)
    own: Counter[str] = Counter()
    functions = []
    for (filename, line, name), (_calls, _primitive, tottime, _cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        location = f"{filename}:{line}({name})"
        own[area_of(location)] += tottime
        functions.append((tottime, location))
    total = sum(own.values())
    print("\n| where (event loop thread, own time) | share |\n|---|---|")
    for area, seconds in own.most_common():
        print(f"| {area} | {seconds / total:.1%} |")
    print("\n| function (own time) | share |\n|---|---|")
    for tottime, location in sorted(functions, reverse=True)[: options.top]:
        print(f"| `{location.replace(str(ROOT) + '/', '').split('site-packages/')[-1]}` | {tottime / total:.1%} |")


if __name__ == "__main__":
    main()
