"""The shipped scenarios load, validate, and cover what the harness reports on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from evals.scenario import load_scenarios

SCENARIOS = Path(__file__).parents[2] / "evals" / "scenarios"


def test_the_scenarios_validate_and_cover_every_length_and_shape() -> None:
    scenarios = load_scenarios(SCENARIOS)
    assert len(scenarios) >= 60
    lengths = Counter(min(s.length, 4) for s in scenarios)
    assert all(lengths[n] > 0 for n in (0, 1, 2, 3, 4)), lengths
    assert {s.shape for s in scenarios} == {"single", "chain", "fan-out", "fan-in", "dag"}
    assert sum(1 for s in scenarios if s.denials) >= 10
    assert {s.split for s in scenarios} == {"dev", "test"}
