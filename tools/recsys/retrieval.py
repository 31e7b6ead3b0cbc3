"""Candidate generators and the blend: each turns a user's history into scored item candidates.

A history is purchase events (catalogue rows and their age in days). Every
generator returns :class:`Candidates` (ids and scores, unsorted, no
duplicates); ``blend`` puts several together and ``top_k`` cuts the list.
All of it works on candidate lists, never on a dense score per catalogue item,
so a request costs the same at 4,000 items as at 1,000,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tools.recsys.embeddings import Matrix
from tools.recsys.graph import Neighbours
from tools.recsys.index import VectorIndex
from tools.recsys.interests import Interest, recent_items

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class History:
    """One user's purchase events: catalogue rows and how many days before now each happened."""

    items: IntArray
    ages: FloatArray

    @staticmethod
    def empty() -> History:
        return History(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))

    def distinct(self) -> IntArray:
        return np.unique(self.items)


@dataclass(frozen=True)
class Candidates:
    ids: IntArray
    scores: FloatArray

    @staticmethod
    def empty() -> Candidates:
        return Candidates(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.ids)


def aggregate(ids: NDArray[np.integer], scores: NDArray[np.floating]) -> Candidates:
    """Sum the scores of repeated ids and drop padding (negative ids)."""
    ids = np.asarray(ids, dtype=np.int64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    keep = ids >= 0
    if not keep.any():
        return Candidates.empty()
    unique, inverse = np.unique(ids[keep], return_inverse=True)
    return Candidates(unique, np.bincount(inverse, weights=scores[keep], minlength=len(unique)).astype(np.float64))


def popular(ranked: IntArray, popularity: FloatArray, n: int) -> Candidates:
    """The ``n`` most popular items; ``ranked`` is the catalogue sorted by popularity, descending."""
    top = ranked[:n]
    return Candidates(top.astype(np.int64), popularity[top].astype(np.float64))


def copurchase(history: History, neighbours: Neighbours, half_life_days: float, max_items: int) -> Candidates:
    """Item-to-item: the co-purchase neighbours of the user's recent items, each weighted by
    how recently and how often the user bought the item it neighbours."""
    items, weights = recent_items(history.items, history.ages, half_life_days, max_items)
    if len(items) == 0:
        return Candidates.empty()
    return aggregate(neighbours.ids[items], neighbours.sims[items] * weights[:, None])


def average_embedding(
    history: History, embeddings: Matrix, index: VectorIndex, half_life_days: float, max_items: int, n: int
) -> Candidates:
    """One embedding per user: the decay-weighted mean of their recent items, then its neighbours."""
    items, weights = recent_items(history.items, history.ages, half_life_days, max_items)
    if len(items) == 0:
        return Candidates.empty()
    query = (weights[:, None] * embeddings[items]).sum(axis=0)
    if not np.any(query):
        return Candidates.empty()
    ids, sims = index.search(query[None, :].astype(np.float32), n)
    return aggregate(ids, np.maximum(sims, 0.0))


def multi_interest(interests: Sequence[Interest], embeddings: Matrix, index: VectorIndex, n_interests: int, per_interest: int) -> Candidates:
    """Query the index once per served interest (by its medoid) and sum importance-weighted similarities.

    Interests arrive most important first; only the top ``n_interests`` are
    served. An item near several interests collects from each of them.
    """
    served = list(interests[:n_interests])
    if not served:
        return Candidates.empty()
    importance = np.array([interest.importance for interest in served], dtype=np.float64)
    importance = importance / importance.sum()
    ids, sims = index.search(embeddings[[interest.medoid for interest in served]], per_interest)
    return aggregate(ids, np.maximum(sims, 0.0) * importance[:, None])


def blend(
    parts: Sequence[tuple[Candidates, float]],
    popularity: FloatArray | None = None,
    popularity_weight: float = 0.0,
    popular_ids: IntArray | None = None,
) -> Candidates:
    """Weighted sum of each part's scores divided by that part's best score.

    Dividing by the best score puts parts of different scales (cosines, decayed
    co-purchase sums) on one footing. Popularity (already scaled to [0, 1]) is
    a prior added to every candidate, and ``popular_ids`` join the candidates
    so that a user with thin evidence still gets a full list.
    """
    ids, scores = [], []
    for candidates, weight in parts:
        if weight <= 0 or len(candidates) == 0:
            continue
        best = float(candidates.scores.max())
        if best <= 0:
            continue
        ids.append(candidates.ids)
        scores.append(candidates.scores * (weight / best))
    if popular_ids is not None and popularity_weight > 0:
        ids.append(popular_ids)
        scores.append(np.zeros(len(popular_ids)))
    if not ids:
        return Candidates.empty()
    merged = aggregate(np.concatenate(ids), np.concatenate(scores))
    if popularity is not None and popularity_weight > 0:
        merged = Candidates(merged.ids, merged.scores + popularity_weight * popularity[merged.ids])
    return merged


def top_k(candidates: Candidates, k: int, exclude: IntArray | None = None) -> Candidates:
    """The ``k`` best candidates, best first (ties by item row), without ``exclude``."""
    ids, scores = candidates.ids, candidates.scores
    if exclude is not None and len(exclude) and len(ids):
        keep = ~np.isin(ids, exclude)
        ids, scores = ids[keep], scores[keep]
    if len(ids) > k:
        cut = np.argpartition(-scores, k - 1)[:k]
        ids, scores = ids[cut], scores[cut]
    order = np.lexsort((ids, -scores))
    return Candidates(ids[order], scores[order])
