"""The served model end to end on a constructed shop: cold start, personalised path, similar items, interests."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.tools.recsys.shop import BAGS, HEARTS, shop_lines
from tools.recsys.coldstart import cold_start, item_clusters
from tools.recsys.embeddings import normalise_rows
from tools.recsys.recommender import BlendWeights, Recommender, RecsysConfig, build, first_customers
from tools.recsys.retrieval import History

# The served weights lean hard on popularity (chosen on the real data); here the personal
# signals are what is under test, so popularity only fills the list.
SMALL = RecsysConfig(
    dim=8, min_cluster_size=3, ward_threshold=0.8,
    served=BlendWeights(copurchase=1.0, interests=0.4, average=0.4, popularity=0.05),
    cold=BlendWeights(cold_start=1.0, popularity=0.01),
)


@pytest.fixture(scope="module")
def model() -> Recommender:
    return build(shop_lines(), SMALL)


def test_hdbscan_clusters_group_the_themes_and_rank_by_popularity() -> None:
    rng = np.random.default_rng(1)
    blobs = normalise_rows(np.repeat(np.eye(6)[:2], 10, axis=0) + 0.05 * rng.standard_normal((20, 6)))
    outlier = normalise_rows(np.array([[0.7, 0.1, 0.7, 0, 0, 0]]))
    vectors = np.vstack([blobs, outlier]).astype(np.float32)
    popularity = np.arange(21, dtype=np.float64)
    popularity[20] = 0.0
    clusters = item_clusters(vectors, popularity, min_cluster_size=5)
    assert clusters.count == 2
    assert len(set(clusters.labels[:10].tolist())) == 1 and len(set(clusters.labels[10:20].tolist())) == 1
    assert clusters.labels[20] >= 0, "an outlier is attached to its nearest cluster"
    first = clusters.labels[0]
    assert clusters.popular[first][0] == 9, "most popular member first"
    # A user with one item from the second blob gets that blob's items.
    found = cold_start(History(np.array([12]), np.array([0.0])), clusters, half_life_days=30.0)
    assert set(found.ids.tolist()) <= set(np.flatnonzero(clusters.labels == clusters.labels[12]).tolist())
    assert len(cold_start(History.empty(), clusters, 30.0)) == 0
    with pytest.raises(ValueError):
        item_clusters(vectors, popularity[:-1])


def test_an_unknown_user_gets_popular_items(model: Recommender) -> None:
    answer = model.recommend("nobody", 5)
    assert (answer["known_user"], answer["path"]) == (False, "cold_start")
    assert [item["id"] for item in answer["items"]] == [str(model.catalogue.item_ids[row]) for row in model.ranked[:5]]


def test_one_item_cold_user_gets_their_cluster_first(model: Recommender) -> None:
    bag = model.positions["20000"]
    found = model.recommend_history(History(np.array([bag]), np.array([0.0])), 4)
    assert model.is_cold(History(np.array([bag]), np.array([0.0])))
    assert {str(model.catalogue.item_ids[row]) for row in found.ids} <= set(BAGS) - {"20000"}


def test_a_known_user_gets_new_items_from_their_theme(model: Recommender) -> None:
    def bought(user: str) -> set[str]:
        return {str(model.catalogue.item_ids[row]) for row in model.history(user).items}

    # A customer who bought only hearts, and not all of them.
    user = next(u for u in sorted(model.histories) if bought(u) < set(HEARTS))
    seen = bought(user)
    answer = model.recommend(user, 3)
    assert answer["path"] == "personalised" and answer["known_user"]
    ids = [item["id"] for item in answer["items"]]
    assert not set(ids) & seen
    unseen_hearts = set(HEARTS) - seen
    # Every unseen heart comes before any bag.
    assert set(ids[: len(unseen_hearts)]) <= unseen_hearts
    scores = [item["score"] for item in answer["items"]]
    assert scores == sorted(scores, reverse=True)
    with_seen = model.recommend(user, 10, exclude_seen=False)
    assert {item["id"] for item in with_seen["items"]} & seen


def test_similar_items_are_bought_together(model: Recommender) -> None:
    answer = model.similar_items("10000", 4)
    assert answer["item"]["id"] == "10000"
    assert all(item["id"] in HEARTS and item["id"] != "10000" for item in answer["items"])
    assert answer["items"][0]["source"] == "co-purchase"
    with pytest.raises(KeyError):
        model.similar_items("99999", 3)


def test_a_two_theme_buyer_has_two_interests(model: Recommender) -> None:
    answer = model.user_interests("12003")
    assert answer["known_user"]
    themes = [{item["id"][0] for item in interest["items"]} for interest in answer["interests"]]
    assert len(answer["interests"]) >= 2
    assert all(len(theme) == 1 for theme in themes), "no interest mixes hearts and bags"
    assert answer["interests"][0]["importance"] >= answer["interests"][-1]["importance"]
    unknown = model.user_interests("nobody")
    assert unknown["interests"] == [] and "note" in unknown


def test_first_customers_slices_by_first_purchase() -> None:
    lines = shop_lines()
    sliced = first_customers(lines, 5)
    assert sliced["CustomerID"].nunique() == 5
    first = lines.groupby("CustomerID")["InvoiceDate"].min().sort_values(kind="stable")
    assert set(sliced["CustomerID"]) == set(first.index[:5])
    assert first_customers(lines, None) is lines


def test_build_refuses_empty_data_and_misshapen_extras() -> None:
    lines = shop_lines()
    with pytest.raises(ValueError):
        build(lines.iloc[0:0], SMALL)
    with pytest.raises(ValueError):
        build(lines, dataclasses.replace(SMALL), extra_embeddings={"minilm": np.zeros((3, 4), dtype=np.float32)})
