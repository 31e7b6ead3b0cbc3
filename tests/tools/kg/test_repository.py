"""Serve: the batched load and the lookups, on SQLite and PostgreSQL (the migrated platform database)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import session_scope
from tests.tools.kg.conftest import small_graph
from tools.kg import service
from tools.kg.errors import UnknownItem
from tools.kg.repository import KgRepository

pytestmark = pytest.mark.db
Sessions = async_sessionmaker[AsyncSession]


async def _load(sessionmaker: Sessions, batch: int = 2) -> int:
    build, items, triples = small_graph()
    async with session_scope(sessionmaker) as session:
        return await KgRepository(session).replace_graph(build, items, triples, batch=batch)


async def test_the_load_is_batched_and_a_rebuild_replaces_the_graph(sessionmaker: Sessions) -> None:
    first = await _load(sessionmaker, batch=2)
    second = await _load(sessionmaker, batch=4)
    async with sessionmaker() as session:
        repository = KgRepository(session)
        assert await repository.count_triples() == 9
        latest = await repository.latest_build()
        assert latest is not None and latest.id == second != first and latest.survivors == 7


async def test_lookup_by_entity_relation_direction_and_score(sessionmaker: Sessions) -> None:
    await _load(sessionmaker)
    async with sessionmaker() as session:
        both = await service.lookup(session, "  Living ROOM ")
        assert both["entity"] == "living room"
        assert [(e["head"][:10], e["direction"], e["score"]) for e in both["edges"]] == [
            ("white hang", "in", 0.81), ("set of 6 t", "in", 0.64)]
        assert (await service.lookup(session, "living room", direction="out"))["edges"] == []
        assert len((await service.lookup(session, "living room", min_score=0.7))["edges"]) == 1
        out = await service.lookup(session, "white hanging heart t-light holder", direction="out")
        assert [e["relation"] for e in out["edges"]] == ["isA", "atLocation"]
        assert out["edges"][0]["head_item"] == "85123A" and out["edges"][0]["evidence"] == {"rule": "constructed"}
        only = await service.lookup(session, "white hanging heart t-light holder", relation="usedWith")
        assert [(e["direction"], e["tail_item"]) for e in only["edges"]] == [("in", "85123A")]
        assert len((await service.lookup(session, "white hanging heart t-light holder", limit=2))["edges"]) == 2
        assert "note" not in (await service.lookup(session, "nothing here"))


async def test_related_items_and_explain_pair(sessionmaker: Sessions) -> None:
    await _load(sessionmaker)
    async with sessionmaker() as session:
        related = await service.related_items(session, "85123A")
        assert [(r["item_id"], r["relation"], r["score"]) for r in related["related"]] == [
            ("22808", "usedWith", 0.93), ("22808", "complementOf", 0.88)]
        assert related["related"][0]["description"] == "SET OF 6 T-LIGHTS EASTER CHICKS"
        assert [r["relation"] for r in (await service.related_items(session, "85123A", relation="complementOf"))["related"]] == ["complementOf"]
        assert (await service.related_items(session, "85099F", min_score=0.5))["related"] == []
        why = await service.explain_pair(session, "85123A", "22808")
        assert [e["relation"] for e in why["direct"]] == ["usedWith", "complementOf"]
        assert why["shared"] == [{"relation": "atLocation", "concept": "living room", "score_a": 0.81, "score_b": 0.64}]
        assert why["summary"].startswith("set of 6 t-lights easter chicks is used together with white hanging")
        assert "both is found at living room" in why["summary"]
        unrelated = await service.explain_pair(session, "23084", "85099B")
        assert unrelated["direct"] == [] and unrelated["summary"] == "the graph holds nothing that links these two products"
        with pytest.raises(UnknownItem) as raised:
            await service.explain_pair(session, "85123A", "NOPE1")
        assert (raised.value.status, raised.value.code) == (404, "unknown_item")
        with pytest.raises(UnknownItem):
            await service.related_items(session, "NOPE1")


async def test_an_empty_graph_answers_empty_with_a_note(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        for answer in (await service.lookup(session, "christmas"), await service.related_items(session, "85123A"),
                       await service.explain_pair(session, "85123A", "22808")):
            assert answer["note"] == service.EMPTY_NOTE
        assert (await service.lookup(session, "christmas"))["edges"] == []
