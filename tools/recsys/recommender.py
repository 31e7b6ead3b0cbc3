"""The served model: built once from cleaned purchase lines, then asked for recommendations,
similar items and a user's interests.

What ``recommend`` serves by default is a blend chosen on a validation month
(see ``bench/results/recsys.md``): co-purchase neighbours of the user's recent
items, multi-interest retrieval and the user's averaged embedding over the
combined (content + behaviour) item embeddings, and last week's popularity as
a prior. A user with fewer than ``min_history`` distinct items takes the
cold-start blend instead: co-purchase neighbours of their one or two items,
the popular items of their content clusters, and popularity (alone, for a
user the model has never seen).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from tools.recsys.coldstart import ItemClusters, cold_start, item_clusters
from tools.recsys.embeddings import Catalogue, Matrix, catalogue, combine, content_embeddings
from tools.recsys.graph import Neighbours, behaviour_embeddings, cooccurrence, item_neighbours
from tools.recsys.index import IndexSettings, VectorIndex, one_blas_thread
from tools.recsys.interests import Interest, user_interests
from tools.recsys.retrieval import (
    Candidates,
    FloatArray,
    History,
    IntArray,
    average_embedding,
    blend,
    copurchase,
    multi_interest,
    top_k,
)

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class BlendWeights:
    """How much each candidate generator counts in a blend (zero leaves it out)."""

    copurchase: float = 0.0
    interests: float = 0.0
    average: float = 0.0
    cold_start: float = 0.0
    popularity: float = 0.0


@dataclass(frozen=True)
class RecsysConfig:
    """Every setting of the model; the defaults are what ``recsys.recommend`` serves."""

    dim: int = 64
    # Co-purchase graph: items bought by the same customer (or in the same basket) in training.
    graph: Literal["customer", "basket"] = "basket"
    neighbours: int = 100
    shrink: float = 10.0
    exponent: float = 0.5
    half_life_days: float = 60.0
    max_history: int = 200
    ward_threshold: float = 1.2
    n_interests: int = 10
    per_interest: int = 100
    # The embedding the served interests, user average and similar-item fallback search.
    embedding: str = "combined"
    content_weight: float = 0.5
    popularity_days: int = 7
    min_history: int = 3
    cluster_embedding: str = "content"
    min_cluster_size: int = 8
    candidates: int = 200
    # Chosen on the validation month (October 2011); see bench/results/recsys.md.
    served: BlendWeights = field(default_factory=lambda: BlendWeights(copurchase=1.0, interests=0.4, average=0.4, popularity=3.0))
    cold: BlendWeights = field(default_factory=lambda: BlendWeights(copurchase=1.0, average=0.5, cold_start=0.3, popularity=1.5))
    index: IndexSettings = field(default_factory=IndexSettings)
    kinds: tuple[str, ...] = ("content", "behaviour", "combined")
    seed: int = 0


@dataclass
class Recommender:
    catalogue: Catalogue
    config: RecsysConfig
    now: pd.Timestamp
    embeddings: dict[str, Matrix]
    indexes: dict[str, VectorIndex]
    neighbours: Neighbours
    # Recent and all-time popularity (distinct buyers), each scaled to [0, 1], and the catalogue ranked by each.
    popularity: FloatArray
    popularity_all: FloatArray
    ranked: IntArray
    ranked_all: IntArray
    clusters: ItemClusters
    histories: dict[str, History]
    positions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.positions:
            self.positions = self.catalogue.positions()

    # --- the pieces, on a history -------------------------------------------------

    def history(self, user_id: str) -> History:
        """The user's training purchases; empty for a user the model has never seen."""
        return self.histories.get(user_id, History.empty())

    def interests(self, history: History, kind: str | None = None) -> list[Interest]:
        """The user's interests on one embedding (the served one by default), most important first."""
        config = self.config
        return user_interests(
            history.items, history.ages, self.embeddings[kind or config.embedding],
            threshold=config.ward_threshold, half_life_days=config.half_life_days, max_items=config.max_history,
        )

    def component(self, name: str, history: History, kind: str | None = None, n_interests: int | None = None) -> Candidates:
        """One candidate generator: ``copurchase``, ``interests``, ``average`` or ``cold_start``.

        Raises ``KeyError`` for another name or an embedding kind the model lacks.
        """
        config = self.config
        kind = kind or config.embedding
        if name == "copurchase":
            return copurchase(history, self.neighbours, config.half_life_days, config.max_history)
        if name == "interests":
            chosen = self.interests(history, kind)
            return multi_interest(chosen, self.embeddings[kind], self.indexes[kind], n_interests or config.n_interests, config.per_interest)
        if name == "average":
            return average_embedding(history, self.embeddings[kind], self.indexes[kind], config.half_life_days, config.max_history, config.candidates)
        if name == "cold_start":
            return cold_start(history, self.clusters, config.half_life_days)
        raise KeyError(name)

    def score(self, history: History, weights: BlendWeights, k: int, exclude_seen: bool = True, kind: str | None = None) -> Candidates:
        """The top ``k`` of one blend for this history."""
        parts = [
            (self.component(name, history, kind), weight)
            for name, weight in (
                ("copurchase", weights.copurchase), ("interests", weights.interests),
                ("average", weights.average), ("cold_start", weights.cold_start),
            )
            if weight > 0
        ]
        seen = history.distinct() if exclude_seen else None
        popular_ids = self.ranked[: max(self.config.candidates, k + (0 if seen is None else len(seen)))]
        blended = blend(parts, self.popularity, weights.popularity, popular_ids)
        return top_k(blended, k, seen)

    def is_cold(self, history: History) -> bool:
        return len(history.distinct()) < self.config.min_history

    def recommend_history(self, history: History, k: int, exclude_seen: bool = True) -> Candidates:
        """What ``recommend`` serves for this history: the served blend, or the cold-start blend."""
        weights = self.config.cold if self.is_cold(history) else self.config.served
        return self.score(history, weights, k, exclude_seen)

    # --- the three tools, on ids ----------------------------------------------------

    def describe(self, row: int) -> dict[str, str]:
        return {"id": str(self.catalogue.item_ids[row]), "description": self.catalogue.descriptions[row]}

    def recommend(self, user_id: str, k: int, exclude_seen: bool = True) -> dict[str, Any]:
        """Top ``k`` items for a user; an unknown user gets the cold-start path (popular items)."""
        history = self.history(user_id)
        with one_blas_thread():
            found = self.recommend_history(history, k, exclude_seen)
        return {
            "user_id": user_id,
            "known_user": user_id in self.histories,
            "path": "cold_start" if self.is_cold(history) else "personalised",
            "items": [{**self.describe(int(row)), "score": round(float(score), 6)} for row, score in zip(found.ids, found.scores, strict=True)],
        }

    def similar_items(self, item_id: str, k: int) -> dict[str, Any]:
        """Co-purchase neighbours of an item, then its nearest items on the served embedding.

        Raises ``KeyError`` for an item not in the catalogue.
        """
        row = self.positions[item_id]
        neighbours = [(int(i), float(s), "co-purchase") for i, s in zip(self.neighbours.ids[row], self.neighbours.sims[row], strict=True) if i >= 0 and i != row and s > 0]
        found: list[tuple[int, float, str]] = neighbours[:k]
        if len(found) < k:
            kind = self.config.embedding
            ids, sims = self.indexes[kind].search(self.embeddings[kind][row][None, :], k + len(found) + 1)
            taken = {row} | {i for i, _, _ in found}
            for i, s in zip(ids[0], sims[0], strict=True):
                if len(found) >= k:
                    break
                if i >= 0 and int(i) not in taken:
                    found.append((int(i), float(s), "embedding"))
                    taken.add(int(i))
        return {
            "item": self.describe(row),
            "items": [{**self.describe(i), "score": round(s, 6), "source": source} for i, s, source in found],
        }

    def user_interests(self, user_id: str, members_shown: int = 5) -> dict[str, Any]:
        """The user's interests with their medoid item, importance and a few member items."""
        if user_id not in self.histories:
            return {"user_id": user_id, "known_user": False, "interests": [], "note": "no purchase history for this user: recommend serves popular items"}
        with one_blas_thread():
            found = self.interests(self.history(user_id))
        return {
            "user_id": user_id,
            "known_user": True,
            "embedding": self.config.embedding,
            "interests": [
                {
                    "rank": rank,
                    "medoid": self.describe(interest.medoid),
                    "importance": round(interest.importance, 6),
                    "size": len(interest.items),
                    "items": [self.describe(item) for item in interest.items[:members_shown]],
                }
                for rank, interest in enumerate(found, start=1)
            ],
        }


def first_customers(lines: pd.DataFrame, count: int | None) -> pd.DataFrame:
    """The lines of the first ``count`` customers to buy anything (all lines when ``count`` is None):
    a small, reproducible slice of the real data for tests and demos."""
    if count is None:
        return lines
    first = lines.groupby("CustomerID")["InvoiceDate"].min().reset_index().sort_values(["InvoiceDate", "CustomerID"], kind="stable")
    return lines[lines["CustomerID"].isin(set(first["CustomerID"].head(count)))]


def histories(lines: pd.DataFrame, positions: Mapping[str, int], now: pd.Timestamp) -> dict[str, History]:
    """Each customer's purchase events as catalogue rows and ages in days (lines outside the catalogue dropped)."""
    rows = lines["StockCode"].map(positions)
    known = rows.notna() & lines["CustomerID"].notna()
    frame = pd.DataFrame({
        "user": lines.loc[known, "CustomerID"].to_numpy(),
        "item": rows[known].to_numpy(dtype=np.int64),
        "age": ((now - lines.loc[known, "InvoiceDate"]) / DAY).to_numpy(dtype=np.float64),
    }).sort_values(["user", "age"], kind="stable")
    users, starts = np.unique(frame["user"].to_numpy(), return_index=True)
    items = np.split(frame["item"].to_numpy(), starts[1:])
    ages = np.split(frame["age"].to_numpy(), starts[1:])
    return {str(user): History(item, age) for user, item, age in zip(users, items, ages, strict=True)}


def popularity(lines: pd.DataFrame, positions: Mapping[str, int], n_items: int, since: pd.Timestamp | None = None) -> FloatArray:
    """Distinct buyers per item (since a date, if given), as a count per catalogue row."""
    if since is not None:
        lines = lines[lines["InvoiceDate"] >= since]
    pairs = lines[["CustomerID", "StockCode"]].drop_duplicates()
    rows = pairs["StockCode"].map(positions).dropna().to_numpy(dtype=np.int64)
    return np.bincount(rows, minlength=n_items).astype(np.float64)


def build(lines: pd.DataFrame, config: RecsysConfig | None = None, now: pd.Timestamp | None = None, extra_embeddings: Mapping[str, Matrix] | None = None) -> Recommender:
    """Build the model from cleaned lines (the columns of ``tools.retail.data``) that end before ``now``.

    ``extra_embeddings`` adds embedding kinds computed elsewhere (for example
    MiniLM), one row per item of ``catalogue(lines)``. Raises ``ValueError``
    if there are no lines with a customer, or if an extra embedding has the wrong number of rows.
    """
    # The matrices are small (thousands of rows): one BLAS thread is faster than two fighting
    # other work for the cores, and makes the sums, hence the model, the same on every machine.
    with one_blas_thread():
        return _build(lines, config or RecsysConfig(), now, extra_embeddings or {})


def _build(lines: pd.DataFrame, config: RecsysConfig, now: pd.Timestamp | None, extra_embeddings: Mapping[str, Matrix]) -> Recommender:
    lines = lines[lines["CustomerID"].notna()]
    if lines.empty:
        raise ValueError("no purchase lines with a customer to learn from")
    now = now if now is not None else lines["InvoiceDate"].max() + pd.Timedelta(seconds=1)
    items = catalogue(lines)
    positions = items.positions()
    rows = lines["StockCode"].map(positions).to_numpy(dtype=np.int64)
    groups = lines["CustomerID"] if config.graph == "customer" else lines["InvoiceNo"]
    counts = cooccurrence(pd.factorize(groups)[0].astype(np.int64), rows, len(items))

    embeddings: dict[str, Matrix] = {"content": content_embeddings(items.descriptions, config.dim, config.seed)}
    embeddings["behaviour"] = behaviour_embeddings(counts, config.dim, seed=config.seed)
    embeddings["combined"] = combine([(embeddings["content"], config.content_weight), (embeddings["behaviour"], 1.0 - config.content_weight)])
    for kind, matrix in extra_embeddings.items():
        if len(matrix) != len(items):
            raise ValueError(f"embedding {kind!r} has {len(matrix)} rows for {len(items)} items")
        embeddings[kind] = matrix
    wanted = {*config.kinds, config.embedding, *extra_embeddings}
    indexes = {kind: VectorIndex(embeddings[kind], config.index) for kind in sorted(wanted)}

    recent = popularity(lines, positions, len(items), since=now - config.popularity_days * DAY)
    overall = popularity(lines, positions, len(items))
    # Recent buyers first; the all-time count only breaks ties among items nobody bought lately.
    recent_score = recent + overall / (overall.max() + 1.0)
    return Recommender(
        catalogue=items,
        config=config,
        now=now,
        embeddings=embeddings,
        indexes=indexes,
        neighbours=item_neighbours(counts, config.neighbours, config.shrink, config.exponent),
        popularity=recent_score / recent_score.max(),
        popularity_all=overall / overall.max(),
        ranked=np.lexsort((np.arange(len(items)), -recent_score)).astype(np.int64),
        ranked_all=np.lexsort((np.arange(len(items)), -overall)).astype(np.int64),
        clusters=item_clusters(embeddings[config.cluster_embedding], recent_score, config.min_cluster_size),
        histories=histories(lines, positions, now),
        positions=positions,
    )
