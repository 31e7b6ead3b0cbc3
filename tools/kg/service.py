"""The kg tool's service: build the graph (generate -> filter -> load), and answer the three lookups.

``build_graph`` is what a CLI, the benchmark, a test or (later) a scheduled
job calls; the tools only read what it loaded. CPU-heavy steps (cleaning,
encoding, training, scoring) run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import session_scope
from tools.kg import ckbc
from tools.kg.errors import UnknownItem
from tools.kg.filter import EmbeddingTable, PlausibilityFilter
from tools.kg.generate import (
    Candidate,
    Catalogue,
    Generator,
    TemplateGenerator,
    catalogue_from_lines,
)
from tools.kg.repository import Direction, Edge, KgRepository
from tools.kg.rules import LabelledTriple, read_sample
from tools.kg.vocabulary import ITEM_RELATIONS, PHRASES, normalise

EMPTY_NOTE = "the knowledge graph has not been built yet (tools.kg.service.build_graph)"
DATA = "UCI Online Retail (CC BY 4.0) and ConceptNet CKBC (CC BY-SA 4.0)"


def default_table() -> EmbeddingTable:
    """Embeddings from the shared frozen MiniLM. Raises ``EncoderUnavailable`` when the model is not installed."""
    from tools.text.minilm import shared_encoder

    encoder = shared_encoder()
    return EmbeddingTable(lambda texts: encoder.encode(texts))


def retail_labelled(rows: Sequence[LabelledTriple]) -> ckbc.LabelledSet:
    from tools.kg.generate import Triple

    return ckbc.LabelledSet([Triple(r.head, r.relation, r.tail) for r in rows], [r.label for r in rows],
                            [f"retail:{r.group}" for r in rows])


def train_filter(data_dir: Path | None, table: EmbeddingTable, *, ckbc_pairs: int | None = None,
                 seeds: Sequence[int] = (0,)) -> PlausibilityFilter:
    """The served filter: CKBC dev1 + dev2 (ConceptNet relations) and the labelled retail sample.

    ``ckbc_pairs`` keeps only that many CKBC pairs (tests). Raises
    :class:`~tools.kg.errors.TrainingDataMissing` without CKBC.
    """
    dev = ckbc.load(data_dir, "dev1", "dev2")
    if ckbc_pairs is not None:
        dev = dev.pairs(ckbc_pairs)
    return PlausibilityFilter.fit(dev + retail_labelled(read_sample()), table, seeds=seeds)


@dataclass
class BuildReport:
    build_id: int
    generator: str
    candidates: int
    survivors: int
    by_relation: dict[str, tuple[int, int]]  # relation -> (candidates, survivors)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def survival(self) -> float:
        return self.survivors / self.candidates if self.candidates else 0.0


def _rows(candidates: Sequence[Candidate], scores: Sequence[float], threshold: float) -> list[dict[str, Any]]:
    return [
        {"head": c.head, "relation": c.relation, "tail": c.tail, "head_item": c.head_item, "tail_item": c.tail_item,
         "score": round(float(s), 4), "source": c.source, "evidence": dict(c.evidence) or None}
        for c, s in zip(candidates, scores, strict=True) if s >= threshold
    ]


async def build_graph(sessionmaker: async_sessionmaker[AsyncSession], data_dir: Path | None, *,
                      lines: pd.DataFrame | None = None, generator: Generator | None = None,
                      filter_: PlausibilityFilter | None = None, table: EmbeddingTable | None = None,
                      min_baskets: int = 10, batch: int = 5_000) -> BuildReport:
    """Generate candidates from the retail data, keep those the filter finds plausible, and load them.

    ``lines`` (cleaned invoice lines) replaces reading ``data_dir`` (a slice, a
    user's own data); ``filter_`` replaces training one from ``data_dir``;
    ``min_baskets`` is the co-purchase floor (lower it for small data).
    Raises ``RetailDataMissing``, :class:`~tools.kg.errors.TrainingDataMissing`,
    ``EncoderUnavailable``, or a generator's error.
    """
    from tools.retail.data import load

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if lines is None:
        lines = (await asyncio.to_thread(load, data_dir)).lines
    catalogue: Catalogue = await asyncio.to_thread(catalogue_from_lines, lines, min_baskets=min_baskets)
    generator = generator or TemplateGenerator()
    candidates = await generator.generate(catalogue)
    seconds["generate"] = time.perf_counter() - started
    embeddings = table if table is not None else await asyncio.to_thread(default_table)
    served: PlausibilityFilter
    if filter_ is None:
        started = time.perf_counter()
        served = await asyncio.to_thread(train_filter, data_dir, embeddings)
        seconds["train filter"] = time.perf_counter() - started
    else:
        served = filter_
    started = time.perf_counter()
    triples = [c.triple for c in candidates]
    scores = (await asyncio.to_thread(served.scores, triples, embeddings)).tolist()
    seconds["filter"] = time.perf_counter() - started
    rows = _rows(candidates, scores, served.threshold)
    total = Counter(c.relation for c in candidates)
    kept = Counter(row["relation"] for row in rows)
    by_relation = {relation: (total[relation], kept[relation]) for relation in sorted(total)}
    items = [{"item_id": code, "entity": normalise(text), "description": text} for code, text in sorted(catalogue.products.items())]
    build = {"generator": generator.name, "candidates": len(candidates), "survivors": len(rows),
             "threshold": served.threshold,
             "detail": {"by_relation": by_relation, "filter": served.trained_on, "baskets": catalogue.baskets,
                        "products": len(catalogue.products), "data": DATA}}
    started = time.perf_counter()
    async with session_scope(sessionmaker) as session:
        build_id = await KgRepository(session).replace_graph(build, items, rows, batch=batch)
    seconds["load"] = time.perf_counter() - started
    return BuildReport(build_id, generator.name, len(candidates), len(rows), by_relation, seconds)


def _edge(edge: Edge, direction: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"head": edge.head, "relation": edge.relation, "tail": edge.tail, "score": edge.score,
                           "source": edge.source, "evidence": edge.evidence or {}}
    if direction is not None:
        out["direction"] = direction
    if edge.head_item is not None:
        out["head_item"] = edge.head_item
    if edge.tail_item is not None:
        out["tail_item"] = edge.tail_item
    return out


async def lookup(session: AsyncSession, entity: str, *, relation: str | None = None, direction: Direction = "both",
                 min_score: float = 0.0, limit: int = 20) -> dict[str, Any]:
    """Edges at an entity (a concept such as "christmas", or a product's description), best first."""
    repository = KgRepository(session)
    key = normalise(entity)
    found = await repository.edges_of(key, relation=relation, direction=direction, min_score=min_score, limit=limit)
    answer: dict[str, Any] = {"entity": key, "edges": [_edge(edge, name) for name, edge in found]}
    if not found and await repository.is_empty():
        answer["note"] = EMPTY_NOTE
    return answer


async def related_items(session: AsyncSession, item_id: str, *, relation: str | None = None,
                        min_score: float = 0.0, limit: int = 20) -> dict[str, Any]:
    """Products linked to ``item_id`` by complementOf/usedWith. Raises :class:`UnknownItem` when the graph lacks it."""
    repository = KgRepository(session)
    if await repository.is_empty():
        return {"item_id": item_id, "related": [], "note": EMPTY_NOTE}
    known = await repository.items([item_id])
    if item_id not in known:
        raise UnknownItem(f"no product {item_id!r} in the knowledge graph", detail={"item_id": item_id})
    relations = [relation] if relation else list(ITEM_RELATIONS)
    edges = await repository.item_edges(item_id, relations=relations, min_score=min_score, limit=limit)
    # item_edges returns product-to-product edges only, so the other end is always a stock code.
    others = [str(e.tail_item if e.head_item == item_id else e.head_item) for e in edges]
    partners = await repository.items(others)
    related = [
        {"item_id": other, "description": partners[other].description if other in partners else None,
         "relation": edge.relation, "score": edge.score, "evidence": edge.evidence or {}}
        for other, edge in zip(others, edges, strict=True)
    ]
    return {"item_id": item_id, "description": known[item_id].description, "related": related}


async def explain_pair(session: AsyncSession, item_a: str, item_b: str) -> dict[str, Any]:
    """Why two products go together: direct edges between them, and concepts both reach.

    Raises :class:`UnknownItem` (404) for an item the graph lacks; an empty graph answers with a note.
    """
    repository = KgRepository(session)
    if await repository.is_empty():
        return {"item_a": item_a, "item_b": item_b, "direct": [], "shared": [], "summary": "", "note": EMPTY_NOTE}
    known = await repository.items([item_a, item_b])
    for item in (item_a, item_b):
        if item not in known:
            raise UnknownItem(f"no product {item!r} in the knowledge graph", detail={"item_id": item})
    direct = await repository.edges_between(item_a, item_b)
    reach_a = {(e.relation, e.tail): e for e in await repository.concept_edges(item_a)}
    reach_b = {(e.relation, e.tail): e for e in await repository.concept_edges(item_b)}
    common = sorted(reach_a.keys() & reach_b.keys(),
                    key=lambda key: (-min(reach_a[key].score, reach_b[key].score), key))
    shared = [{"relation": relation, "concept": concept, "score_a": reach_a[(relation, concept)].score,
               "score_b": reach_b[(relation, concept)].score} for relation, concept in common]
    reasons = [f"{e.head} {PHRASES.get(e.relation, e.relation)} {e.tail} ({e.score:.2f})" for e in direct[:3]]
    reasons += [f"both {PHRASES.get(relation, relation)} {concept}" for relation, concept in common[:3]]
    summary = "; ".join(reasons) if reasons else "the graph holds nothing that links these two products"
    return {
        "item_a": item_a, "item_b": item_b,
        "description_a": known[item_a].description, "description_b": known[item_b].description,
        "direct": [_edge(e) for e in direct], "shared": shared, "summary": summary,
    }
