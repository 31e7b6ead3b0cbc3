"""What each change bought: the gateway at several commits, measured side by side in one run.

    python bench/gateway_history.py COMMIT [COMMIT ...] [--rounds 3] [--seconds 5] [--connections 1 8]

Each commit is checked out into a temporary git worktree and served from it
(one process, one uvicorn worker, SQLite, everything on, as in
bench/gateway.py; this checkout's virtualenv). wrk then loads each server in
turn, round after round, so a slow moment of the machine falls on every
commit alike; the median of the rounds is reported with every round's value.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gateway import (
    check_once,
    free_port,
    request_for,
    run_wrk,
    start_tollhouse,
    tollhouse_env,
)

# Runs the CLI of the checkout at sys.argv[1], with the rest as its arguments.
CLI = "import sys; root = sys.argv.pop(1); sys.path.insert(0, root); sys.argv[0] = 'tollhouse'; from tollhouse.cli import main; main()"


def serve(root: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, object], dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="tollhouse-history-"))
    port = free_port()
    process, token = start_tollhouse(port, {**tollhouse_env(home, None), "PYTHONPATH": str(root)},
                                     cli=[sys.executable, "-c", CLI, str(root)])
    url = f"http://127.0.0.1:{port}/mcp"
    body, headers = request_for("2026-07-28", "tools/call", url, {"Authorization": f"Bearer {token}"})
    check_once(url, body, headers, "tools/call")
    return process, url, body, headers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("commits", nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    options = parser.parse_args()
    trees = Path(tempfile.mkdtemp(prefix="tollhouse-worktrees-"))
    servers = []
    try:
        for commit in options.commits:
            tree = trees / commit
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True, capture_output=True)
            process, url, body, headers = serve(tree)
            servers.append((commit, process, url, body, headers))
            run_wrk(url, body, headers, 8, 2)  # warm-up, not counted
        runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for _ in range(options.rounds):
            for connections in options.connections:
                for commit, _process, url, body, headers in servers:
                    rps, p50, _p90, _p99, _errors = run_wrk(url, body, headers, connections, options.seconds)
                    runs.setdefault((commit, connections), []).append((rps, p50))
    finally:
        for _commit, process, *_ in servers:
            process.terminate()
            process.wait()
        for commit in options.commits:
            subprocess.run(["git", "worktree", "remove", "--force", str(trees / commit)], cwd=ROOT, capture_output=True)
    print("| commit | connections | calls/s (median) | p50 ms (median) | calls/s per round |")
    print("|---|---|---|---|---|")
    for (commit, connections), values in runs.items():
        rates = [round(rate) for rate, _ in values]
        print(f"| {commit} | {connections} | {statistics.median(r for r, _ in values):,.0f} | "
              f"{statistics.median(p for _, p in values):.2f} | {rates} |")


if __name__ == "__main__":
    main()
