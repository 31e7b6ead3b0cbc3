"""A user's interests, PinnerSage style: Ward clusters of their recent items, medoids, decayed importance.

The number of interests is not fixed: Ward agglomerative clustering is cut at a
distance threshold, so a buyer of one kind of thing gets one interest and a
wholesale buyer of everything gets dozens. Each cluster is represented by its
medoid (a real item, so an interest can be shown and queried) and scored by
the sum of exp(-lambda * age) over its purchases: recent, repeated interests first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.cluster.hierarchy import fcluster, linkage

from tools.recsys.embeddings import Matrix

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Interest:
    """One cluster of a user's items: its medoid, its members (catalogue rows) and its importance."""

    medoid: int
    items: tuple[int, ...]
    importance: float


def decay_rate(half_life_days: float) -> float:
    """Lambda of exp(-lambda * age) for a half-life in days. Raises ``ValueError`` if not positive."""
    if half_life_days <= 0:
        raise ValueError("the half-life must be positive")
    return math.log(2.0) / half_life_days


def decayed_weights(ages_days: FloatArray, half_life_days: float) -> FloatArray:
    """exp(-lambda * age) per purchase: 1 today, 1/2 one half-life ago."""
    return np.exp(-decay_rate(half_life_days) * np.maximum(np.asarray(ages_days, dtype=np.float64), 0.0))


def ward_clusters(vectors: Matrix, threshold: float) -> IntArray:
    """Cluster labels 0..c-1 from Ward linkage cut at ``threshold`` (Euclidean merge height).

    On unit vectors the Euclidean distance is sqrt(2 - 2 cos), so the threshold
    reads as how dissimilar items may be and still share an interest.
    """
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(vectors) == 1:
        return np.zeros(1, dtype=np.int64)
    tree = linkage(np.asarray(vectors, dtype=np.float64), method="ward")
    labels = fcluster(tree, t=threshold, criterion="distance")
    return np.asarray(labels, dtype=np.int64) - 1


def medoid(vectors: Matrix) -> int:
    """Position of the member with the smallest total Euclidean distance to the others.

    Raises ``ValueError`` for an empty cluster.
    """
    if len(vectors) == 0:
        raise ValueError("an empty cluster has no medoid")
    points = np.asarray(vectors, dtype=np.float64)
    squared = (points**2).sum(axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * points @ points.T, 0.0))
    # Ties go to the earliest member, which callers order by recency.
    return int(np.argmin(distances.sum(axis=1)))


def recent_items(items: IntArray, ages_days: FloatArray, half_life_days: float, max_items: int) -> tuple[IntArray, FloatArray]:
    """The user's distinct items, most recent first (at most ``max_items``), with their decayed weight.

    An item's weight sums exp(-lambda * age) over all its purchases, so an item
    bought every week outweighs one bought once a year ago.
    """
    items = np.asarray(items, dtype=np.int64)
    if len(items) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    weights = decayed_weights(ages_days, half_life_days)
    distinct, rows = np.unique(items, return_inverse=True)
    total = np.bincount(rows, weights=weights, minlength=len(distinct)).astype(np.float64)
    newest = np.full(len(distinct), np.inf)
    np.minimum.at(newest, rows, np.asarray(ages_days, dtype=np.float64))
    order = np.lexsort((distinct, newest))[:max_items]
    return distinct[order], total[order]


def user_interests(
    items: IntArray,
    ages_days: FloatArray,
    embeddings: Matrix,
    *,
    threshold: float,
    half_life_days: float,
    max_items: int = 200,
) -> list[Interest]:
    """The user's interests, most important first.

    ``items`` and ``ages_days`` are purchase events (catalogue rows and days
    before now). Items without an embedding (a zero row: no signal for that
    item) cannot be placed and are left out.
    """
    distinct, weights = recent_items(items, ages_days, half_life_days, max_items)
    placed = np.linalg.norm(embeddings[distinct], axis=1) > 0 if len(distinct) else np.zeros(0, dtype=bool)
    distinct, weights = distinct[placed], weights[placed]
    if len(distinct) == 0:
        return []
    vectors = embeddings[distinct]
    labels = ward_clusters(vectors, threshold)
    interests = []
    for label in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == label)
        centre = members[medoid(vectors[members])]
        interests.append(
            Interest(
                medoid=int(distinct[centre]),
                items=tuple(int(item) for item in distinct[members]),
                importance=float(weights[members].sum()),
            )
        )
    interests.sort(key=lambda interest: (-interest.importance, interest.medoid))
    return interests
