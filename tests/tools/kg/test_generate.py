"""Generate: co-purchase pairs from baskets, and the template and LLM generators, on constructed data."""

from __future__ import annotations

import json

import pytest

from tests.fakes.openai_server import Reply, serve_fake
from tests.tools.kg.conftest import (
    ADVENT,
    HOLDER,
    PINK_BAG,
    RED_BAG,
    TEALIGHTS,
    invoice_lines,
    small_baskets,
)
from tools.kg.errors import GenerationError
from tools.kg.generate import Candidate, TemplateGenerator, catalogue_from_lines, deduplicate
from tools.kg.llm import LlmGenerator
from tools.kg.vocabulary import occasions_of, product_type


def test_co_purchase_pairs_count_baskets_and_lift() -> None:
    catalogue = catalogue_from_lines(invoice_lines(small_baskets()), min_baskets=10)
    assert catalogue.baskets == 34
    pairs = {(p.item_a, p.item_b): p for p in catalogue.pairs}
    assert set(pairs) == {("22808", "85123A"), ("85099B", "85099F")}
    holder_pair = pairs[("22808", "85123A")]
    # 12 shared baskets of 34; the holder is in 15, the tea lights in 12.
    assert holder_pair.baskets == 12 and holder_pair.lift == pytest.approx(12 * 34 / (15 * 12), abs=1e-3)
    assert catalogue.products["23084"] == "CHRISTMAS ADVENT CALENDAR"


def test_pairs_below_the_basket_floor_and_huge_baskets_are_left_out() -> None:
    lines = invoice_lines(small_baskets())
    assert catalogue_from_lines(lines, min_baskets=13).pairs == []
    assert catalogue_from_lines(lines, min_baskets=10, max_basket_items=1).pairs == []


async def test_the_template_generator_proposes_true_and_false_candidates() -> None:
    catalogue = catalogue_from_lines(invoice_lines(small_baskets()), min_baskets=10)
    candidates = await TemplateGenerator().generate(catalogue)
    triples = {(c.head_item, c.relation, c.tail) for c in candidates}
    holder, tealights = "white hanging heart t-light holder", "set of 6 t-lights easter chicks"
    # From the description: right.
    assert ("85123A", "isA", "t-light holder") in triples
    assert ("85123A", "usedFor", "hold a candle") in triples
    assert ("23084", "forOccasion", "christmas") in triples
    # Borrowed from a co-purchase partner: the filter's job to reject.
    assert ("85123A", "forOccasion", "easter") in triples
    assert ("85123A", "isA", "candle") in triples
    # Every strong pair as both item relations, substitutes included.
    pairs = {(c.head, c.relation, c.tail) for c in candidates if c.tail_item is not None}
    assert (tealights, "usedWith", holder) in pairs
    assert ("jumbo bag red retrospot", "complementOf", "jumbo bag pink polkadot") in pairs
    [pair] = [c for c in candidates if c.relation == "usedWith" and c.head_item == "22808"]
    assert pair.evidence["baskets"] == 12 and pair.evidence["rule"] == "co-purchase"
    assert len({c.key for c in candidates}) == len(candidates)
    assert candidates == TemplateGenerator().propose(catalogue), "deterministic"


def test_types_and_occasions_are_read_from_descriptions() -> None:
    assert product_type(HOLDER[1]) == "t-light holder" and product_type(TEALIGHTS[1]) == "candle"
    assert product_type(RED_BAG[1]) == product_type(PINK_BAG[1]) == "shopping bag"
    assert product_type("High Resolution Image") is None
    assert occasions_of(ADVENT[1]) == ("christmas",) and occasions_of(TEALIGHTS[1]) == ("easter",)


def test_deduplicate_keeps_the_first_proposal() -> None:
    first = Candidate("mug", "isA", "tableware", evidence={"rule": "a"})
    assert deduplicate([first, Candidate("mug", "isA", "tableware", evidence={"rule": "b"})]) == [first]


async def test_the_llm_generator_asks_the_endpoint_and_keeps_valid_triples_about_known_items() -> None:
    catalogue = catalogue_from_lines(invoice_lines(small_baskets()), min_baskets=10)
    answer = {"triples": [
        {"item": "85123A", "relation": "usedWith", "tail": "22808"},
        {"item": "85123A", "relation": "atLocation", "tail": "Living Room"},
        {"item": "99999", "relation": "isA", "tail": "made up"},
        {"item": "23084", "relation": "complementOf", "tail": "NOPE"},
    ]}
    async with serve_fake([Reply(text=json.dumps(answer))]) as (fake, base_url):
        candidates = await LlmGenerator(base_url, "delegated-token", "fake-model").generate(catalogue)
    [sent] = fake.requests
    assert sent.headers["authorization"] == "Bearer delegated-token"
    assert sent.body["response_format"] == {"type": "json_object"} and "85123A: WHITE HANGING" in sent.body["messages"][1]["content"]
    assert [(c.head_item, c.relation, c.tail, c.tail_item, c.source) for c in candidates] == [
        ("85123A", "usedWith", "set of 6 t-lights easter chicks", "22808", "llm"),
        ("85123A", "atLocation", "living room", None, "llm"),
    ]


@pytest.mark.parametrize(("answer", "message"), [
    ("Here are some facts!", "not JSON"),
    (json.dumps({"triples": [{"item": "85123A", "relation": "ownedBy", "tail": "x"}]}), "triples.0.relation"),
    (json.dumps({"facts": []}), "does not match the schema"),
])
async def test_an_unusable_llm_answer_is_an_error_saying_why(answer: str, message: str) -> None:
    catalogue = catalogue_from_lines(invoice_lines(small_baskets()), min_baskets=10)
    async with serve_fake([Reply(text=answer)]) as (_, base_url):
        with pytest.raises(GenerationError, match=message):
            await LlmGenerator(base_url, "t", "fake-model").generate(catalogue)
