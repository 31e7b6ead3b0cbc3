"""A simulated market with a known discontinuity at 0.00 and a known never-convert share.

No open data set has conversions at 0.00 against 0.01, so the conversion model
is validated here. The generator is deliberately another model family than
the one fitted, so that a pass is not the model recognising itself:

- a share of customers never converts (drawn once per customer);
- the rest convert with a **probit** probability (the fit uses a logit) in
  ``log(1 + price / 2)`` (the fit uses ``log(1 + price)``), plus a step at
  exactly 0.00 and a step at free shipping, minus a linear shipping cost.

The tolerances below were fixed before any fit was run and are not tuned to
results: the bench and the tests compare against them as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from tools.pricing.conversion import PENNY, Offers, compare

Floats = NDArray[np.float64]

# Fixed before fitting; see the module docstring. Absolute errors:
SHARE_TOLERANCE = 0.05  # on the never-convert share (a fraction of customers)
JUMP_TOLERANCE = 0.05  # on P(convert at 0.00) - P(convert at 0.01), averaged over offers
PRICE_SCALE = 2.0  # the generator's price curve is log(1 + price / PRICE_SCALE)
HELD_OUT_SEED_OFFSET = 10_000  # the evaluation market is drawn from its own stream


@dataclass(frozen=True)
class Scenario:
    """The generator's parameters. Index units are probit units."""

    customers: int = 4000
    offers_per_customer: int = 5
    never_convert_share: float = 0.3
    free_lift: float = 1.0  # the step at exactly 0.00
    base: float = 0.6  # the index at price 0.01 with free shipping, before the shipping step
    price_slope: float = 0.7  # per unit of log(1 + price / PRICE_SCALE)
    shipping_slope: float = 0.12  # per currency unit of shipping
    free_shipping_lift: float = 0.25
    free_share: float = 0.2  # offers at exactly 0.00
    penny_share: float = 0.1  # offers at exactly 0.01, the other side of the step
    max_price: float = 30.0  # the rest are log-uniform on [0.10, max_price]
    free_shipping_share: float = 0.4  # the rest pay shipping uniform on [1, 6]


def _index(scenario: Scenario, price: Floats, shipping: Floats) -> Floats:
    free = np.rint(price * 100) == 0
    free_shipping = np.rint(shipping * 100) == 0
    return (scenario.base + scenario.free_lift * free + scenario.free_shipping_lift * free_shipping
            - scenario.price_slope * np.log1p(price / PRICE_SCALE) - scenario.shipping_slope * shipping)


def true_probability(scenario: Scenario, price: Floats, shipping: Floats) -> Floats:
    """P(convert) for a customer drawn at random (never-converters included)."""
    return (1.0 - scenario.never_convert_share) * norm.cdf(_index(scenario, price, shipping))


def true_jump(scenario: Scenario, shipping: Floats) -> float:
    """The true average P(convert at 0.00) - P(convert at 0.01), each offer keeping its shipping."""
    size = len(shipping)
    return float(np.mean(true_probability(scenario, np.zeros(size), shipping)
                         - true_probability(scenario, np.full(size, PENNY), shipping)))


def simulate(scenario: Scenario, seed: int) -> tuple[Offers, float]:
    """Draw a market; returns the offers and the realised never-convert share of its customers."""
    rng = np.random.default_rng(seed)
    n = scenario.customers * scenario.offers_per_customer
    customer = np.repeat(np.arange(scenario.customers), scenario.offers_per_customer)
    never = rng.random(scenario.customers) < scenario.never_convert_share
    kind = rng.random(n)
    log_uniform = np.exp(rng.uniform(np.log(0.10), np.log(scenario.max_price), n))
    price = np.where(kind < scenario.free_share, 0.0,
                     np.where(kind < scenario.free_share + scenario.penny_share, PENNY, np.round(log_uniform, 2)))
    shipping = np.where(rng.random(n) < scenario.free_shipping_share, 0.0, np.round(rng.uniform(1.0, 6.0, n), 2))
    convertible_rate = norm.cdf(_index(scenario, price, shipping))
    converted = (~never[customer]) & (rng.random(n) < convertible_rate)
    return Offers(price, converted.astype(np.float64), shipping, customer), float(never.mean())


def run(scenario: Scenario, seed: int) -> dict[str, Any]:
    """Simulate a training and a held-out market, fit both models, and judge them
    against the truth with the fixed tolerances. Raises ``ValueError`` when a market
    has no conversions at all (a degenerate scenario)."""
    train, realised_share = simulate(scenario, seed)
    held_out, _ = simulate(scenario, seed + HELD_OUT_SEED_OFFSET)
    result = compare(train, held_out)
    truth_jump = true_jump(scenario, held_out.shipping if held_out.shipping is not None else np.zeros(0))
    mixture = result["models"]["zero_aware_mixture"]
    baseline = result["models"]["baseline"]
    result["truth"] = {
        "never_convert_share": scenario.never_convert_share,
        "realised_never_convert_share": realised_share,
        "jump": truth_jump,
    }
    result["tolerances"] = {"never_convert_share": SHARE_TOLERANCE, "jump": JUMP_TOLERANCE}
    result["checks"] = {
        "mixture_share_within_tolerance": abs(mixture["never_convert_share"] - scenario.never_convert_share) <= SHARE_TOLERANCE,
        "mixture_jump_within_tolerance": mixture["jump"] is not None and abs(mixture["jump"] - truth_jump) <= JUMP_TOLERANCE,
        "baseline_jump_within_tolerance": abs(baseline["jump"] - truth_jump) <= JUMP_TOLERANCE,
    }
    result["scenario"] = {**asdict(scenario), "seed": seed}
    return result
