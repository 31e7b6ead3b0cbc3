"""Offline evaluation: a temporal split, new-item targets, recall and NDCG, paired bootstrap.

Only new items count: what a customer bought after the cut-off that they had
not bought before it. Re-buying last month's best seller is easy to predict
and not what a recommender is for. Targets outside the training catalogue stay
in the denominator (no method can find them), so recall is honest about them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tools.recsys.retrieval import History, IntArray

Segment = str
HISTORY, COLD, NEW = "history", "cold", "new"


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    cutoff: pd.Timestamp
    end: pd.Timestamp


def temporal_split(lines: pd.DataFrame, cutoff: str | pd.Timestamp, end: str | pd.Timestamp | None = None) -> Split:
    """Lines before ``cutoff`` to learn from; lines in [cutoff, end) to test on."""
    cutoff = pd.Timestamp(cutoff)
    end = pd.Timestamp(end) if end is not None else lines["InvoiceDate"].max() + pd.Timedelta(seconds=1)
    dates = lines["InvoiceDate"]
    return Split(train=lines[dates < cutoff], test=lines[(dates >= cutoff) & (dates < end)], cutoff=cutoff, end=end)


@dataclass(frozen=True)
class Case:
    """One user to score: the history a model sees, the new items they went on to buy."""

    user: str
    segment: Segment
    history: History
    targets: IntArray  # catalogue rows of the new items the model could find
    n_targets: int  # all new items, including any outside the catalogue
    n_history: int  # distinct items in the history


def cases(split: Split, histories: Mapping[str, History], positions: Mapping[str, int], min_history: int = 3, reveal: int = 2) -> list[Case]:
    """Every test-period buyer of at least one new item, in three segments.

    ``history``: at least ``min_history`` distinct training items. ``cold``:
    one or two training items, plus customers new in the test period with the
    first ``reveal`` items of their first order revealed as their history (the
    situation cold start is for). ``new``: customers new in the test period,
    nothing known.
    """
    test = split.test.sort_index(kind="stable").sort_values("InvoiceDate", kind="stable")
    found: list[Case] = []
    for user, lines in test.groupby("CustomerID", sort=True):
        user = str(user)
        bought = list(dict.fromkeys(lines["StockCode"]))
        history = histories.get(user)
        if history is not None and len(history.items):
            seen = set(history.distinct().tolist())
            new = [code for code in bought if positions.get(code, -1) not in seen]
            segment = HISTORY if len(seen) >= min_history else COLD
            found.append(_case(user, segment, history, new, positions))
            continue
        found.append(_case(user, NEW, History.empty(), bought, positions))
        revealed = [positions[code] for code in bought[:reveal] if code in positions]
        if len(bought) > reveal and revealed:
            shown = History(np.array(revealed, dtype=np.int64), np.zeros(len(revealed)))
            found.append(_case(user, COLD, shown, bought[reveal:], positions))
    return [case for case in found if case.n_targets > 0]


def _case(user: str, segment: Segment, history: History, new_codes: Sequence[str], positions: Mapping[str, int]) -> Case:
    rows = np.array(sorted({positions[code] for code in new_codes if code in positions}), dtype=np.int64)
    return Case(user, segment, history, rows, len(set(new_codes)), len(history.distinct()))


def recall_at(ranked: IntArray, case: Case, k: int) -> float:
    """Share of the user's new items found in the first ``k``."""
    return float(np.isin(ranked[:k], case.targets).sum()) / case.n_targets


def ndcg_at(ranked: IntArray, case: Case, k: int) -> float:
    """Normalised discounted cumulative gain of the first ``k`` with binary relevance."""
    hits = np.isin(ranked[:k], case.targets)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[: min(k, case.n_targets)].sum()
    return float((hits * discounts[: len(hits)]).sum() / ideal)


METRICS = (("recall@10", recall_at, 10), ("recall@50", recall_at, 50), ("ndcg@10", ndcg_at, 10))


def evaluate(evaluated: Sequence[Case], ranked_lists: Callable[[Case], Mapping[str, IntArray]]) -> pd.DataFrame:
    """Per-user metrics: one row per case, columns ``method|metric``.

    ``ranked_lists`` gives each method's ranked catalogue rows for one case
    (a callable, so that methods sharing a candidate generator compute it once).
    """
    rows = []
    for case in evaluated:
        row: dict[str, object] = {"user": case.user, "segment": case.segment, "n_history": case.n_history}
        for name, ranked in ranked_lists(case).items():
            for metric, function, k in METRICS:
                row[f"{name}|{metric}"] = function(ranked, case, k)
        rows.append(row)
    return pd.DataFrame(rows)


def summary(per_user: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Mean of each metric per method."""
    return pd.DataFrame(
        {metric: [per_user[f"{method}|{metric}"].mean() for method in methods] for metric, _, _ in METRICS},
        index=list(methods),
    )


@dataclass(frozen=True)
class Difference:
    mean: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_bootstrap(a: NDArray[np.floating], b: NDArray[np.floating], resamples: int = 2000, seed: int = 0, level: float = 0.95) -> Difference:
    """Mean of a - b over users with a percentile interval from resampling users (pairs kept together).

    Raises ``ValueError`` if the arrays differ in length or are empty.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError("paired samples must be non-empty and of equal length")
    differences = a - b
    draws = np.random.default_rng(seed).integers(0, len(differences), size=(resamples, len(differences)))
    means = differences[draws].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return Difference(float(differences.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail)))
