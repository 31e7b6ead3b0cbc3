"""Every query of the kg tool: the batched bulk load and the lookups. Statements in, rows out; no commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tools.kg.models import KgBuild, KgItem, KgTriple

Direction = Literal["out", "in", "both"]
BATCH = 5_000


@dataclass(frozen=True)
class Edge:
    head: str
    relation: str
    tail: str
    score: float
    head_item: str | None
    tail_item: str | None
    source: str
    evidence: dict[str, Any] | None

    @classmethod
    def of(cls, row: KgTriple) -> Edge:
        return cls(row.head, row.relation, row.tail, row.score, row.head_item, row.tail_item, row.source, row.evidence)


@dataclass(frozen=True)
class Item:
    item_id: str
    entity: str
    description: str


class KgRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace_graph(self, build: dict[str, Any], items: Iterable[dict[str, Any]],
                            triples: Iterable[dict[str, Any]], *, batch: int = BATCH) -> int:
        """Swap the served graph for a new one inside the caller's transaction; returns the build id.

        Rows go in batches of ``batch`` (one multi-row INSERT each), so memory stays
        flat however large the graph. Readers see the old graph until the caller
        commits. The builds table keeps every build's record; triples of old builds go.
        """
        await self.session.execute(delete(KgTriple))
        await self.session.execute(delete(KgItem))
        build_id = int((await self.session.execute(insert(KgBuild).values(**build).returning(KgBuild.id))).scalar_one())
        await self._insert(KgItem, items, batch)
        await self._insert(KgTriple, ({**row, "build_id": build_id} for row in triples), batch)
        return build_id

    async def _insert(self, model: type[KgItem] | type[KgTriple], rows: Iterable[dict[str, Any]], batch: int) -> None:
        chunk: list[dict[str, Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                await self.session.execute(insert(model), chunk)
                chunk = []
        if chunk:
            await self.session.execute(insert(model), chunk)

    async def latest_build(self) -> KgBuild | None:
        return (await self.session.execute(select(KgBuild).order_by(KgBuild.id.desc()).limit(1))).scalar_one_or_none()

    async def count_triples(self) -> int:
        return int((await self.session.execute(select(func.count()).select_from(KgTriple))).scalar_one())

    async def is_empty(self) -> bool:
        return (await self.session.execute(select(KgTriple.id).limit(1))).first() is None

    async def edges_of(self, entity: str, *, relation: str | None = None, direction: Direction = "both",
                       min_score: float = 0.0, limit: int = 20) -> list[tuple[str, Edge]]:
        """Edges whose head (``out``) or tail (``in``) is ``entity``, best first: (direction, edge) pairs."""
        found: list[tuple[str, Edge]] = []
        ends = {"out": [("out", KgTriple.head)], "in": [("in", KgTriple.tail)],
                "both": [("out", KgTriple.head), ("in", KgTriple.tail)]}[direction]
        for name, column in ends:
            statement = select(KgTriple).where(column == entity, KgTriple.score >= min_score)
            if relation is not None:
                statement = statement.where(KgTriple.relation == relation)
            statement = statement.order_by(KgTriple.score.desc(), KgTriple.id).limit(limit)
            found += [(name, Edge.of(row)) for row in (await self.session.execute(statement)).scalars()]
        found.sort(key=lambda pair: -pair[1].score)
        return found[:limit]

    async def items(self, item_ids: Sequence[str]) -> dict[str, Item]:
        rows = (await self.session.execute(select(KgItem).where(KgItem.item_id.in_(list(item_ids))))).scalars()
        return {row.item_id: Item(row.item_id, row.entity, row.description) for row in rows}

    async def item_edges(self, item_id: str, *, relations: Sequence[str], min_score: float = 0.0,
                         limit: int = 20) -> list[Edge]:
        """Edges between ``item_id`` and other products in ``relations``, best first."""
        found: list[Edge] = []
        for mine, theirs in ((KgTriple.head_item, KgTriple.tail_item), (KgTriple.tail_item, KgTriple.head_item)):
            statement = (
                select(KgTriple)
                .where(mine == item_id, KgTriple.relation.in_(list(relations)), theirs.is_not(None),
                       KgTriple.score >= min_score)
                .order_by(KgTriple.score.desc(), KgTriple.id)
                .limit(limit)
            )
            found += [Edge.of(row) for row in (await self.session.execute(statement)).scalars()]
        found.sort(key=lambda edge: -edge.score)
        return found[:limit]

    async def edges_between(self, item_a: str, item_b: str) -> list[Edge]:
        statement = select(KgTriple).where(or_(
            (KgTriple.head_item == item_a) & (KgTriple.tail_item == item_b),
            (KgTriple.head_item == item_b) & (KgTriple.tail_item == item_a),
        )).order_by(KgTriple.score.desc(), KgTriple.id)
        return [Edge.of(row) for row in (await self.session.execute(statement)).scalars()]

    async def concept_edges(self, item_id: str, *, limit: int = 200) -> list[Edge]:
        """The item's edges to concepts (tail not a product): what it is, is for, is used at."""
        statement = (
            select(KgTriple)
            .where(KgTriple.head_item == item_id, KgTriple.tail_item.is_(None))
            .order_by(KgTriple.score.desc(), KgTriple.id)
            .limit(limit)
        )
        return [Edge.of(row) for row in (await self.session.execute(statement)).scalars()]
