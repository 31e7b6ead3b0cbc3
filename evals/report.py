"""The eval report: per chain length and shape, the length-1 vs length-≥3 gap, failures by kind.

Written as JSON, Markdown, and one PNG plot (success by chain length).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

from evals.harness import Trial, trial_dict
from evals.scenario import Scenario

METRICS = ("tool_f1", "argument_match", "edge_f1", "binding_accuracy", "final_answer_correct", "governance_compliant", "chain_success")


def length_bucket(scenario: Scenario) -> str:
    n = scenario.length
    return "0 (governance only)" if n == 0 else "1" if n == 1 else "2" if n == 2 else "3" if n == 3 else "4-5"


def _group_stats(trials: list[Trial], k: int) -> dict[str, Any]:
    by_scenario: dict[str, list[Trial]] = defaultdict(list)
    for trial in trials:
        by_scenario[trial.scenario].append(trial)
    stats: dict[str, Any] = {
        "scenarios": len(by_scenario),
        "trials": len(trials),
        "pass@1": mean(t.score.chain_success for t in trials) if trials else 0.0,
        f"pass^{k}": mean(all(t.score.chain_success for t in group) for group in by_scenario.values()) if by_scenario else 0.0,
        "mean_depth": mean(t.score.depth_reached for t in trials) if trials else 0.0,
        "order_violations": sum(t.score.order_violations for t in trials),
    }
    for metric in METRICS:
        stats[metric] = mean(float(getattr(t.score, metric)) for t in trials) if trials else 0.0
    return stats


def summarise(trials: list[Trial], scenarios: list[Scenario], *, agent: str, k: int, note: str = "") -> dict[str, Any]:
    by_id = {s.id: s for s in scenarios}
    lengths: dict[str, list[Trial]] = defaultdict(list)
    shapes: dict[str, list[Trial]] = defaultdict(list)
    for trial in trials:
        scenario = by_id[trial.scenario]
        lengths[length_bucket(scenario)].append(trial)
        shapes[scenario.shape].append(trial)
        if scenario.denials or scenario.forbidden:
            shapes["governance case"].append(trial)
    short = [t for t in trials if by_id[t.scenario].length == 1]
    long = [t for t in trials if by_id[t.scenario].length >= 3]
    failures = Counter(kind for t in trials for kind in t.score.failures)
    return {
        "agent": agent,
        "k": k,
        "note": note,
        "overall": _group_stats(trials, k),
        "by_length": {name: _group_stats(group, k) for name, group in sorted(lengths.items())},
        "by_shape": {name: _group_stats(group, k) for name, group in sorted(shapes.items())},
        "gap_length1_vs_3plus": (_group_stats(short, k)["pass@1"] - _group_stats(long, k)["pass@1"]) if short and long else None,
        "failures": dict(failures.most_common()),
        "failed_scenarios": sorted({t.scenario for t in trials if not t.score.chain_success}),
    }


def _table(title: str, groups: dict[str, dict[str, Any]], k: int) -> list[str]:
    lines = [f"### {title}", "", f"| group | scenarios | pass@1 | pass^{k} | tool F1 | args | edge F1 | bindings | answer | governance | depth |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in groups.items():
        lines.append(
            f"| {name} | {s['scenarios']} | {s['pass@1']:.2f} | {s[f'pass^{k}']:.2f} | {s['tool_f1']:.2f} | {s['argument_match']:.2f} | "
            f"{s['edge_f1']:.2f} | {s['binding_accuracy']:.2f} | {s['final_answer_correct']:.2f} | {s['governance_compliant']:.2f} | {s['mean_depth']:.2f} |"
        )
    return [*lines, ""]


def markdown(summary: dict[str, Any], header: str) -> str:
    k = summary["k"]
    lines = [header, ""]
    if summary["note"]:
        lines += [summary["note"], ""]
    lines += _table("Overall", {"all": summary["overall"]}, k)
    lines += _table("By chain length (expected calls)", summary["by_length"], k)
    lines += _table("By shape", summary["by_shape"], k)
    gap = summary["gap_length1_vs_3plus"]
    lines += [f"Gap in pass@1 between length 1 and length ≥ 3: {gap:+.2f}" if gap is not None else "Gap: not measurable (no length-1 or no length-≥3 scenarios).", ""]
    lines += ["### Failures by kind", ""]
    lines += [f"- {kind}: {count}" for kind, count in summary["failures"].items()] or ["- none"]
    if summary["failed_scenarios"]:
        lines += ["", "Failed scenarios: " + ", ".join(f"`{s}`" for s in summary["failed_scenarios"])]
    return "\n".join(lines) + "\n"


def plot(summary: dict[str, Any], path: Path) -> None:
    """Success (pass@1) by chain length, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {name: s for name, s in summary["by_length"].items() if not name.startswith("0")}
    figure, axis = plt.subplots(figsize=(6, 3.5), dpi=100)
    axis.bar(list(groups), [s["pass@1"] for s in groups.values()], color="#3b6ea5")
    axis.set_ylim(0, 1.05)
    axis.set_xlabel("chain length (expected tool calls)")
    axis.set_ylabel("pass@1")
    axis.set_title(f"Chain success by length — agent: {summary['agent']}")
    for index, s in enumerate(groups.values()):
        axis.text(index, s["pass@1"] + 0.02, f"{s['pass@1']:.2f} (n={s['scenarios']})", ha="center", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def write(trials: list[Trial], summary: dict[str, Any], directory: Path, header: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"eval-{summary['agent']}"
    (directory / f"{name}.json").write_text(json.dumps({"summary": summary, "trials": [trial_dict(t) for t in trials]}, indent=2, default=str))
    (directory / f"{name}.md").write_text(markdown(summary, header))
    plot(summary, directory / f"{name}.png")
