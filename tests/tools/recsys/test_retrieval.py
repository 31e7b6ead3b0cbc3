"""The co-purchase graph, embeddings, the index and the candidate generators, on constructed data."""

from __future__ import annotations

import numpy as np
import pytest

from tools.recsys.embeddings import combine, content_embeddings, normalise_rows
from tools.recsys.graph import Neighbours, behaviour_embeddings, cooccurrence, item_neighbours
from tools.recsys.index import IndexSettings, VectorIndex
from tools.recsys.interests import Interest
from tools.recsys.retrieval import (
    Candidates,
    History,
    aggregate,
    blend,
    copurchase,
    multi_interest,
    top_k,
)

# Baskets: items 0-2 go together, 3-5 go together, item 6 is bought alone.
BASKETS = [[0, 1, 2], [0, 1], [1, 2], [0, 2], [3, 4, 5], [3, 4], [4, 5], [6]]


def basket_arrays() -> tuple[np.ndarray, np.ndarray]:
    groups = np.concatenate([[number] * len(basket) for number, basket in enumerate(BASKETS)])
    return groups.astype(np.int64), np.concatenate(BASKETS).astype(np.int64)


def test_cooccurrence_counts_each_group_once() -> None:
    groups, items = basket_arrays()
    # A repeated line in one basket must not count twice.
    counts = cooccurrence(np.append(groups, 0), np.append(items, 0), 7).toarray()
    assert counts[0, 0] == 3 and counts[0, 1] == 2 and counts[0, 3] == 0
    assert (counts == counts.T).all()
    with pytest.raises(ValueError):
        cooccurrence(groups, items[:-1], 7)


def test_neighbours_stay_within_what_is_bought_together() -> None:
    groups, items = basket_arrays()
    neighbours = item_neighbours(cooccurrence(groups, items, 7), m=3)
    assert set(neighbours.ids[0][neighbours.ids[0] >= 0].tolist()) == {1, 2}
    assert set(neighbours.ids[4][neighbours.ids[4] >= 0].tolist()) == {3, 5}
    assert (neighbours.ids[6] == -1).all()
    assert neighbours.sims[0, 0] >= neighbours.sims[0, 1]


def test_behaviour_embedding_puts_co_bought_items_together() -> None:
    groups, items = basket_arrays()
    vectors = behaviour_embeddings(cooccurrence(groups, items, 7), dim=4)
    assert vectors.shape == (7, 4)
    assert not vectors[6].any(), "an item never bought with another has no behaviour signal"
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[4]


def test_content_embedding_and_combination() -> None:
    texts = ["WHITE HANGING HEART T-LIGHT HOLDER", "RED HANGING HEART T-LIGHT HOLDER", "JUMBO BAG RED RETROSPOT", "JUMBO BAG PINK POLKADOT"]
    vectors = content_embeddings(texts, dim=8)
    assert vectors.shape == (4, 8)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(4), abs=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    both = combine([(vectors, 0.5), (vectors, 0.5)])
    assert both.shape == (4, 16)
    assert both[0] @ both[1] == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-5)
    with pytest.raises(ValueError):
        combine([(vectors, 0.5), (vectors[:2], 0.5)])


def test_exact_and_hnsw_search_agree_on_a_small_catalogue() -> None:
    rng = np.random.default_rng(0)
    vectors = normalise_rows(rng.standard_normal((2000, 16)))
    exact = VectorIndex(vectors)
    hnsw = VectorIndex(vectors, IndexSettings(exact_below=0, storage="f32"))
    assert (exact.kind, hnsw.kind) == ("exact", "hnsw-f32")
    queries = vectors[:20]
    exact_ids, _ = exact.search(queries, 10)
    hnsw_ids, hnsw_sims = hnsw.search(queries, 10)
    assert (exact_ids[:, 0] == np.arange(20)).all()
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_ids.tolist(), hnsw_ids.tolist(), strict=True)])
    assert overlap > 0.9
    assert hnsw_sims[:, 0] == pytest.approx(np.ones(20), abs=1e-4)
    one_ids, _ = hnsw.search(vectors[0], 5)
    assert one_ids.shape == (1, 5)
    assert exact.search(queries, 0)[0].shape == (20, 0)


def test_copurchase_weights_recent_items_more() -> None:
    neighbours = Neighbours(ids=np.array([[2, -1], [3, -1], [0, 1], [0, 1]], dtype=np.int32), sims=np.array([[1.0, 0], [1.0, 0], [1, 1], [1, 1]], dtype=np.float32))
    history = History(items=np.array([0, 1]), ages=np.array([0.0, 60.0]))
    found = copurchase(history, neighbours, half_life_days=60.0, max_items=10)
    scores = dict(zip(found.ids.tolist(), found.scores.tolist(), strict=True))
    assert scores == pytest.approx({2: 1.0, 3: 0.5})
    assert len(copurchase(History.empty(), neighbours, 60.0, 10)) == 0


def test_multi_interest_sums_importance_weighted_similarity() -> None:
    vectors = normalise_rows(np.array([[1, 0], [0, 1], [1, 0.1], [0.1, 1]], dtype=np.float32))
    interests = [Interest(medoid=0, items=(0,), importance=3.0), Interest(medoid=1, items=(1,), importance=1.0)]
    found = multi_interest(interests, vectors, VectorIndex(vectors), n_interests=2, per_interest=2)
    scores = dict(zip(found.ids.tolist(), found.scores.tolist(), strict=True))
    assert scores[2] > scores[3], "the item near the more important interest scores higher"
    only_first = multi_interest(interests, vectors, VectorIndex(vectors), n_interests=1, per_interest=2)
    assert set(only_first.ids.tolist()) == {0, 2}


def test_blend_scales_each_part_and_adds_the_popularity_prior() -> None:
    a = Candidates(np.array([1, 2]), np.array([10.0, 5.0]))
    b = Candidates(np.array([2, 3]), np.array([0.2, 0.1]))
    popularity = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    merged = blend([(a, 1.0), (b, 1.0)], popularity, 0.5, popular_ids=np.array([4]))
    scores = dict(zip(merged.ids.tolist(), merged.scores.tolist(), strict=True))
    assert scores == pytest.approx({1: 1.0, 2: 1.5, 3: 0.5, 4: 0.5})
    best = top_k(merged, 2, exclude=np.array([2]))
    assert best.ids.tolist() == [1, 3]
    assert aggregate(np.array([-1, 5, 5]), np.array([9.0, 1.0, 2.0])).scores.tolist() == [3.0]
