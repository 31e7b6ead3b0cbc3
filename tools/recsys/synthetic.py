"""A synthetic catalogue of any size with the served model's shape, for latency at scale.

Items belong to topics; an item's embedding is its topic's centre plus noise,
its co-purchase neighbours are drawn from its topic, and popularity is heavy
tailed. Users buy from a few topics, with as many purchases as real users have.
Nothing here is evidence about quality: it exists so that a request against a
million items runs the same code on the same array shapes as a real one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tools.recsys.coldstart import ItemClusters
from tools.recsys.embeddings import Catalogue, Matrix, normalise_rows
from tools.recsys.graph import Neighbours
from tools.recsys.index import VectorIndex
from tools.recsys.recommender import Recommender, RecsysConfig
from tools.recsys.retrieval import History


def clustered_vectors(n_items: int, dim: int, topics: int, noise: float, rng: np.random.Generator, chunk: int = 100_000) -> tuple[Matrix, np.ndarray]:
    """Unit vectors around ``topics`` random centres, and each item's topic."""
    centres = normalise_rows(rng.standard_normal((topics, dim)))
    topic_of = rng.integers(0, topics, n_items)
    vectors = np.empty((n_items, dim), dtype=np.float32)
    for start in range(0, n_items, chunk):
        rows = slice(start, min(start + chunk, n_items))
        size = rows.stop - rows.start
        vectors[rows] = normalise_rows(centres[topic_of[rows]] + noise * rng.standard_normal((size, dim)).astype(np.float32) / np.sqrt(dim))
    return vectors, topic_of


def synthetic_vectors(n_items: int, config: RecsysConfig, *, topics: int | None = None, seed: int = 0) -> tuple[Matrix, np.ndarray]:
    """Item vectors as wide as the served embedding (about 200 items per topic), and each item's topic."""
    rng = np.random.default_rng(seed)
    dim = config.dim * (2 if config.embedding == "combined" else 1)
    return clustered_vectors(n_items, dim, topics or max(1, n_items // 200), noise=1.0, rng=rng)


def synthetic_model(vectors: Matrix, topic_of: np.ndarray, config: RecsysConfig, *, index: VectorIndex | None = None, seed: int = 0) -> Recommender:
    """A served model over synthetic items (no users yet: see :func:`add_users`).

    ``index`` lets a caller pass an index it built (and timed) over ``vectors``.
    """
    rng = np.random.default_rng(seed + 1)
    n_items = len(vectors)
    topics = int(topic_of.max()) + 1
    order = np.argsort(topic_of, kind="stable")
    starts = np.searchsorted(topic_of[order], np.arange(topics))
    sizes = np.bincount(topic_of, minlength=topics)
    m = config.neighbours
    draw = (rng.random((n_items, m)) * sizes[topic_of][:, None]).astype(np.int64)
    neighbour_ids = order[starts[topic_of][:, None] + draw].astype(np.int32)
    neighbour_ids[neighbour_ids == np.arange(n_items, dtype=np.int32)[:, None]] = -1  # never an item's own neighbour
    neighbour_sims = -np.sort(-rng.random((n_items, m)).astype(np.float32), axis=1)
    buyers = rng.pareto(1.2, n_items) + 1.0
    scaled = buyers / buyers.max()
    ranked = np.argsort(-buyers, kind="stable").astype(np.int64)
    popular, popular_scores = [], []
    for topic in range(topics):
        members = order[starts[topic] : starts[topic] + sizes[topic]]
        best = members[np.argsort(-buyers[members], kind="stable")][:100].astype(np.int64)
        popular.append(best)
        popular_scores.append(scaled[best])
    ids = np.char.add("S", np.char.zfill(np.arange(n_items).astype(str), 7))
    return Recommender(
        catalogue=Catalogue(item_ids=ids, descriptions=tuple(f"SYNTHETIC ITEM {i}" for i in range(n_items))),
        config=config,
        now=pd.Timestamp("2011-12-10"),
        embeddings={config.embedding: vectors},
        indexes={config.embedding: index or VectorIndex(vectors, config.index)},
        neighbours=Neighbours(ids=neighbour_ids, sims=neighbour_sims),
        popularity=scaled,
        popularity_all=scaled,
        ranked=ranked,
        ranked_all=ranked,
        clusters=ItemClusters(labels=topic_of.astype(np.int64), popular=tuple(popular), popular_scores=tuple(popular_scores)),
        histories={},
    )


def add_users(model: Recommender, purchase_counts: Sequence[int], seed: int = 0, max_topics: int = 8) -> list[str]:
    """Give the model one synthetic user per entry of ``purchase_counts`` (purchase events each),
    buying from one to ``max_topics`` topics over the past year. Returns their ids."""
    rng = np.random.default_rng(seed)
    labels = model.clusters.labels
    order = np.argsort(labels, kind="stable")
    topics = int(labels.max()) + 1
    starts = np.searchsorted(labels[order], np.arange(topics))
    sizes = np.bincount(labels, minlength=topics)
    users = []
    for number, count in enumerate(purchase_counts):
        chosen = rng.integers(0, topics, rng.integers(1, max_topics + 1))
        topic = rng.choice(chosen, size=int(count))
        items = order[starts[topic] + (rng.random(int(count)) * sizes[topic]).astype(np.int64)]
        user = f"synthetic-{number}"
        model.histories[user] = History(items.astype(np.int64), np.sort(rng.random(int(count)) * 365.0))
        users.append(user)
    return users
