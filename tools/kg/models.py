"""The served graph's tables: builds (what made the graph), items (products), triples (scored edges).

A lookup goes by entity, relation and direction, so each end of a triple has
an index led by it (text for concepts, stock code for products), with the
relation next and the score last, which also serves ``ORDER BY score DESC``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

ENTITY_LENGTH = 255
ITEM_LENGTH = 32


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KgBuild(Base):
    """One run of generate -> filter -> load: its counts, threshold and filter, for provenance."""

    __tablename__ = "kg_builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    built_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    generator: Mapped[str] = mapped_column(String(32))
    candidates: Mapped[int] = mapped_column(Integer)
    survivors: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    detail: Mapped[Any] = mapped_column(JSON)


class KgItem(Base):
    """A product in the graph: its stock code and the entity text its triples use."""

    __tablename__ = "kg_items"

    item_id: Mapped[str] = mapped_column(String(ITEM_LENGTH), primary_key=True)
    entity: Mapped[str] = mapped_column(String(ENTITY_LENGTH), index=True)
    description: Mapped[str] = mapped_column(String(ENTITY_LENGTH))


class KgTriple(Base):
    """``head relation tail`` with P(true) from the filter, and where it came from."""

    __tablename__ = "kg_triples"
    __table_args__ = (
        Index("ix_kg_triples_head_relation_score", "head", "relation", "score"),
        Index("ix_kg_triples_tail_relation_score", "tail", "relation", "score"),
        Index("ix_kg_triples_head_item_relation", "head_item", "relation"),
        Index("ix_kg_triples_tail_item_relation", "tail_item", "relation"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("kg_builds.id"))
    head: Mapped[str] = mapped_column(String(ENTITY_LENGTH))
    relation: Mapped[str] = mapped_column(String(32))
    tail: Mapped[str] = mapped_column(String(ENTITY_LENGTH))
    head_item: Mapped[str | None] = mapped_column(String(ITEM_LENGTH))
    tail_item: Mapped[str | None] = mapped_column(String(ITEM_LENGTH))
    score: Mapped[float] = mapped_column(Float)
    # Which generator proposed it ("template", "llm", "synthetic") and its evidence.
    source: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[Any | None] = mapped_column(JSON)
