"""The temporal split, new-item targets, metrics and the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tools.recsys.evaluation import (
    COLD,
    HISTORY,
    NEW,
    Case,
    cases,
    evaluate,
    ndcg_at,
    paired_bootstrap,
    recall_at,
    summary,
    temporal_split,
)
from tools.recsys.retrieval import History


def line(customer: str, code: str, day: str) -> dict[str, object]:
    return {"InvoiceNo": f"{customer}-{day}", "StockCode": code, "Description": code, "InvoiceDate": pd.Timestamp(day), "CustomerID": customer}


LINES = pd.DataFrame([
    line("old", "A", "2011-01-05"), line("old", "B", "2011-01-06"), line("old", "C", "2011-01-07"),
    line("old", "A", "2011-03-02"), line("old", "D", "2011-03-02"), line("old", "Z", "2011-03-03"),
    line("thin", "A", "2011-01-05"), line("thin", "B", "2011-03-02"),
    line("fresh", "C", "2011-03-01"), line("fresh", "A", "2011-03-01"), line("fresh", "D", "2011-03-01"),
])
POSITIONS = {"A": 0, "B": 1, "C": 2, "D": 3}


def test_cases_keep_only_new_items_and_split_the_segments() -> None:
    split = temporal_split(LINES, "2011-03-01")
    assert split.train["InvoiceDate"].max() < split.cutoff <= split.test["InvoiceDate"].min()
    histories = {
        "old": History(np.array([0, 1, 2]), np.array([50.0, 49.0, 48.0])),
        "thin": History(np.array([0]), np.array([50.0])),
    }
    found = {(case.user, case.segment): case for case in cases(split, histories, POSITIONS)}
    old = found[("old", HISTORY)]
    # A was bought before the cut-off: not a target. Z is outside the catalogue: unfindable, still counted.
    assert old.targets.tolist() == [3] and old.n_targets == 2
    assert found[("thin", COLD)].targets.tolist() == [1]
    assert found[("fresh", NEW)].n_targets == 3
    revealed = found[("fresh", COLD)]
    assert revealed.history.items.tolist() == [2, 0] and revealed.targets.tolist() == [3]


def test_recall_and_ndcg_by_hand() -> None:
    case = Case("u", HISTORY, History.empty(), targets=np.array([3, 7]), n_targets=4, n_history=5)
    ranked = np.array([7, 1, 3])
    assert recall_at(ranked, case, 1) == pytest.approx(0.25)
    assert recall_at(ranked, case, 3) == pytest.approx(0.5)
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert ndcg_at(ranked, case, 3) == pytest.approx((1 + 1 / np.log2(4)) / ideal)
    per_user = evaluate([case], lambda c: {"m": ranked})
    assert summary(per_user, ["m"]).loc["m", "recall@10"] == pytest.approx(0.5)


def test_paired_bootstrap_sees_a_consistent_gain_and_no_gain() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(300)
    better = paired_bootstrap(base + 0.05 + 0.01 * rng.standard_normal(300), base)
    assert better.low > 0 and better.excludes_zero()
    same = paired_bootstrap(base + 0.01 * rng.standard_normal(300), base)
    assert same.low < 0 < same.high
    with pytest.raises(ValueError):
        paired_bootstrap(np.zeros(3), np.zeros(2))
