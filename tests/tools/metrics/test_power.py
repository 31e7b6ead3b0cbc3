"""Power of one true effect among m metrics under Bonferroni and BH: exact, simulated, and the 50 -> 15 finding."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import Settings
from tools.metrics.errors import InvalidPowerRequest
from tools.metrics.power import (
    detection_probability,
    null_stepup_rejections,
    power_bh,
    power_bonferroni,
    relative_gain,
    simulate,
)
from tools.metrics.specs import power_of_metrics
from tools.spec import ToolContext, fixed_token

ALPHA = 0.05


@pytest.mark.parametrize("m", [1, 2, 15, 50, 400])
def test_the_exact_null_rejection_distribution_is_a_distribution(m: int) -> None:
    probabilities = null_stepup_rejections(m, ALPHA)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
    assert (probabilities >= 0).all()


def test_two_metrics_by_hand() -> None:
    # One null beside the true effect: it counts when p_null <= 2 alpha / 2 = alpha.
    assert null_stepup_rejections(2, ALPHA) == pytest.approx([0.95, 0.05])
    expected = 0.95 * detection_probability(2.0, ALPHA / 2) + 0.05 * detection_probability(2.0, ALPHA)
    assert power_bh(2, 2.0, ALPHA) == pytest.approx(float(expected))


def test_one_metric_needs_no_correction() -> None:
    single = float(detection_probability(2.8, ALPHA))
    assert power_bonferroni(1, 2.8) == pytest.approx(single) == pytest.approx(power_bh(1, 2.8))
    assert single == pytest.approx(0.80, abs=0.003), "z = 2.8 is the effect a lone test detects 80% of the time"


def test_bonferroni_at_no_effect_is_its_per_metric_level() -> None:
    assert power_bonferroni(50, 0.0) == pytest.approx(ALPHA / 50)


@pytest.mark.parametrize("m", [5, 15, 50, 200])
@pytest.mark.parametrize("effect_z", [1.0, 2.8, 4.0])
def test_bh_is_never_less_powerful_than_bonferroni(m: int, effect_z: float) -> None:
    assert power_bh(m, effect_z) >= power_bonferroni(m, effect_z)


def test_power_falls_as_metrics_are_added() -> None:
    for exact in (power_bonferroni, power_bh):
        powers = [exact(m, 2.8) for m in (1, 5, 15, 50, 200)]
        assert powers == sorted(powers, reverse=True)


@pytest.mark.parametrize("m", [15, 50])
def test_simulation_agrees_with_the_exact_power_within_monte_carlo_error(m: int) -> None:
    simulated = simulate(m, 2.8, ALPHA, simulations=40_000, seed=11)
    for correction, exact in (("bonferroni", power_bonferroni(m, 2.8)), ("bh", power_bh(m, 2.8))):
        estimate = simulated[correction]  # type: ignore[index]
        assert abs(estimate.power - exact) <= 4 * estimate.standard_error, correction


def test_simulation_is_reproducible_with_its_seed() -> None:
    assert simulate(30, 2.0, ALPHA, 2_000, seed=3) == simulate(30, 2.0, ALPHA, 2_000, seed=3)


def test_pruning_fifty_metrics_to_fifteen_raises_detection_of_a_moderate_effect() -> None:
    # The published figure is "about 45%" (Benjamini-Hochberg); the exact values here are 42.4% (BH)
    # and 43.1% (Bonferroni) for one true effect among independent two-sided tests.
    bh = relative_gain(power_bh(50, 2.8), power_bh(15, 2.8))
    bonferroni = relative_gain(power_bonferroni(50, 2.8), power_bonferroni(15, 2.8))
    assert bh == pytest.approx(0.424, abs=0.002)
    assert bonferroni == pytest.approx(0.431, abs=0.002)
    assert relative_gain(0.0, 0.5) is None


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        power_bh(0, 2.0)
    with pytest.raises(ValueError):
        power_bonferroni(10, 2.0, alpha=1.5)
    with pytest.raises(ValueError):
        simulate(10, 2.0, ALPHA, simulations=0, seed=0)
    assert np.isfinite(power_bh(1000, 3.0))


async def test_the_tool_bounds_the_simulated_work_of_one_call() -> None:
    ctx = ToolContext(user="alice", agent="chat-bot", scopes=frozenset({"metrics:read"}), sign=fixed_token("t"), claims={},
                      trace_id=None, settings=Settings())
    with pytest.raises(InvalidPowerRequest, match="simulate less"):
        await power_of_metrics({"n_metrics": 1000, "effect_z": 2.8, "compare_to": 1000, "simulations": 20_000}, ctx)
    answer = await power_of_metrics({"n_metrics": 50, "effect_z": 2.8, "correction": "bh", "simulations": 0}, ctx)
    assert answer["results"] == [{"correction": "bh", "n_metrics": 50, "analytic": pytest.approx(power_bh(50, 2.8)),
                                  "simulated": None, "simulated_se": None}]
