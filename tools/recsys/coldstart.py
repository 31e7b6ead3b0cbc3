"""Cold start: HDBSCAN clusters of the item embeddings, and each cluster's popular items.

A user with one or two items has too little history for interests or a
reliable user vector; what they bought still says which part of the catalogue
they shop in. HDBSCAN (scikit-learn's) finds clusters of any shape and size
without being told how many, and leaves outliers unlabelled; those are
attached to the cluster of their nearest labelled item, so every item has a
cluster to point at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import HDBSCAN

from tools.recsys.embeddings import Matrix
from tools.recsys.interests import recent_items
from tools.recsys.retrieval import Candidates, History, aggregate

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ItemClusters:
    """``labels[item]`` is the item's cluster; ``popular[c]`` that cluster's items, most popular first."""

    labels: IntArray
    popular: tuple[IntArray, ...]
    # Scaled to [0, 1] within the catalogue, aligned with ``popular``.
    popular_scores: tuple[FloatArray, ...]

    @property
    def count(self) -> int:
        return len(self.popular)


def item_clusters(embeddings: Matrix, popularity: FloatArray, min_cluster_size: int = 8, per_cluster: int = 100) -> ItemClusters:
    """Cluster the items and rank each cluster's members by popularity.

    Raises ``ValueError`` if ``embeddings`` and ``popularity`` differ in length.
    """
    if len(embeddings) != len(popularity):
        raise ValueError("one popularity per item is needed")
    n_items = len(embeddings)
    if n_items < max(2, min_cluster_size):
        labels = np.zeros(n_items, dtype=np.int64)
    else:
        # Unit vectors: Euclidean order equals cosine order, and HDBSCAN's tree code is fastest in it.
        labels = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=1, copy=True).fit_predict(embeddings).astype(np.int64)
        labels = _attach_noise(embeddings, labels)
    scaled = popularity / popularity.max() if popularity.max() > 0 else np.zeros_like(popularity)
    popular: list[IntArray] = []
    scores: list[FloatArray] = []
    for label in range(int(labels.max(initial=-1)) + 1):
        members = np.flatnonzero(labels == label)
        ranked = members[np.lexsort((members, -popularity[members]))][:per_cluster]
        popular.append(ranked.astype(np.int64))
        scores.append(scaled[ranked].astype(np.float64))
    return ItemClusters(labels=labels, popular=tuple(popular), popular_scores=tuple(scores))


def _attach_noise(embeddings: Matrix, labels: IntArray, chunk: int = 4096) -> IntArray:
    """Give each outlier (label -1) the label of its most similar labelled item."""
    labelled = np.flatnonzero(labels >= 0)
    noise = np.flatnonzero(labels < 0)
    if len(labelled) == 0:
        return np.zeros_like(labels)
    out = labels.copy()
    for start in range(0, len(noise), chunk):
        rows = noise[start : start + chunk]
        nearest = np.argmax(embeddings[rows] @ embeddings[labelled].T, axis=1)
        out[rows] = labels[labelled[nearest]]
    return out


def cold_start(history: History, clusters: ItemClusters, half_life_days: float, max_items: int = 20) -> Candidates:
    """The popular items of the clusters the user's items fall in, each cluster weighted by how
    much (and how recently) the user bought from it. No history gives no candidates: the
    caller's popularity prior then fills the list."""
    items, weights = recent_items(history.items, history.ages, half_life_days, max_items)
    if len(items) == 0 or clusters.count == 0:
        return Candidates.empty()
    cluster_weight = aggregate(clusters.labels[items], weights)
    ids = [clusters.popular[label] for label in cluster_weight.ids]
    scores = [clusters.popular_scores[label] * weight for label, weight in zip(cluster_weight.ids, cluster_weight.scores, strict=True)]
    return aggregate(np.concatenate(ids), np.concatenate(scores))
