"""Metrics benchmark: the real correlation structure of the ASOS experiments and what
pruning keeps; the power of a moderate true effect with 50 metrics against 15, exact and
simulated, under Benjamini-Hochberg and Bonferroni; and the curve over effect sizes.

    python bench/metrics.py [--data-dir ../shared/data] [--simulations 200000]

Writes bench/results/metrics.md. Deterministic: fixed seeds throughout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.metrics import asos
from tools.metrics.power import power_bh, power_bonferroni, relative_gain, simulate
from tools.metrics.prune import correlation_matrix, prune

ALPHA = 0.05
BEFORE, AFTER = 50, 15
MODERATE_Z = 2.8  # a lone two-sided test at 0.05 detects it 80% of the time
SEED = 2021
CURVE = (1.0, 1.5, 2.0, 2.5, 2.8, 3.0, 3.5, 4.0, 4.5, 5.0)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"


def matrix_table(names: list[str], corr: np.ndarray) -> list[str]:
    out = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for i, name in enumerate(names):
        out.append(f"| {name} | " + " | ".join(f"{corr[i, j]:.3f}" for j in range(len(names))) + " |")
    return out


def asos_section(data_dir: Path) -> list[str]:
    effects = asos.load(data_dir)
    names = list(effects.z.columns)
    z = effects.z.to_numpy()
    excluded = "; ".join(f"{e} variant {v}" for e, v, _ in effects.excluded)
    out = [
        "## ASOS: the real correlation structure of 4 metrics",
        "",
        f"One observation per treatment variant at its final checkpoint: Welch z = (mean_t - mean_c) /"
        f" sqrt(var_t / n_t + var_c / n_c) from the per-arm count, mean and variance. {len(effects.z)} variants of"
        f" {effects.experiments} experiments; {len(effects.excluded)} variants left out because metrics 2-4 carry no"
        f" variance at all ({excluded}).",
        "",
        "**ASOS publishes only 4 metrics.** Pruning is meant for dozens; here it shows what it does on a real"
        " correlation structure at small scale, not the 50-to-15 setting (that is the power section below).",
        "",
        "Pearson correlation of the z-scores across variants:",
        "",
        *matrix_table(names, correlation_matrix(z, "pearson")),
        "",
        "Spearman (ranks; the largest experiments weigh less):",
        "",
        *matrix_table(names, correlation_matrix(z, "spearman")),
        "",
        "Pearson on relative lift (mean_t / mean_c - 1), which does not grow with sample size:",
        "",
        *matrix_table(names, correlation_matrix(effects.lift.to_numpy(), "pearson")),
        "",
        "| pruning | groups | kept | PCA: variance of each component | components for 95% |",
        "|---|---|---|---|---|",
    ]
    for method in ("pearson", "spearman"):
        for threshold in (0.8, 0.9, 0.95):
            result = prune(effects.as_lists(), threshold=threshold, method=method)
            groups = " ".join("{" + ", ".join(g) + "}" for g in result.groups)
            variance = " / ".join(f"{v:.3f}" for v in result.explained_variance)
            out.append(f"| {method}, abs(r) >= {threshold} | {groups} | {', '.join(result.kept)} | {variance} | {result.components_95} |")
    example = prune(effects.as_lists(), threshold=0.8)
    out += ["", "Why, at the default (Pearson, 0.8):", ""]
    out += [f"- `{name}` is represented by `{why.by}`: {why.reason}." for name, why in example.dropped.items()]
    return [*out, ""]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def power_section(simulations: int) -> list[str]:
    sims = {m: simulate(m, MODERATE_Z, ALPHA, simulations, SEED + m) for m in (BEFORE, AFTER)}
    exact = {("bh", m): power_bh(m, MODERATE_Z, ALPHA) for m in (BEFORE, AFTER)}
    exact.update({("bonferroni", m): power_bonferroni(m, MODERATE_Z, ALPHA) for m in (BEFORE, AFTER)})
    out = [
        f"## Power: {BEFORE} metrics against {AFTER}, one true effect of z = {MODERATE_Z}",
        "",
        f"Setting: {BEFORE} or {AFTER} two-sided tests at family level {ALPHA}; one metric carries a true effect whose"
        f" z-statistic is N({MODERATE_Z}, 1) (an effect a lone test detects 80% of the time), the others are independent nulls."
        f" Exact: closed form for Bonferroni, the exact step-up distribution for BH (`tools/metrics/power.py`)."
        f" Simulated: {simulations:,} runs of the real procedures, seed {SEED} + m.",
        "",
        f"| correction | power, {BEFORE} metrics: exact | simulated (se) | power, {AFTER} metrics: exact | simulated (se) | relative gain: exact | simulated |",
        "|---|---|---|---|---|---|---|",
    ]
    for correction, label in (("bh", "Benjamini-Hochberg"), ("bonferroni", "Bonferroni")):
        before, after = sims[BEFORE][correction], sims[AFTER][correction]  # type: ignore[index]
        out.append(
            f"| {label} | {exact[(correction, BEFORE)]:.4f} | {before.power:.4f} ({before.standard_error:.4f})"
            f" | {exact[(correction, AFTER)]:.4f} | {after.power:.4f} ({after.standard_error:.4f})"
            f" | {_pct(relative_gain(exact[(correction, BEFORE)], exact[(correction, AFTER)]))}"
            f" | {_pct(relative_gain(before.power, after.power))} |"
        )
    gain_bh = relative_gain(exact[("bh", BEFORE)], exact[("bh", AFTER)])
    one_sided = relative_gain(power_bh(BEFORE, MODERATE_Z, 2 * ALPHA), power_bh(AFTER, MODERATE_Z, 2 * ALPHA))
    out += [
        "",
        f"The published finding is \"about +45%\" (Benjamini-Hochberg). Here it is {_pct(gain_bh)} exactly under BH and"
        f" {_pct(relative_gain(exact[('bonferroni', BEFORE)], exact[('bonferroni', AFTER)]))} under Bonferroni, with the"
        " simulations agreeing within their error: the finding reproduces in size, a few points short of 45%. The issue"
        " does not give the source's exact setting; sidedness, how many metrics carry true effects and the correlation"
        " among nulls all move the figure by a few points. One-sided tests, for example (computed as two-sided at"
        f" 2 alpha, whose extra lower tail adds under 1e-4), give {_pct(one_sided)} under BH. We report ours rather than"
        " tune the setting to hit 45%.",
        "",
        f"### The curve over effect sizes ({BEFORE} vs {AFTER} metrics)",
        "",
        f"Exact for both corrections; BH also simulated ({simulations:,} runs per cell).",
        "",
        f"| effect z | BH {BEFORE}: exact | BH {AFTER}: exact | BH gain: exact | BH gain: simulated | Bonferroni {BEFORE} | Bonferroni {AFTER} | Bonferroni gain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for index, effect_z in enumerate(CURVE):
        bh = [power_bh(m, effect_z, ALPHA) for m in (BEFORE, AFTER)]
        bf = [power_bonferroni(m, effect_z, ALPHA) for m in (BEFORE, AFTER)]
        simulated = [simulate(m, effect_z, ALPHA, simulations, SEED + 100 * index + m)["bh"].power for m in (BEFORE, AFTER)]
        out.append(f"| {effect_z:.1f} | {bh[0]:.4f} | {bh[1]:.4f} | {_pct(relative_gain(*bh))} | {_pct(relative_gain(*simulated))}"
                   f" | {bf[0]:.4f} | {bf[1]:.4f} | {_pct(relative_gain(*bf))} |")
    out += [
        "",
        "The relative gain is largest for small effects (rarely detected either way, so a small absolute change is a"
        " large ratio) and fades as the effect grows large enough to clear either threshold. At z = 2.8, where a lone"
        f" test has 80% power, BH detects the effect {exact[('bh', BEFORE)]:.1%} of the time among {BEFORE} metrics and"
        f" {exact[('bh', AFTER)]:.1%} among {AFTER}.",
        "",
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--simulations", type=int, default=200_000)
    options = parser.parse_args()
    started = time.perf_counter()
    command = "python bench/metrics.py" + (f" --simulations {options.simulations}" if options.simulations != 200_000 else "")
    lines = [
        "# Metrics: pruning correlated A/B metrics, and what it buys in power",
        "",
        f"{dt.date.today().isoformat()}, commit {git_commit()}, {platform.machine()} {platform.system()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; `{command}`",
        "",
        "Data: ASOS Digital Experiments Dataset (Liu et al., NeurIPS 2021 Datasets and Benchmarks), CC BY 4.0.",
        "",
        *asos_section(Path(options.data_dir)),
        *power_section(options.simulations),
        f"Run time: {time.perf_counter() - started:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results" / "metrics.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
