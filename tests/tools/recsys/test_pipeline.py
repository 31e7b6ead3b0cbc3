"""The benchmark's pipeline on a small slice of the real data: split, build, every method, metrics, report."""

from __future__ import annotations

import numpy as np

from tests.tools.recsys.real_data import real_data_dir
from tools.recsys import methods as M
from tools.recsys.evaluation import HISTORY, cases, evaluate, summary, temporal_split
from tools.recsys.recommender import RecsysConfig, build, first_customers
from tools.recsys.report import Report
from tools.retail.data import load

KINDS = ("content", "behaviour", "combined")


def test_the_benchmark_pipeline_on_300_customers() -> None:
    cleaned = load(real_data_dir(), require_customer=True)
    split = temporal_split(first_customers(cleaned.lines, 300), "2011-10-01", "2011-11-01")
    model = build(split.train, RecsysConfig(), now=split.cutoff)
    assert model.now == split.cutoff and split.train["InvoiceDate"].max() < split.cutoff
    evaluated = cases(split, model.histories, model.positions)
    history_cases = [case for case in evaluated if case.segment == HISTORY]
    assert len(history_cases) >= 50

    recent = M.recent_popularity(model, split.train, 7)
    per_user = evaluate(evaluated, lambda case: M.ranked_lists(model, case, KINDS, recent))
    methods = [M.POPULARITY, M.RECENT, M.COPURCHASE, *map(M.averaged, KINDS), *map(M.multi, KINDS), M.COLD_START, M.BLEND_CP_POP, M.BLEND_CP_MI_POP, M.SERVED]
    table = summary(per_user[per_user["segment"] == HISTORY], methods)
    assert ((table >= 0) & (table <= 1)).all().all()
    # Personal signals find something on real purchases that all-time best sellers do not.
    assert table.loc[M.SERVED, "recall@50"] > table.loc[M.POPULARITY, "recall@50"]
    served = model.recommend_history(history_cases[0].history, 50).ids
    assert len(served) == 50 and not np.isin(served, history_cases[0].history.distinct()).any()

    # Ward with a distance threshold gives each buyer their own number of interests.
    counts = [len(model.interests(case.history)) for case in evaluated]
    assert min(c for c, case in zip(counts, evaluated, strict=True) if case.segment == HISTORY) >= 1
    assert len(set(counts)) > 5

    per_user["interests"] = counts
    report = Report(date="today", commit="test", machine="test", command="pytest")
    report.test_tables(per_user, KINDS, 7)
    page = report.markdown(model.config)
    assert "**served default**" in page and "Where multi-interest helps" in page
