"""The whole pipeline on a real slice of UCI Online Retail (CC BY 4.0): generate -> filter -> load -> look up."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.tools.kg.conftest import shared_data
from tools.kg import service
from tools.kg.filter import EmbeddingTable, PlausibilityFilter
from tools.kg.repository import KgRepository
from tools.retail.data import FILE, clean, read_raw

pytestmark = pytest.mark.db
SLICE_LINES = 20_000  # the first days of December 2010
SLICE_ITEMS = 120  # the slice's best sellers: enough pairs, few descriptions to encode


@pytest.fixture(scope="module")
def retail_slice(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    source = shared_data("online_retail") / FILE
    target = tmp_path_factory.mktemp("kg") / "slice.csv"
    with gzip.open(source, "rt") as rows:
        target.write_text("".join(itertools.islice(rows, SLICE_LINES + 1)))
    lines = clean(read_raw(target)).lines
    best = lines["StockCode"].value_counts().index[:SLICE_ITEMS]
    return lines[lines["StockCode"].isin(best)]


async def test_pipeline_on_a_slice(retail_slice: pd.DataFrame, tiny_filter: PlausibilityFilter, table: EmbeddingTable,
                                   sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    report = await service.build_graph(sessionmaker, None, lines=retail_slice, filter_=tiny_filter, table=table,
                                       min_baskets=5, batch=500)
    assert report.candidates > 1_000
    assert 0 < report.survivors < report.candidates, "the filter keeps some candidates and drops others"
    assert set(report.by_relation) >= {"complementOf", "usedWith", "isA", "usedFor", "atLocation", "forOccasion"}
    assert sum(kept for _, kept in report.by_relation.values()) == report.survivors
    async with sessionmaker() as session:
        repository = KgRepository(session)
        assert await repository.count_triples() == report.survivors
        build = await repository.latest_build()
        assert build is not None and build.candidates == report.candidates and build.detail["products"] == SLICE_ITEMS
        # The holder is the slice's best seller; its edges come back scored and with provenance.
        answer = await service.lookup(session, "white hanging heart t-light holder")
        assert answer["edges"] and all(e["score"] >= tiny_filter.threshold for e in answer["edges"])
        assert {e["source"] for e in answer["edges"]} == {"template"} and all(e["evidence"]["rule"] for e in answer["edges"])
