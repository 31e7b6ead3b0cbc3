"""Pruning on constructed correlated metrics: groups, representatives, reasons, components."""

from __future__ import annotations

import numpy as np
import pytest

from tools.metrics.prune import InvalidMatrix, prune


def constructed(seed: int = 0, observations: int = 200) -> dict[str, list[float]]:
    """Three latent factors, three noisy copies of each, and one metric on its own."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(observations, 3))
    metrics: dict[str, list[float]] = {}
    for f, family in enumerate(("orders", "revenue", "visits")):
        for copy in range(3):
            # Different scales and signs: correlation, not units, decides the groups.
            sign = -1.0 if (family, copy) == ("visits", 2) else 1.0
            metrics[f"{family}_{copy}"] = list(sign * (10 ** f) * (factors[:, f] + 0.2 * rng.normal(size=observations)))
    metrics["returns"] = list(rng.normal(size=observations))
    return metrics


def test_each_correlated_group_keeps_one_representative() -> None:
    result = prune(constructed(), threshold=0.8)
    assert result.groups == [
        ["orders_0", "orders_1", "orders_2"], ["revenue_0", "revenue_1", "revenue_2"],
        ["visits_0", "visits_1", "visits_2"], ["returns"],
    ]
    assert len(result.kept) == 4 and "returns" in result.kept
    for dropped, why in result.dropped.items():
        assert why.by.split("_")[0] == dropped.split("_")[0], "represented from inside its own group"
        assert abs(why.r) >= 0.8 and why.by in result.kept
        assert f"{abs(why.r):.3f}" in why.reason
    # A negatively correlated copy is still the same information: grouped, with its sign reported.
    assert [name for name, why in result.dropped.items() if why.r < 0] in (["visits_2"], ["visits_0", "visits_1"])
    assert result.components_95 == 4


def test_the_target_metric_is_never_dropped() -> None:
    result = prune(constructed(), threshold=0.8, target="revenue_2")
    assert "revenue_2" in result.kept
    assert result.dropped["revenue_0"].by == "revenue_2"
    assert "the target metric" in result.dropped["revenue_0"].reason


def test_groups_do_not_chain_through_a_middle_metric() -> None:
    rng = np.random.default_rng(1)
    a, c = rng.normal(size=(2, 500))
    # b is as close to a as to c (r about 0.71), a and c are unrelated.
    values = {"a": list(a), "b": list((a + c) / np.sqrt(2)), "c": list(c)}
    result = prune(values, threshold=0.65)
    assert not any({"a", "c"} <= set(group) for group in result.groups)
    assert len(result.kept) == 2


def test_spearman_is_not_fooled_by_one_huge_experiment() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2, 60))
    x[0], y[0] = 100.0, 100.0  # one experiment far larger than the rest moves both
    values = {"x": list(x), "y": list(y)}
    assert prune(values, method="pearson").kept == ["x"]
    assert prune(values, method="spearman").kept == ["x", "y"]


@pytest.mark.parametrize(("values", "target", "message"), [
    ({"a": [1.0, 2.0, 3.0]}, None, "at least 2 metrics"),
    ({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0]}, None, "same observations"),
    ({"a": [1.0, 2.0], "b": [2.0, 1.0]}, None, "at least 3"),
    ({"a": [1.0, 2.0, 3.0], "b": [5.0, 5.0, 5.0]}, None, "constant metric has no correlation: b"),
    ({"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0]}, "c", "target 'c'"),
])
def test_matrices_that_cannot_be_correlated_are_refused(values: dict[str, list[float]], target: str | None, message: str) -> None:
    with pytest.raises(InvalidMatrix, match=message):
        prune(values, target=target)
