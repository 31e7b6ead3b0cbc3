"""A user's interests: Ward clusters, medoids and time-decayed importance, on constructed vectors."""

from __future__ import annotations

import numpy as np
import pytest

from tools.recsys.embeddings import normalise_rows
from tools.recsys.interests import (
    decayed_weights,
    medoid,
    recent_items,
    user_interests,
    ward_clusters,
)


def three_groups(per_group: int = 4, seed: int = 0) -> np.ndarray:
    """Unit vectors in three tight groups around orthogonal directions."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8, dtype=np.float32)[:3]
    points = np.repeat(centres, per_group, axis=0) + 0.05 * rng.standard_normal((3 * per_group, 8)).astype(np.float32)
    return normalise_rows(points)


def test_ward_finds_each_group_and_the_threshold_sets_how_many() -> None:
    vectors = three_groups()
    labels = ward_clusters(vectors, threshold=0.8)
    assert len(set(labels.tolist())) == 3
    for group in range(3):
        assert len(set(labels[group * 4 : group * 4 + 4].tolist())) == 1
    assert len(set(ward_clusters(vectors, threshold=100.0).tolist())) == 1
    assert len(set(ward_clusters(vectors, threshold=1e-6).tolist())) == len(vectors)


def test_ward_on_zero_and_one_item() -> None:
    assert ward_clusters(np.zeros((0, 4), dtype=np.float32), 1.0).tolist() == []
    assert ward_clusters(np.ones((1, 4), dtype=np.float32), 1.0).tolist() == [0]


def test_the_medoid_is_the_member_closest_to_all_others() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [10.0, 0.0]], dtype=np.float32)
    assert medoid(points) == 1
    # A tie goes to the earliest member.
    assert medoid(np.array([[0.0, 0.0], [1.0, 0.0]], dtype=np.float32)) == 0
    with pytest.raises(ValueError):
        medoid(np.zeros((0, 2), dtype=np.float32))


def test_decay_halves_at_the_half_life() -> None:
    weights = decayed_weights(np.array([0.0, 30.0, 60.0]), half_life_days=30.0)
    assert weights == pytest.approx([1.0, 0.5, 0.25])
    with pytest.raises(ValueError):
        decayed_weights(np.array([1.0]), half_life_days=0.0)


def test_recent_items_sums_repeat_purchases_and_keeps_the_newest() -> None:
    items = np.array([7, 7, 3, 5])
    ages = np.array([0.0, 30.0, 10.0, 400.0])
    distinct, weights = recent_items(items, ages, half_life_days=30.0, max_items=2)
    assert distinct.tolist() == [7, 3]
    assert weights[0] == pytest.approx(1.5)


def test_a_recent_interest_outranks_a_bigger_old_one() -> None:
    embeddings = three_groups()
    # Group 0 (rows 0-3): four items bought a year ago. Group 1 (rows 4-7): one item bought yesterday.
    # Group 2 (rows 8-11): two items bought a month ago.
    items = np.array([0, 1, 2, 3, 4, 8, 9])
    ages = np.array([365.0, 365.0, 365.0, 365.0, 1.0, 30.0, 30.0])
    interests = user_interests(items, ages, embeddings, threshold=0.8, half_life_days=30.0)
    assert [sorted(interest.items) for interest in interests] == [[8, 9], [4], [0, 1, 2, 3]]
    assert [interest.importance for interest in interests] == sorted((i.importance for i in interests), reverse=True)
    assert interests[1].importance == pytest.approx(0.5 ** (1 / 30))
    for interest in interests:
        assert interest.medoid in interest.items
    # With a long half-life the four old purchases win.
    slow = user_interests(items, ages, embeddings, threshold=0.8, half_life_days=10_000.0)
    assert sorted(slow[0].items) == [0, 1, 2, 3]


def test_items_without_an_embedding_are_left_out() -> None:
    embeddings = three_groups()
    embeddings[5] = 0.0
    interests = user_interests(np.array([5]), np.array([0.0]), embeddings, threshold=0.8, half_life_days=30.0)
    assert interests == []
