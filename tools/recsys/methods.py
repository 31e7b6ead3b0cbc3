"""The methods a benchmark compares, each a ranked list per user, sharing candidate generators.

Baselines (popularity, co-purchase neighbours, one averaged embedding per
user), multi-interest retrieval on each embedding kind, the cold-start path,
the blends, and what ``recommend`` serves. The served row calls the served
code itself (``Recommender.recommend_history``); the others reuse the same
generators, computed once per user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools.recsys.evaluation import Case
from tools.recsys.recommender import Recommender, popularity
from tools.recsys.retrieval import Candidates, FloatArray, History, IntArray, blend, top_k

POPULARITY = "popularity (all training)"
RECENT = "popularity (recent)"
COPURCHASE = "co-purchase neighbours"
COLD_START = "cold-start path (content clusters)"
BLEND_CP_POP = "blend: co-purchase + popularity"
BLEND_CP_MI_POP = "blend: co-purchase + multi-interest + popularity"
SERVED = "served default"


def averaged(kind: str) -> str:
    return f"one averaged embedding: {kind}"


def multi(kind: str) -> str:
    return f"multi-interest: {kind}"


@dataclass(frozen=True)
class RecentPopularity:
    """The recent-popularity baseline: buyers in the last ``days`` of training, scaled to [0, 1]."""

    days: int
    scores: FloatArray
    ranked: IntArray


def recent_popularity(model: Recommender, train: pd.DataFrame, days: int) -> RecentPopularity:
    """Popularity over the last ``days`` before the model's now (all-time counts break ties)."""
    n_items = len(model.catalogue)
    recent = popularity(train, model.positions, n_items, since=model.now - pd.Timedelta(days=days))
    overall = popularity(train, model.positions, n_items)
    scores = recent + overall / (overall.max() + 1.0)
    return RecentPopularity(days, scores / scores.max(), np.lexsort((np.arange(n_items), -scores)).astype(np.int64))


def components(model: Recommender, history: History, kinds: Sequence[str]) -> dict[str, Candidates]:
    """Every candidate generator for one history: co-purchase, cold start, and average and
    interests on each embedding kind (keys ``average:<kind>``, ``interests:<kind>``)."""
    found = {"copurchase": model.component("copurchase", history), "cold_start": model.component("cold_start", history)}
    for kind in kinds:
        found[f"average:{kind}"] = model.component("average", history, kind)
        found[f"interests:{kind}"] = model.component("interests", history, kind)
    return found


def first_unseen(ranked: IntArray, seen: IntArray, k: int) -> IntArray:
    """The first ``k`` of a ranked list that the user has not bought."""
    head = ranked[: k + len(seen)]
    return head[~np.isin(head, seen)][:k]


def ranked_lists(model: Recommender, case: Case, kinds: Sequence[str], recent: RecentPopularity, k: int = 50) -> dict[str, IntArray]:
    """Each method's top ``k`` new items for one case."""
    history = case.history
    seen = history.distinct()
    cache = components(model, history, kinds)
    popular_ids = model.ranked[: model.config.candidates + k + len(seen)]
    weights = model.config.served

    def blended(parts: list[tuple[Candidates, float]], popularity_weight: float) -> IntArray:
        return top_k(blend(parts, model.popularity, popularity_weight, popular_ids), k, seen).ids

    lists = {
        POPULARITY: first_unseen(model.ranked_all, seen, k),
        RECENT: first_unseen(recent.ranked, seen, k),
        COPURCHASE: top_k(cache["copurchase"], k, seen).ids,
    }
    for kind in kinds:
        lists[averaged(kind)] = top_k(cache[f"average:{kind}"], k, seen).ids
        lists[multi(kind)] = top_k(cache[f"interests:{kind}"], k, seen).ids
    # The clusters' items first; a sliver of popularity only fills the list behind them.
    lists[COLD_START] = blended([(cache["cold_start"], 1.0)], 1e-3)
    lists[BLEND_CP_POP] = blended([(cache["copurchase"], weights.copurchase)], weights.popularity)
    key = f"interests:{model.config.embedding}"
    served_interests = cache[key] if key in cache else model.component("interests", history)
    lists[BLEND_CP_MI_POP] = blended([(cache["copurchase"], weights.copurchase), (served_interests, weights.interests)], weights.popularity)
    lists[SERVED] = model.recommend_history(history, k).ids
    return lists
