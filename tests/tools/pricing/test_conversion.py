"""The conversion models: the mixture recovers a known never-convert share and the jump at 0.00;
the continuous baseline misses the jump. Validated on a simulation from another model family."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from core.settings import Settings
from tools.pricing import simulate
from tools.pricing.conversion import (
    Offers,
    brier_score,
    compare,
    expected_calibration_error,
    fit_logistic,
)
from tools.pricing.errors import InvalidOffers
from tools.pricing.specs import conversion
from tools.spec import ToolContext, fixed_token

# Small enough for the suite; the bench runs 4,000 customers over several seeds.
SMALL = simulate.Scenario(customers=2000, offers_per_customer=5)


def test_the_mixture_recovers_the_never_convert_share_and_the_jump_the_baseline_misses() -> None:
    result = simulate.run(SMALL, seed=7)
    truth = result["truth"]
    mixture, baseline = result["models"]["zero_aware_mixture"], result["models"]["baseline"]
    assert mixture["converged"]
    assert abs(mixture["never_convert_share"] - 0.3) <= simulate.SHARE_TOLERANCE
    assert abs(mixture["jump"] - truth["jump"]) <= simulate.JUMP_TOLERANCE
    assert truth["jump"] > 0.1, "the scenario has a real discontinuity"
    # Price as one continuous feature can only move by its slope over one cent.
    assert abs(baseline["jump"]) < 0.01
    assert abs(baseline["jump"] - truth["jump"]) > simulate.JUMP_TOLERANCE
    assert result["checks"] == {
        "mixture_share_within_tolerance": True,
        "mixture_jump_within_tolerance": True,
        "baseline_jump_within_tolerance": False,
    }
    assert result["calibration_sample"] == "held_out"
    # Brier is a proper score; ECE on 10 bins is too noisy at this size to rank the two.
    assert mixture["brier"] < baseline["brier"]


def test_without_a_never_convert_segment_the_mixture_finds_none() -> None:
    result = simulate.run(simulate.Scenario(customers=1500, never_convert_share=0.0), seed=3)
    assert result["models"]["zero_aware_mixture"]["never_convert_share"] <= simulate.SHARE_TOLERANCE


def test_without_a_step_at_zero_the_mixture_finds_no_jump() -> None:
    result = simulate.run(simulate.Scenario(customers=1500, free_lift=0.0), seed=5)
    assert abs(result["truth"]["jump"]) < 0.005
    assert abs(result["models"]["zero_aware_mixture"]["jump"]) <= simulate.JUMP_TOLERANCE


def test_the_baseline_is_plain_maximum_likelihood_logistic_regression() -> None:
    offers, _ = simulate.simulate(SMALL, seed=1)
    ours = fit_logistic(offers)
    assert offers.shipping is not None
    design = np.column_stack([offers.price, offers.shipping])
    reference = LogisticRegression(C=np.inf, max_iter=1000).fit(design, offers.converted)
    assert ours.names == ("intercept", "price", "shipping")
    expected = [reference.intercept_[0], *reference.coef_[0]]
    assert ours.beta == pytest.approx(expected, abs=2e-3)


def test_brier_and_expected_calibration_error_by_hand() -> None:
    y = np.array([0.0, 1.0, 1.0, 1.0])
    p = np.array([0.1, 0.1, 0.9, 0.9])
    assert brier_score(y, p) == pytest.approx((0.01 + 0.81 + 0.01 + 0.01) / 4)
    # Bin of 0.1: observed 0.5, gap 0.4, weight 1/2; bin of 0.9: observed 1.0, gap 0.1, weight 1/2.
    assert expected_calibration_error(y, p) == pytest.approx(0.25)
    assert expected_calibration_error(np.array([1.0]), np.array([1.0])) == 0.0


def test_offers_from_records_with_customers_share_their_segment() -> None:
    offers = Offers.from_records([
        {"price": 0.0, "converted": True, "customer": "a"},
        {"price": 1.0, "converted": 0, "customer": "a"},
        {"price": 2.0, "converted": 0, "customer": 7},
    ])
    assert offers.customers == 2 and offers.shipping is None
    assert list(offers.converted) == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="shipping"):
        Offers.from_records([{"price": 1.0, "converted": 1, "shipping": 0.0}, {"price": 1.0, "converted": 0}])


def test_without_free_offers_the_jump_is_not_estimable() -> None:
    offers, _ = simulate.simulate(simulate.Scenario(customers=500, free_share=0.0), seed=2)
    mixture = compare(offers)["models"]["zero_aware_mixture"]
    assert "is_free" in mixture["dropped_columns"]
    assert mixture["jump"] is None


async def test_the_handler_refuses_offers_nobody_converted_on() -> None:
    ctx = ToolContext(user="alice", agent="chat-bot", scopes=frozenset({"pricing:read"}), sign=fixed_token("t"), claims={},
                      trace_id=None, settings=Settings())
    with pytest.raises(InvalidOffers) as raised:
        await conversion({"offers": [{"price": 1.0, "converted": 0}, {"price": 0.0, "converted": 0}]}, ctx)
    assert raised.value.code == "invalid_offers"
