"""Pricing benchmark: zero-price features over UCI Online Retail, and the zero-aware
conversion model against the continuous baseline on a simulation with a known jump.

    python bench/pricing.py [--data-dir ../shared/data] [--seeds 5]

Writes bench/results/pricing.md. Deterministic: fixed seeds throughout.
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
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.pricing import simulate
from tools.pricing.conversion import (
    ZERO_AWARE_COLUMNS,
    brier_score,
    expected_calibration_error,
    fit_logistic,
    jump,
)
from tools.pricing.retail import retail_features
from tools.retail.data import clean, data_file, read_raw

KIND_HANDLING = {
    "stock_note": "a warehouse note typed as a description; free in the data, not an offer: flagged, never read as a promotion",
    "internal_invoice": "stock movement booked as an invoice with no customer; flagged, never read as a promotion",
    "free_on_customer_invoice": "a customer's invoice with priced lines beside it: the only candidates for goods given away",
    "other_zero": "a customer's all-free invoice, or priced lines without a customer: ambiguous, flagged",
}


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"


def header(command: str) -> list[str]:
    return [
        "# Pricing: the zero-price regime over Online Retail, and a zero-aware conversion model on a simulation",
        "",
        f"{dt.date.today().isoformat()}, commit {git_commit()}, {platform.machine()} {platform.system()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; `{command}`",
        "",
        "Data: UCI Online Retail (Chen, Sain, Guo 2012, UCI Machine Learning Repository), CC BY 4.0.",
        "",
    ]


def retail_section(data_dir: Path) -> list[str]:
    raw = read_raw(data_file(data_dir))
    zero_raw = raw[raw["UnitPrice"] == 0]
    zero_cleaned = clean(zero_raw, keep_zero_price=True)
    result = retail_features(raw)
    lines, f = result.lines, result.features
    zero = lines["UnitPrice"] == 0
    out = [
        "## Online Retail: what the zero-price lines are, and how they are handled",
        "",
        f"Cleaning (shared loader, `keep_zero_price=True`): {result.cleaned.report()}.",
        "",
        f"The raw file has {len(zero_raw):,} lines at UnitPrice 0. The loader's rules applied to them alone: "
        + ", ".join(f"{rule} {count:,}" for rule, count in zero_cleaned.dropped.items() if count)
        + f"; {len(zero_cleaned.lines):,} remain (the same {int(zero.sum()):,} as in the full run). Most of the"
        " dropped ones are stock write-offs with negative quantities ('damaged', 'thrown away', 'check').",
        "",
        "| kind of zero-price line (kept) | lines | with a customer | commonest descriptions | handling |",
        "|---|---|---|---|---|",
    ]
    for kind, handling in KIND_HANDLING.items():
        of_kind = lines[lines["zero_price_kind"] == kind]
        examples = "; ".join(f"{d} ({n})" for d, n in of_kind["Description"].value_counts().head(3).items())
        out.append(f"| `{kind}` | {len(of_kind):,} | {int(of_kind['CustomerID'].notna().sum()):,} | {examples} | {handling} |")
    invoices = lines.groupby("InvoiceNo")["shipping"].first()
    depth = f.discount_depth
    discounted = np.nan_to_num(depth) > 0
    out += [
        "",
        "None of these is a price offered to a shopper, so Online Retail cannot say how people react to 0.00:"
        " that is what the simulation below is for. The features are still computed over every kept line:",
        "",
        "| feature over the kept lines | value |",
        "|---|---|",
        f"| lines | {len(lines):,} |",
        f"| `is_free` (shows as 0.00) | {int(f.is_free.sum()):,} ({f.is_free.mean():.3%}); lines at 0.01: {int((f.cents == 1).sum()):,} |",
        f"| invoices with a postage line (POST, DOT, C2): shipping as its own component | {int((invoices > 0).sum()):,} of {len(invoices):,} ({(invoices > 0).mean():.1%}) |",
        f"| `is_free_shipping` (no postage on the invoice; not a free-shipping promise) | {np.nanmean(f.is_free_shipping):.1%} of lines |",
        f"| median postage share of the invoice total, where postage was charged | {_postage_share(lines):.1%} |",
        f"| `ends_95` / `ends_99` / `ends_9` | {f.ends_95.mean():.1%} / {f.ends_99.mean():.3%} / {f.ends_9.mean():.1%} |",
        f"| `is_round` (whole units) | {f.is_round.mean():.2%} |",
        f"| below the stock code's usual (modal) price: share, median depth | {discounted.mean():.1%}, {np.median(depth[discounted]):.1%} |",
        f"| left digit 0 (under 1.00) / 1 / 2 | {(f.left_digit == 0).mean():.1%} / {(f.left_digit == 1).mean():.1%} / {(f.left_digit == 2).mean():.1%} |",
        "",
        "`is_free` x category (keyword categories from the description; lines at 0.00 per category):",
        "",
        "| category | lines | free lines | of which flagged adjustments (note or internal) |",
        "|---|---|---|---|",
    ]
    by_category = lines.assign(free=zero, adjustment=lines["zero_price_kind"].isin(["stock_note", "internal_invoice"]))
    table = by_category.groupby("category").agg(lines=("free", "size"), free=("free", "sum"), adjustment=("adjustment", "sum"))
    for category, row in table.sort_values("free", ascending=False).head(8).iterrows():
        out.append(f"| {category} | {int(row['lines']):,} | {int(row['free']):,} | {int(row['adjustment']):,} |")
    return [*out, ""]


def _postage_share(lines: pd.DataFrame) -> float:
    goods = (lines["UnitPrice"] * lines["Quantity"]).groupby(lines["InvoiceNo"]).sum()
    shipping = lines.groupby("InvoiceNo")["shipping"].first()
    charged = shipping > 0
    return float((shipping[charged] / (goods[charged] + shipping[charged])).median())


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def simulation_section(seeds: int) -> list[str]:
    scenario = simulate.Scenario()
    out = [
        "## Simulation: a known jump at 0.00 and a known never-convert share",
        "",
        f"Generator (`tools/pricing/simulate.py`): {scenario.customers:,} customers x {scenario.offers_per_customer} offers;"
        f" a share {scenario.never_convert_share} of customers never converts (drawn per customer); the rest convert with a"
        f" **probit** probability in log(1 + price / {simulate.PRICE_SCALE:g}) with a step of {scenario.free_lift} at exactly 0.00,"
        f" a step of {scenario.free_shipping_lift} at free shipping, and a linear shipping cost. {scenario.free_share:.0%} of"
        f" offers are at 0.00 and {scenario.penny_share:.0%} at 0.01. The models fitted are **logit** (another family)."
        " Calibration is scored on a held-out market from its own seed.",
        "",
        f"Tolerances, fixed in code before the first fit and not changed since: never-convert share within"
        f" {simulate.SHARE_TOLERANCE} (absolute), jump P(0.00) - P(0.01) within {simulate.JUMP_TOLERANCE} (absolute probability).",
        "",
        "| seed | true share (realised) | mixture share | true jump | mixture jump | baseline jump | Brier mixture / baseline | ECE mixture / baseline | mixture within both tolerances | baseline jump within tolerance |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    passed = 0
    ablation: list[tuple[float, float, float]] = []
    panel_errors: list[float] = []
    for seed in range(seeds):
        result = simulate.run(scenario, seed)
        panel_errors.append(abs(result["models"]["zero_aware_mixture"]["never_convert_share"] - scenario.never_convert_share))
        mixture, baseline, truth, checks = (result["models"]["zero_aware_mixture"], result["models"]["baseline"],
                                            result["truth"], result["checks"])
        both = checks["mixture_share_within_tolerance"] and checks["mixture_jump_within_tolerance"]
        passed += both and not checks["baseline_jump_within_tolerance"]
        out.append(
            f"| {seed} | {truth['never_convert_share']:.2f} ({truth['realised_never_convert_share']:.3f}) | {mixture['never_convert_share']:.3f}"
            f" | {truth['jump']:.3f} | {mixture['jump']:.3f} | {baseline['jump']:.4f}"
            f" | {mixture['brier']:.4f} / {baseline['brier']:.4f} | {mixture['ece']:.4f} / {baseline['ece']:.4f}"
            f" | {'yes' if both else 'NO'} | {'yes' if checks['baseline_jump_within_tolerance'] else 'no'} |"
        )
        ablation.append(_zero_aware_logistic(scenario, seed))
    out += [
        "",
        f"{passed} of {seeds} seeds: the mixture recovers both quantities within tolerance and the baseline misses the jump.",
        "",
        "Ablation (same seeds): a logistic model with the zero-aware columns (log price, `is_free`, shipping,"
        " `is_free_shipping`) but no never-convert segment finds the jump"
        f" (mean {np.mean([a[0] for a in ablation]):.3f}; Brier {np.mean([a[1] for a in ablation]):.4f},"
        f" ECE {np.mean([a[2] for a in ablation]):.4f}), but has no share to report: the `is_free` column carries the jump,"
        " the latent class carries the share.",
        "",
        "Controls and a harder case (seed 0):",
        "",
        "| scenario | true share | mixture share | true jump | mixture jump | baseline jump | checks (share, jump; baseline jump) |",
        "|---|---|---|---|---|---|---|",
    ]
    controls = {
        "no never-convert segment (share 0)": simulate.Scenario(never_convert_share=0.0),
        "no step at 0.00 (free_lift 0)": simulate.Scenario(free_lift=0.0),
        "one offer per customer (20,000 customers)": simulate.Scenario(customers=20_000, offers_per_customer=1),
        "half never convert (share 0.5)": simulate.Scenario(never_convert_share=0.5),
    }
    for name, control in controls.items():
        result = simulate.run(control, 0)
        mixture, baseline, truth, checks = (result["models"]["zero_aware_mixture"], result["models"]["baseline"],
                                            result["truth"], result["checks"])
        flags = ", ".join("yes" if checks[k] else "no" for k in ("mixture_share_within_tolerance", "mixture_jump_within_tolerance"))
        out.append(f"| {name} | {truth['never_convert_share']:.2f} | {mixture['never_convert_share']:.3f} | {truth['jump']:.3f}"
                   f" | {_fmt(mixture['jump'])} | {baseline['jump']:.4f} | {flags}; {'yes' if checks['baseline_jump_within_tolerance'] else 'no'} |")
    single = controls["one offer per customer (20,000 customers)"]
    single_errors = [abs(simulate.run(single, seed)["models"]["zero_aware_mixture"]["never_convert_share"] - single.never_convert_share)
                     for seed in range(seeds)]
    out += [
        "",
        "With one offer per customer the share is identified only by how high the convertible curve reaches:"
        f" over seeds 0-{seeds - 1} its mean absolute share error is {np.mean(single_errors):.3f} (largest {max(single_errors):.3f}),"
        f" against {np.mean(panel_errors):.3f} (largest {max(panel_errors):.3f}) with 5 offers per customer and the same number of offers.",
        "",
    ]
    return out


def _zero_aware_logistic(scenario: simulate.Scenario, seed: int) -> tuple[float, float, float]:
    train, _ = simulate.simulate(scenario, seed)
    held_out, _ = simulate.simulate(scenario, seed + simulate.HELD_OUT_SEED_OFFSET)
    model = fit_logistic(train, ZERO_AWARE_COLUMNS, name="zero_aware_logistic")
    predicted = model.predict(held_out.price, held_out.shipping)
    return (jump(model.predict, held_out.shipping, len(held_out.price)),
            brier_score(held_out.converted, predicted), expected_calibration_error(held_out.converted, predicted))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--seeds", type=int, default=5)
    options = parser.parse_args()
    started = time.perf_counter()
    command = "python bench/pricing.py" + (f" --seeds {options.seeds}" if options.seeds != 5 else "")
    data_dir = Path(options.data_dir)
    lines = header(command) + retail_section(data_dir) + simulation_section(options.seeds)
    lines.append(f"Run time: {time.perf_counter() - started:.0f} s.")
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results" / "pricing.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
