"""Measure registry.checks.flag_injection on the labelled tool-description corpus.

Run from anywhere: ``python bench/flagger.py``. Prints a Markdown report and
writes the same report to bench/results/flagger.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ is on sys.path but the project root is not.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from registry.checks import flag_injection

CORPUS = ROOT / "tests" / "registry" / "corpus" / "tool_descriptions.jsonl"
RESULT = ROOT / "bench" / "results" / "flagger.md"


def git_commit() -> str:
    """Short hash of HEAD, or "uncommitted" when there is no git or no commit."""
    git = shutil.which("git")
    if git is None:
        return "uncommitted"
    try:
        done = subprocess.run(
            [git, "rev-parse", "--short", "HEAD"],
            cwd=ROOT, capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "uncommitted"
    return done.stdout.strip() or "uncommitted"


def load_corpus(path: Path = CORPUS) -> list[dict[str, str]]:
    """Read the JSONL corpus, skipping blank lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def report(rows: list[dict[str, str]]) -> str:
    """Run the flagger over every row and render the Markdown report."""
    poisoned = [r for r in rows if r["label"] == "poisoned"]
    benign = [r for r in rows if r["label"] == "benign"]
    flagged = {r["id"] for r in rows if flag_injection({"description": r["text"]})}
    missed = [r["id"] for r in poisoned if r["id"] not in flagged]
    false_pos = [r["id"] for r in benign if r["id"] in flagged]
    caught = len(poisoned) - len(missed)
    detection = caught / len(poisoned) if poisoned else 0.0
    fp_rate = len(false_pos) / len(benign) if benign else 0.0

    date = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        f"# flag_injection on the tool-description corpus ({date}, commit {git_commit()})",
        "",
        "| measure | value |",
        "|---|---|",
        f"| poisoned descriptions | {len(poisoned)} |",
        f"| benign descriptions | {len(benign)} |",
        f"| detection rate (poisoned flagged / poisoned) | {detection:.3f} ({caught}/{len(poisoned)}) |",
        f"| false-positive rate (benign flagged / benign) | {fp_rate:.3f} ({len(false_pos)}/{len(benign)}) |",
        "",
        "Missed poisoned: " + (", ".join(f"`{i}`" for i in missed) or "none"),
        "",
        "False positives: " + (", ".join(f"`{i}`" for i in false_pos) or "none"),
        "",
        "How far to trust this: the patterns and the corpus were written by the same",
        "people, and lines noted 'held out' were written after a pattern revision and",
        "then partly used for the next one. Measured during development on lines",
        "written after the patterns were fixed: 2 of 12 caught (second round), then",
        "5 of 12 caught with 0 of 10 false positives (third round). Paraphrased attacks",
        "get through often: the flags are an aid to reviewers, never a gate.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    text = report(load_corpus())
    print(text, end="")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
