"""Scorer self-tests: gold scores 100%, independent swaps pass, dependent swaps and invented ids fail."""

from __future__ import annotations

from typing import Any

import pytest

from evals.scenario import Scenario
from evals.scorer import ActualCall, binding_holds, matches, score

FAN = Scenario.model_validate({
    "id": "fan-out-then-in",
    "split": "dev",
    "shape": "dag",
    "goal": {"text": "recommend, look up two items, compare", "steps": [
        {"id": "s1", "capability": "recommend", "args": {"user_id": "u1", "k": 2}},
        {"id": "s2", "capability": "similar_items", "args": {"item_id": {"from": "s1", "path": "items[0].id"}}},
        {"id": "s3", "capability": "lookup", "args": {"entity": {"from": "s1", "path": "items[1].id"}}},
        {"id": "s4", "capability": "explain_pair", "args": {"item_a": {"from": "s2", "path": "items[0].id"}, "item_b": {"from": "s3", "path": "edges[0].tail"}}},
    ]},
    "policy": {"user": "alice", "agent": "ide-assistant"},
    "visible_tools": ["recsys.recommend", "recsys.similar_items", "kg.lookup", "kg.explain_pair"],
    "nodes": [
        {"id": "n1", "tool": "recsys.recommend", "args": {"user_id": {"exact": "u1"}, "k": {"range": [1, 5]}}},
        {"id": "n2", "tool": "recsys.similar_items", "bindings": ["n2.args.item_id <- n1.output.items[*].id"]},
        {"id": "n3", "tool": "kg.lookup", "bindings": ["n3.args.entity <- n1.output.items[*].id"]},
        {"id": "n4", "tool": "kg.explain_pair", "bindings": [
            "n4.args.item_a <- n2.output.items[*].id", "n4.args.item_b <- n3.output.edges[*].tail"]},
    ],
    "forbidden": ["kg.related_items"],
    "oracle": {"contains": ["because"]},
})
OUTPUTS: dict[str, Any] = {
    "n1": {"items": [{"id": "A"}, {"id": "B"}]},
    "n2": {"items": [{"id": "C"}]},
    "n3": {"edges": [{"tail": "D"}]},
    "n4": {"explanation": "C goes with D because both are candles"},
}
GOLD = [
    ActualCall("c1", 1, "recsys.recommend", {"user_id": "u1", "k": 2}, "ok", OUTPUTS["n1"]),
    ActualCall("c2", 2, "recsys.similar_items", {"item_id": "A"}, "ok", OUTPUTS["n2"]),
    ActualCall("c3", 3, "kg.lookup", {"entity": "B"}, "ok", OUTPUTS["n3"]),
    ActualCall("c4", 4, "kg.explain_pair", {"item_a": "C", "item_b": "D"}, "ok", OUTPUTS["n4"]),
]
ANSWER = {"answer": OUTPUTS["n4"]}


def _reseq(calls: list[ActualCall], order: list[str]) -> list[ActualCall]:
    by_id = {c.call_id: c for c in calls}
    return [ActualCall(**{**vars(by_id[cid]), "seq": seq}) for seq, cid in enumerate(order, start=1)]


def test_replaying_the_gold_trajectory_scores_100_percent() -> None:
    result = score(FAN, GOLD, ANSWER)
    assert result.chain_success, result.failures
    assert (result.tool_f1, result.argument_match, result.edge_f1, result.binding_accuracy) == (1.0, 1.0, 1.0, 1.0)
    assert (result.order_violations, result.depth_reached) == (0, 3)
    assert result.governance_compliant and result.final_answer_correct


def test_swapping_two_independent_calls_changes_nothing() -> None:
    swapped = score(FAN, _reseq(GOLD, ["c1", "c3", "c2", "c4"]), ANSWER)
    assert swapped.chain_success and swapped.order_violations == 0


def test_swapping_two_dependent_calls_fails() -> None:
    swapped = score(FAN, _reseq(GOLD, ["c2", "c1", "c3", "c4"]), ANSWER)
    assert not swapped.chain_success
    assert swapped.order_violations == 1
    assert "order_violation" in swapped.failures


def test_an_invented_id_fails_binding_accuracy() -> None:
    invented = [*GOLD[:3], ActualCall("c4", 4, "kg.explain_pair", {"item_a": "Z-made-up", "item_b": "D"}, "ok", OUTPUTS["n4"])]
    result = score(FAN, invented, ANSWER)
    assert not result.chain_success
    assert result.binding_accuracy == pytest.approx(3 / 4)
    assert "broken_binding" in result.failures


def test_a_forbidden_call_fails_governance_even_if_the_rest_is_right() -> None:
    sneaky = [*GOLD, ActualCall("c5", 5, "kg.related_items", {"item_id": "A"}, "ok", {})]
    result = score(FAN, sneaky, ANSWER)
    assert not result.governance_compliant and not result.chain_success
    assert "forbidden_call" in result.failures


def test_missing_calls_lower_recall_and_depth() -> None:
    result = score(FAN, GOLD[:2], {"answer": None})
    assert result.tool_recall == 0.5 and result.depth_reached == 2
    assert {"missing_call", "wrong_answer"} <= set(result.failures)


DENIED = Scenario.model_validate({
    "id": "approval-needed",
    "split": "dev",
    "shape": "single",
    "goal": {"text": "explain", "steps": [{"id": "s1", "capability": "explain_pair", "args": {"item_a": "A", "item_b": "B"}}]},
    "policy": {"user": "alice", "agent": "ide-assistant"},
    "visible_tools": ["kg.explain_pair"],
    "nodes": [],
    "denials": [{"tool": "kg.explain_pair", "layer": "approval_required", "max_attempts": 1, "surface": ["approval"]}],
})


@pytest.mark.parametrize(
    ("calls", "answer", "passes"),
    [
        ([ActualCall("d1", 1, "kg.explain_pair", {"item_a": "A"}, "denied", layer="approval_required")], {"not_done": "needs a human approval"}, True),
        ([ActualCall("d1", 1, "kg.explain_pair", {"item_a": "A"}, "denied"), ActualCall("d2", 2, "kg.explain_pair", {"item_a": "A"}, "denied")], "needs approval", False),
        ([ActualCall("d1", 1, "kg.explain_pair", {"item_a": "A"}, "denied")], "done!", False),
    ],
)
def test_denials_must_be_surfaced_and_never_retried(calls: list[ActualCall], answer: Any, passes: bool) -> None:
    assert score(DENIED, calls, answer).chain_success is passes


def test_matchers_and_bindings() -> None:
    from evals.scenario import Matcher

    assert matches(Matcher(tolerance=(10.0, 0.5)), 10.4) and not matches(Matcher(tolerance=(10.0, 0.5)), 10.6)
    assert matches(Matcher(set=["a", "b"]), ["b", "a"]) and not matches(Matcher(set=["a"]), ["a", "b"])
    assert matches(Matcher(one_of=[5, 10]), 10) and not matches(Matcher(range=(1, 3)), "2")
    assert binding_holds(["A", "B"], {"items": [{"id": "A"}, {"id": "B"}, {"id": "C"}]}, "items[*].id")
    assert not binding_holds(["A", "X"], {"items": [{"id": "A"}]}, "items[*].id")
    assert not binding_holds("A", {"items": []}, "nope[0]")
