"""The cost of governance: Tollhouse beside a plain MCP server, measured in one run with wrk.

    python bench/gateway.py [--seconds 8] [--write]

Three servers, each one process with one uvicorn worker, on loopback:
  plain      the mcp SDK's low-level server, no auth, no audit (stateless JSON);
  tollhouse  every governance feature on: delegated-token verification (ES256),
             the decision, argument validation, hash-chained audit intent and
             outcome committed durably (SQLite, synchronous=FULL) before the call
             is acknowledged, tracing with no exporter;
  tollhouse-pg  the same with the platform database (and audit) on PostgreSQL.
wrk runs in its own process beside them: sequential (1 connection), 8 and 32.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.mcp_wire import modern_request

PG_SERVER = os.environ.get("TOLLHOUSE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
LUA = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass
class Result:
    server: str
    era: str
    method: str
    connections: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} never opened")


def request_for(era: str, method: str, url: str, headers: dict[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    params: dict[str, object] | None = {"name": "demo.add", "arguments": {"a": 2, "b": 3}} if method == "tools/call" else None
    if era == "2026-07-28":
        body, routing = modern_request(1, method, params)
        return body, {**headers, **routing}
    # The handshake era: initialize once; the session (if the server keeps one) is reused by every request.
    with httpx.Client(timeout=10) as client:
        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
        response = client.post(url, json=init, headers={**headers, "Accept": "application/json, text/event-stream"})
        response.raise_for_status()
        session = response.headers.get("mcp-session-id")
        common = {**headers, "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
        if session:
            common["Mcp-Session-Id"] = session
        client.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=common)
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    return body, common


def check_once(url: str, body: dict[str, object], headers: dict[str, str], method: str) -> None:
    response = httpx.post(url, json=body, headers=headers, timeout=30)
    response.raise_for_status()
    result = response.json().get("result", {})
    if method == "tools/call" and (result.get("isError") or result.get("structuredContent") != {"sum": 5}):
        raise RuntimeError(f"the call did not succeed: {response.text[:300]}")
    if method == "tools/list" and len(result.get("tools", [])) < 200:
        raise RuntimeError(f"tools/list returned {len(result.get('tools', []))} tools")


def run_wrk(url: str, body: dict[str, object], headers: dict[str, str], connections: int, seconds: int) -> tuple[float, float, float, float, int]:
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in {**headers, "Content-Type": "application/json"}.items())
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(LUA.format(body=json.dumps(body), headers=header_lines))
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    script.unlink()
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if match is None:
        raise RuntimeError(f"wrk printed no result: {out}")
    requests, duration_us, p50, p90, p99, status_errors, socket_errors = map(int, match.groups())
    return requests / (duration_us / 1e6), p50 / 1000, p90 / 1000, p99 / 1000, status_errors + socket_errors


def start_plain(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "servers" / "plain_mcp.py"), str(port), "--tools", "199"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, process)
    return process


def tollhouse_env(home: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLHOUSE_")}
    env.update(
        TOLLHOUSE_HOME=str(home), PYTHONPATH=str(ROOT),
        TOLLHOUSE_EXTRA_TOOL_MODULES='["bench.servers.filler_tools:SPECS"]',
        TOLLHOUSE_AUDIT__CHECKPOINT_INTERVAL_SECONDS="0", TOLLHOUSE_JOBS__REAP_INTERVAL_SECONDS="0",
        TOLLHOUSE_JOBS__EMBEDDED_WORKER="false", TOLLHOUSE_GATEWAY__UPSTREAM_REFRESH_SECONDS="0",
    )
    if database_url:
        env["TOLLHOUSE_DATABASE__URL"] = database_url
    return env


def start_tollhouse(port: int, env: dict[str, str], cli: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Serve Tollhouse and get alice's delegated token; ``cli`` runs the command line (default: this install's)."""
    cli = cli or [str(Path(sys.executable).parent / "tollhouse")]
    process = subprocess.Popen([*cli, "serve", "--port", str(port), "--no-worker"], env=env, cwd=env["TOLLHOUSE_HOME"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, process)
    token = subprocess.run([*cli, "token", "--user", "alice", "--agent", "ide-assistant", "--url", f"http://127.0.0.1:{port}"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    return process, token


def create_pg_database() -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"tollhouse_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


CELLS = (("tools/call", (1, 8, 32)), ("tools/list", (8,)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: str, pid: int, url: str, headers: dict[str, str], seconds: int, eras: list[str], methods: list[str]) -> list[Result]:
    results = []
    for era in eras:
        for method, connections_list in CELLS:
            if method not in methods:
                continue
            body, full_headers = request_for(era, method, url, headers)
            check_once(url, body, full_headers, method)
            for connections in connections_list:
                spent = cpu_seconds(pid)
                rps, p50, p90, p99, errors = run_wrk(url, body, full_headers, connections, seconds)
                cpu_ms = 1000 * (cpu_seconds(pid) - spent) / max(rps * seconds, 1)
                results.append(Result(server, era, method, connections, rps, p50, p90, p99, errors, cpu_ms))
                print(f"{server:13} {era:10} {method:10} c={connections:2}  {rps:8.0f}/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
                      f"CPU {cpu_ms:.2f} ms/call  errors {errors}", flush=True)
    return results


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"


def table(results: list[Result], seconds: int) -> str:
    plain = {(r.era, r.method, r.connections): r for r in results if r.server == "plain"}
    lines = [
        "# The cost of governance: Tollhouse beside a plain MCP server",
        "",
        f"{dt.date.today().isoformat()}, commit {git_commit()}, {platform.machine()} {platform.system()} ({os.cpu_count()} cores), "
        f"Python {platform.python_version()}; `python bench/gateway.py --seconds {seconds}`.",
        "",
        "One server process each (uvicorn, one worker, default event loop), loopback; load from wrk in its own process "
        f"({seconds} s per cell). The plain server is the mcp SDK's low-level server, stateless JSON, no auth or audit. "
        "Tollhouse has everything on: delegated-token verification, the decision, argument validation, durable hash-chained "
        "audit (decision+intent committed before the tool runs, outcome after; SQLite synchronous=FULL or PostgreSQL "
        "synchronous commit), tracing with no exporter. `demo.add` is the tool; tools/list returns 200 tools.",
        "",
        "What each change bought, and where a call's time goes: [gateway-profile.md](gateway-profile.md).",
        "",
        "| server | protocol | method | connections | calls/s | p50 ms | p90 ms | p99 ms | errors | server CPU ms/call | ratio to plain (calls/s) | added p50 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = plain.get((r.era, r.method, r.connections))
        ratio = f"{r.rps / base.rps:.2f}" if base and r.server != "plain" else "—"
        added = f"{r.p50_ms - base.p50_ms:+.2f}" if base and r.server != "plain" else "—"
        lines.append(f"| {r.server} | {r.era} | {r.method} | {r.connections} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {r.cpu_ms:.2f} | {ratio} | {added} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--era", action="append", choices=["2026-07-28", "2025-11-25"], help="only this protocol era (repeatable)")
    parser.add_argument("--method", action="append", choices=["tools/call", "tools/list"], help="only this method (repeatable)")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (apt-get install wrk)")
    eras = options.era or ["2026-07-28", "2025-11-25"]
    methods = options.method or ["tools/call", "tools/list"]
    results: list[Result] = []
    port = free_port()
    plain = start_plain(port)
    try:
        results += measure("plain", plain.pid, f"http://127.0.0.1:{port}/mcp", {}, options.seconds, eras, methods)
    finally:
        plain.terminate()
        plain.wait()
    targets: list[tuple[str, str | None]] = [("tollhouse", None)]
    if not options.skip_postgres:
        targets.append(("tollhouse-pg", create_pg_database()))
    for name, database_url in targets:
        home = Path(tempfile.mkdtemp(prefix="tollhouse-bench-"))
        port = free_port()
        process, token = start_tollhouse(port, tollhouse_env(home, database_url))
        try:
            results += measure(name, process.pid, f"http://127.0.0.1:{port}/mcp", {"Authorization": f"Bearer {token}"}, options.seconds, eras, methods)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if database_url:
                drop_pg_database(database_url)
    text = table(results, options.seconds)
    print(text)
    if options.write:
        (ROOT / "bench" / "results" / "gateway.md").write_text(text)


if __name__ == "__main__":
    main()
