"""recsys benchmark: real purchases (UCI Online Retail), temporal split, and latency at 1,000,000 items.

    python bench/recsys.py [--data-dir ../shared/data] [--out bench/results/recsys.md]
                           [--synthetic-items 1000000] [--no-minilm]

Settings are chosen on a validation month carved from the training period
(train before 2011-10-01, validate on October 2011); the test period
(2011-11-01 to 2011-12-09, trained on everything before it) is run once, with
the served defaults. Seeds are fixed; BLAS runs on one thread so that numbers
do not depend on how busy the machine is (latency still does).
"""

from __future__ import annotations

import os

# Before numpy loads: one BLAS thread (deterministic sums, and no thread fights on a shared machine).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse
import dataclasses
import datetime as dt
import itertools
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.recsys import methods as M
from tools.recsys.embeddings import Matrix, catalogue
from tools.recsys.evaluation import COLD, HISTORY, Case, cases, evaluate, recall_at, temporal_split
from tools.recsys.index import IndexSettings, VectorIndex
from tools.recsys.recommender import Recommender, RecsysConfig, build
from tools.recsys.report import Report
from tools.recsys.retrieval import blend, multi_interest, top_k
from tools.recsys.synthetic import add_users, synthetic_model, synthetic_vectors
from tools.retail.data import load

VALIDATION = ("2011-10-01", "2011-11-01")
TEST = ("2011-11-01", None)
KINDS = ("content", "behaviour", "combined")
SEED = 0


def minilm_table(lines: pd.DataFrame) -> tuple[dict[str, np.ndarray] | None, str]:
    """MiniLM vectors of every item description, by stock code; None (and why) without the model."""
    from tools.text.minilm import EncoderUnavailable, shared_encoder

    items = catalogue(lines)
    try:
        encoder = shared_encoder()
    except EncoderUnavailable as exc:
        return None, f"MiniLM not installed ({exc.message})"
    started = time.perf_counter()
    vectors = encoder.encode(list(items.descriptions))
    return dict(zip(items.item_ids.tolist(), vectors, strict=True)), f"MiniLM (384-d) encoded {len(items):,} descriptions in {time.perf_counter() - started:.0f} s"


def model_for(train: pd.DataFrame, cutoff: pd.Timestamp, config: RecsysConfig, minilm: Mapping[str, np.ndarray] | None) -> Recommender:
    extra: dict[str, Matrix] = {}
    if minilm is not None:
        extra["minilm"] = np.stack([minilm[code] for code in catalogue(train).item_ids.tolist()])
    return build(train, config, now=cutoff, extra_embeddings=extra)


# --- validation: choose settings ------------------------------------------------------------


def interest_sweep(model: Recommender, evaluated: Sequence[Case], kinds: Sequence[str], thresholds: Sequence[float], counts: Sequence[int]) -> pd.DataFrame:
    """recall@50 of multi-interest alone, per embedding, Ward threshold and number of interests served."""
    rows = []
    for kind, threshold in itertools.product(kinds, thresholds):
        model.config = dataclasses.replace(model.config, ward_threshold=threshold)
        found = [model.interests(case.history, kind) for case in evaluated]
        row: dict[str, object] = {"embedding": kind, "threshold": threshold, "median interests": float(np.median([len(f) for f in found]))}
        for count in counts:
            recalls = [
                recall_at(top_k(multi_interest(f, model.embeddings[kind], model.indexes[kind], count, model.config.per_interest), 50, case.history.distinct()).ids, case, 50)
                for f, case in zip(found, evaluated, strict=True)
            ]
            row[f"top {count}" if count < 10_000 else "all"] = float(np.mean(recalls))
        rows.append(row)
    return pd.DataFrame(rows)


def blend_grid(model: Recommender, train: pd.DataFrame, evaluated: Sequence[Case], grid: Mapping[str, Sequence[float]], windows: Sequence[int]) -> pd.DataFrame:
    """recall@50 of every blend in the grid (generators computed once per user)."""
    caches = [
        {
            "copurchase": model.component("copurchase", case.history),
            "interests": model.component("interests", case.history),
            "average": model.component("average", case.history),
            "cold_start": model.component("cold_start", case.history),
        }
        for case in evaluated
    ]
    rows = []
    for days in windows:
        prior = M.recent_popularity(model, train, days)
        for values in itertools.product(*grid.values()):
            weights = dict(zip(grid, values, strict=True))
            recalls = []
            for case, cache in zip(evaluated, caches, strict=True):
                seen = case.history.distinct()
                parts = [(cache[name], weight) for name, weight in weights.items() if name != "popularity"]
                merged = blend(parts, prior.scores, weights["popularity"], prior.ranked[: 250 + len(seen)])
                recalls.append(recall_at(top_k(merged, 50, seen).ids, case, 50))
            rows.append({"popularity days": days, **weights, "recall@50": float(np.mean(recalls))})
    return pd.DataFrame(rows).sort_values("recall@50", ascending=False, kind="stable").reset_index(drop=True)


def popularity_windows(model: Recommender, train: pd.DataFrame, evaluated: Sequence[Case], windows: Sequence[int]) -> dict[int, float]:
    found = {}
    for days in windows:
        ranked = M.recent_popularity(model, train, days).ranked
        found[days] = float(np.mean([recall_at(M.first_unseen(ranked, case.history.distinct(), 50), case, 50) for case in evaluated]))
    return found


def validate(lines: pd.DataFrame, minilm: Mapping[str, np.ndarray] | None, report: Report) -> int:
    """Choose settings on October 2011; returns the recent-popularity baseline's window."""
    split = temporal_split(lines, *VALIDATION)
    started = time.perf_counter()
    model = model_for(split.train, split.cutoff, RecsysConfig(), minilm)
    report.timing("validation model build", time.perf_counter() - started)
    evaluated = cases(split, model.histories, model.positions)
    history = [case for case in evaluated if case.segment == HISTORY]
    cold = [case for case in evaluated if case.segment == COLD]
    kinds = [*KINDS, *(["minilm"] if minilm is not None else [])]

    windows = popularity_windows(model, split.train, history, (3, 7, 14, 28, 91, 365))
    baseline_days = max(windows, key=lambda days: windows[days])
    report.validation_popularity(windows, baseline_days)

    started = time.perf_counter()
    sweep = interest_sweep(model, history, kinds, (0.8, 1.2, 2.0), (1, 3, 5, 10, 20, 10**6))
    report.validation_interests(sweep, time.perf_counter() - started)
    model.config = RecsysConfig()

    grid = {"copurchase": (1.0,), "interests": (0.0, 0.2, 0.4), "average": (0.0, 0.2, 0.4), "cold_start": (0.0,), "popularity": (0.4, 0.8, 1.5, 3.0)}
    served = blend_grid(model, split.train, history, grid, (7, 14, 28))
    cold_grid = {"copurchase": (0.0, 1.0), "interests": (0.0,), "average": (0.0, 0.2, 0.5), "cold_start": (0.0, 0.3, 1.0), "popularity": (0.4, 0.8, 1.5)}
    cold_blends = blend_grid(model, split.train, cold, cold_grid, (7,))
    report.validation_blends(served, cold_blends, RecsysConfig())
    return baseline_days


# --- test: run once ---------------------------------------------------------------------------


def test(lines: pd.DataFrame, minilm: Mapping[str, np.ndarray] | None, baseline_days: int, report: Report) -> Recommender:
    split = temporal_split(lines, *TEST)
    started = time.perf_counter()
    model = model_for(split.train, split.cutoff, RecsysConfig(), minilm)
    report.timing("test model build", time.perf_counter() - started)
    kinds = [*KINDS, *(["minilm"] if minilm is not None else [])]
    recent = M.recent_popularity(model, split.train, baseline_days)
    evaluated = cases(split, model.histories, model.positions)
    started = time.perf_counter()
    per_user = evaluate(evaluated, lambda case: M.ranked_lists(model, case, kinds, recent))
    report.timing(f"test evaluation ({len(evaluated):,} cases)", time.perf_counter() - started)
    interests = {case.user: len(model.interests(case.history)) for case in evaluated if case.segment == HISTORY}
    per_user["interests"] = per_user["user"].map(interests)
    report.test_tables(per_user, kinds, baseline_days)
    return model


# --- latency ---------------------------------------------------------------------------------


def percentiles(call: Callable[[str], object], users: Sequence[str], warmup: int = 20) -> tuple[float, float, float]:
    """p50, p99 and max in milliseconds, one call per user (after a few warm-up calls)."""
    for user in users[:warmup]:
        call(user)
    times = []
    for user in users:
        started = time.perf_counter()
        call(user)
        times.append((time.perf_counter() - started) * 1000.0)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), float(np.max(times))


def latency(model: Recommender, synthetic_items: int, report: Report) -> None:
    rng = np.random.default_rng(SEED)
    users = sorted(model.histories)
    sample = [users[i] for i in rng.choice(len(users), size=min(1000, len(users)), replace=False)]
    items = [str(model.catalogue.item_ids[i]) for i in rng.choice(len(model.catalogue), size=500, replace=False)]
    index = model.indexes[model.config.embedding]
    # Latency on a shared machine depends on what else runs: say how busy it was.
    report.notes.append("load average (1, 5, 15 min) when latency measurement began: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))
    report.latency_row("real", len(model.catalogue), index, "recommend(k=10)", percentiles(lambda user: model.recommend(user, 10), sample))
    report.latency_row("real", len(model.catalogue), index, "recommend(k=100)", percentiles(lambda user: model.recommend(user, 100), sample))
    report.latency_row("real", len(model.catalogue), index, "similar_items(k=10)", percentiles(lambda item: model.similar_items(item, 10), items))
    report.latency_row("real", len(model.catalogue), index, "user_interests", percentiles(model.user_interests, sample))

    if synthetic_items <= 0:
        return
    config = dataclasses.replace(model.config, index=IndexSettings(exact_below=50_000, storage="f16"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    vectors, topic_of = synthetic_vectors(synthetic_items, config, seed=SEED)
    report.timing(f"synthetic vectors ({synthetic_items:,} x {vectors.shape[1]})", time.perf_counter() - started)
    started = time.perf_counter()
    big_index = VectorIndex(vectors, config.index)
    build_seconds = time.perf_counter() - started
    peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    started = time.perf_counter()
    big = synthetic_model(vectors, topic_of, config, index=big_index, seed=SEED)
    report.timing("synthetic neighbours, popularity and clusters", time.perf_counter() - started)
    counts = [len(model.histories[user].items) for user in sample]
    synthetic_users = add_users(big, counts, seed=SEED)
    report.latency_row("synthetic", synthetic_items, big_index, "recommend(k=10)", percentiles(lambda user: big.recommend(user, 10), synthetic_users))
    report.latency_row("synthetic", synthetic_items, big_index, "recommend(k=100)", percentiles(lambda user: big.recommend(user, 100), synthetic_users))
    report.latency_row("synthetic", synthetic_items, big_index, "user_interests", percentiles(big.user_interests, synthetic_users))
    report.index_build(synthetic_items, vectors.shape[1], big_index, build_seconds, peak_mib, ann_recall(big_index, vectors, rng))
    report.model_memory(big)


def ann_recall(index: VectorIndex, vectors: Matrix, rng: np.random.Generator, queries: int = 200, k: int = 100) -> float:
    """Share of the exact top ``k`` that the index returns, for random item vectors as queries."""
    rows = rng.choice(len(vectors), size=queries, replace=False)
    found, _ = index.search(vectors[rows], k)
    exact = np.argsort(-(vectors[rows] @ vectors.T), axis=1)[:, :k]
    return float(np.mean([len(set(f.tolist()) & set(e.tolist())) / k for f, e in zip(found, exact, strict=True)]))


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_data = (ROOT / ".." / "shared" / "data").resolve()
    parser.add_argument("--data-dir", type=Path, default=default_data)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "recsys.md")
    parser.add_argument("--synthetic-items", type=int, default=1_000_000)
    parser.add_argument("--no-minilm", action="store_true")
    options = parser.parse_args()
    started = time.perf_counter()
    command = "python bench/recsys.py" + "".join(f" {arg}" for arg in sys.argv[1:])
    report = Report(date=dt.date.today().isoformat(), commit=git_commit(), machine=f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, Python {platform.python_version()}", command=command)
    cleaned = load(options.data_dir, require_customer=True)
    report.cleaning = cleaned.report()
    minilm, note = (None, "MiniLM skipped (--no-minilm)") if options.no_minilm else minilm_table(cleaned.lines)
    report.notes.append(note)
    baseline_days = validate(cleaned.lines, minilm, report)
    model = test(cleaned.lines, minilm, baseline_days, report)
    latency(model, options.synthetic_items, report)
    report.timing("whole benchmark", time.perf_counter() - started)
    text = report.markdown(RecsysConfig())
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
