"""The labelled retail sample: its written rules, and every stored row held to them."""

from __future__ import annotations

from collections import Counter

import pytest

from tools.kg.generate import Candidate
from tools.kg.rules import RuleNotApplicable, build_sample, label, read_sample
from tools.kg.vocabulary import RETAIL_RELATIONS


@pytest.mark.parametrize(("head", "relation", "tail", "expected", "rule"), [
    ("white hanging heart t-light holder", "usedWith", "pack of six led tea lights", 1, "P2"),
    ("jumbo bag red retrospot", "complementOf", "jumbo bag pink polkadot", 0, "P1"),
    ("regency teacup and saucer", "usedWith", "jumbo bag red retrospot", 0, "P3"),
    ("pink flower necklace", "complementOf", "pink flower earrings", 1, "P2"),
    ("pink flower necklace", "usedWith", "pink flower earrings", 0, "P3"),
    ("christmas advent calendar", "forOccasion", "christmas", 1, "F1"),
    ("white hanging heart t-light holder", "forOccasion", "easter", 0, "F2"),
])
def test_rules_label_candidates(head: str, relation: str, tail: str, expected: int, rule: str) -> None:
    value, why = label(head, relation, tail)
    assert (value, why[:2]) == (expected, rule)


def test_rules_do_not_decide_untyped_products_or_other_relations() -> None:
    with pytest.raises(RuleNotApplicable):
        label("high resolution image", "complementOf", "white hanging heart t-light holder")
    with pytest.raises(RuleNotApplicable):
        label("mug", "isA", "tableware")


def test_every_stored_row_agrees_with_the_written_rules() -> None:
    rows = read_sample()
    assert 300 <= len(rows) <= 400
    for row in rows:
        assert label(row.head, row.relation, row.tail) == (row.label, row.rule), row
    counts = Counter((row.relation, row.label) for row in rows)
    assert {relation for relation, _ in counts} == set(RETAIL_RELATIONS)
    assert all(count == 60 for count in counts.values())


def test_the_sample_is_drawn_balanced_and_deterministic() -> None:
    candidates = [Candidate(f"pink flower necklace {i}", "complementOf", "pink flower earrings", head_item=str(i),
                            tail_item="e") for i in range(10)]
    candidates += [Candidate(f"jumbo bag {i}", "complementOf", "jumbo bag red", head_item=f"b{i}", tail_item="r")
                   for i in range(3)]
    sample = build_sample(candidates, per_class=4)
    assert Counter(row.label for row in sample) == {1: 4, 0: 3}
    assert sample == build_sample(candidates, per_class=4)
