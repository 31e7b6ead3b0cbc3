"""Fixtures of the kg tests: the shared data, a small catalogue, and a filter trained once per session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.gateway.conftest import gateway_settings  # noqa: F401  (a fixture, used by name)
from tools.kg.filter import EmbeddingTable, PlausibilityFilter
from tools.text.minilm import EncoderUnavailable

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
# How many CKBC dev pairs the session's filter learns from: enough to tell corrupted triples
# from true ones well above chance, few enough to encode and train in seconds.
TRAINING_PAIRS = 300


def shared_data(folder: str) -> Path:
    """The shared data directory; a test needing it skips without it, and fails without it in CI."""
    if not (SHARED_DATA / folder).is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the shared data at {SHARED_DATA / folder}")
        pytest.skip(f"the shared data is not at {SHARED_DATA / folder}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def table() -> EmbeddingTable:
    """Frozen MiniLM embeddings, each text encoded once per session, on one BLAS thread: on two
    shared cores, two BLAS threads competing with other work ran two to four times slower here."""
    from threadpoolctl import threadpool_limits

    from tools.text.minilm import shared_encoder

    try:
        encoder = shared_encoder()
    except EncoderUnavailable as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"the MiniLM wheel is not installed: {exc.message}")

    def encode(texts: list[str]) -> np.ndarray:
        with threadpool_limits(1):
            return encoder.encode(texts)

    return EmbeddingTable(encode)


def _ckbc_filter(table: EmbeddingTable, pairs: int, seeds: tuple[int, ...]) -> PlausibilityFilter:
    from tools.kg import ckbc

    dev = ckbc.load(shared_data("conceptnet_ckbc"), "dev1", "dev2").pairs(pairs)
    return PlausibilityFilter.fit(dev, table, seeds=seeds)


@pytest.fixture(scope="session")
def small_filter(table: EmbeddingTable) -> PlausibilityFilter:
    """Trained on the first TRAINING_PAIRS CKBC dev pairs (and their made-up corruptions), three seeds averaged."""
    return _ckbc_filter(table, TRAINING_PAIRS, (0, 1, 2))


@pytest.fixture(scope="session")
def tiny_filter(table: EmbeddingTable) -> PlausibilityFilter:
    """For the pipeline's wiring, not its quality: 100 pairs (already encoded when small_filter ran)."""
    return _ckbc_filter(table, 100, (0,))


def invoice_lines(baskets: list[list[tuple[str, str]]], *, month: int = 3) -> pd.DataFrame:
    """Cleaned-looking invoice lines: one invoice per basket of (stock code, description)."""
    rows = [
        {"InvoiceNo": f"5{number:05d}", "StockCode": code, "Description": description, "Quantity": 2,
         "InvoiceDate": pd.Timestamp(2011, month, 1 + number % 28), "UnitPrice": 1.25, "CustomerID": "17850",
         "Country": "United Kingdom"}
        for number, basket in enumerate(baskets) for code, description in basket
    ]
    return pd.DataFrame(rows)


HOLDER = ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER")
TEALIGHTS = ("22808", "SET OF 6 T-LIGHTS EASTER CHICKS")
RED_BAG = ("85099B", "JUMBO BAG RED RETROSPOT")
PINK_BAG = ("85099F", "JUMBO BAG PINK POLKADOT")
ADVENT = ("23084", "CHRISTMAS ADVENT CALENDAR")


def small_baskets() -> list[list[tuple[str, str]]]:
    """Holder + tea lights bought together 12 times, two jumbo bags 12 times, an advent calendar alone."""
    return [[HOLDER, TEALIGHTS]] * 12 + [[RED_BAG, PINK_BAG]] * 12 + [[ADVENT]] * 4 + [[HOLDER], [RED_BAG]] * 3


def small_graph() -> tuple[dict[str, object], list[dict[str, object]], list[dict[str, object]]]:
    """A build record, items and scored triples, as ``KgRepository.replace_graph`` takes them."""
    build: dict[str, object] = {"generator": "template", "candidates": 9, "survivors": 7, "threshold": 0.5,
                                "detail": {"data": "constructed"}}
    items: list[dict[str, object]] = [
        {"item_id": code, "entity": text.lower(), "description": text}
        for code, text in (HOLDER, TEALIGHTS, RED_BAG, PINK_BAG, ADVENT)
    ]
    holder, tealights = HOLDER[1].lower(), TEALIGHTS[1].lower()

    def edge(head: str, relation: str, tail: str, score: float, head_item: str | None = None,
             tail_item: str | None = None) -> dict[str, object]:
        return {"head": head, "relation": relation, "tail": tail, "score": score, "head_item": head_item,
                "tail_item": tail_item, "source": "template", "evidence": {"rule": "constructed"}}

    triples = [
        edge(tealights, "usedWith", holder, 0.93, "22808", "85123A"),
        edge(tealights, "complementOf", holder, 0.88, "22808", "85123A"),
        edge(RED_BAG[1].lower(), "complementOf", PINK_BAG[1].lower(), 0.41, "85099B", "85099F"),
        edge(holder, "isA", "t-light holder", 0.97, "85123A"),
        edge(holder, "atLocation", "living room", 0.81, "85123A"),
        edge(tealights, "atLocation", "living room", 0.64, "22808"),
        edge(tealights, "forOccasion", "easter", 0.9, "22808"),
        edge(ADVENT[1].lower(), "forOccasion", "christmas", 0.95, "23084"),
        edge("t-light holder", "usedFor", "hold a candle", 0.99),
    ]
    return build, items, triples
