"""Conversion models that treat a zero price as its own regime, beside a plain baseline.

- **Baseline**: logistic regression on price as one continuous feature (and
  shipping, when known). It has no way to jump at 0.00, so it smooths the jump
  into the slope.
- **Zero-aware mixture**: two latent classes of customer. A share ``pi`` never
  converts whatever the offer; the rest convert with a logistic probability in
  ``log(1 + price)``, ``is_free``, shipping and ``is_free_shipping``. The
  class is a customer's, so all of a customer's offers share it: a customer
  who converted once is certainly convertible, and one who never converted on
  many good offers is probably not. That panel structure is what identifies
  ``pi``; with one offer per customer only the ceiling of the convertible
  curve does, which is much weaker.

Both are fitted by maximum likelihood (L-BFGS-B with analytic gradients) on
standardised columns, with a tiny ridge on the slopes so that a perfectly
separated flag (every free offer converted) stays finite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import expit, logit

from tools.pricing.features import to_cents

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

BASELINE_COLUMNS = ("intercept", "price", "shipping")
ZERO_AWARE_COLUMNS = ("intercept", "log_price", "is_free", "shipping", "is_free_shipping")
RIDGE = 1e-4  # on standardised slopes: negligible against thousands of offers, finite under separation
SHARE_STARTS = (0.05, 0.3, 0.6)  # the mixture likelihood can have local optima: start from several shares
LOGIT_SHARE_BOUND = 9.0  # keeps pi in [1e-4, 1 - 1e-4], where the gradient still means something
CALIBRATION_BINS = 10
PENNY = 0.01


@dataclass(frozen=True)
class Offers:
    """Offers with their outcome. ``shipping`` is None when no offer says; ``customer``
    numbers customers 0..n-1 (each offer is its own customer when none were given)."""

    price: Floats
    converted: Floats
    shipping: Floats | None
    customer: Ints

    @property
    def customers(self) -> int:
        return int(self.customer.max()) + 1 if len(self.customer) else 0

    @staticmethod
    def from_records(records: Sequence[Mapping[str, Any]]) -> Offers:
        """Offers from JSON records {price, converted, shipping?, customer?}.

        Raises ``ValueError`` when shipping or customer is given for some offers but
        not others, or a price or shipping is negative.
        """
        price = np.array([r["price"] for r in records], dtype=np.float64)
        converted = np.array([1.0 if r["converted"] else 0.0 for r in records])
        with_shipping = sum("shipping" in r for r in records)
        if with_shipping not in (0, len(records)):
            raise ValueError("give shipping for every offer or for none")
        shipping = np.array([r["shipping"] for r in records], dtype=np.float64) if with_shipping else None
        with_customer = sum("customer" in r for r in records)
        if with_customer not in (0, len(records)):
            raise ValueError("give a customer for every offer or for none")
        if with_customer:
            _, customer = np.unique([str(r["customer"]) for r in records], return_inverse=True)
        else:
            customer = np.arange(len(records))
        if (price < 0).any() or (shipping is not None and (shipping < 0).any()):
            raise ValueError("prices and shipping must not be negative")
        return Offers(price, converted, shipping, customer.astype(np.int64))


def columns(price: Floats, shipping: Floats | None) -> dict[str, Floats]:
    """Every candidate column; a model picks its own."""
    found = {
        "intercept": np.ones_like(price),
        "price": price,
        "log_price": np.log1p(price),
        "is_free": (to_cents(price) == 0).astype(np.float64),
    }
    if shipping is not None:
        found["shipping"] = shipping
        found["is_free_shipping"] = (to_cents(shipping) == 0).astype(np.float64)
    return found


@dataclass(frozen=True)
class FittedModel:
    """A fitted model in raw units: P(convert) = (1 - share) * sigmoid(X @ beta)."""

    name: str
    names: tuple[str, ...]
    beta: Floats
    never_convert_share: float
    log_likelihood: float
    converged: bool
    dropped: tuple[str, ...]  # wanted columns that were constant in the data, so not estimable

    def predict(self, price: Floats, shipping: Floats | None) -> Floats:
        found = columns(price, shipping)
        design = np.column_stack([found[n] for n in self.names])
        return (1.0 - self.never_convert_share) * expit(design @ self.beta)

    def coefficients(self) -> dict[str, float]:
        return {n: float(b) for n, b in zip(self.names, self.beta, strict=True)}


def _usable(wanted: Sequence[str], offers: Offers) -> tuple[tuple[str, ...], tuple[str, ...], Floats]:
    """The wanted columns that exist and vary (a constant flag is not estimable beside the intercept)."""
    found = columns(offers.price, offers.shipping)
    names = tuple(n for n in wanted if n in found and (n == "intercept" or np.ptp(found[n]) > 0))
    dropped = tuple(n for n in wanted if n not in names)
    return names, dropped, np.column_stack([found[n] for n in names])


def _standardise(design: Floats) -> tuple[Floats, Floats, Floats]:
    centre = design.mean(axis=0)
    scale = design.std(axis=0)
    centre[0], scale[0] = 0.0, 1.0  # the intercept column stays as it is
    return (design - centre) / scale, centre, scale


def _to_raw(beta_std: Floats, centre: Floats, scale: Floats) -> Floats:
    beta = beta_std / scale
    beta[0] = beta_std[0] - float(np.sum(beta_std[1:] * centre[1:] / scale[1:]))
    return beta


def _bernoulli_loglik(eta: Floats, y: Floats) -> Floats:
    # log sigmoid(eta) and log(1 - sigmoid(eta)) without overflow.
    return -(y * np.logaddexp(0.0, -eta) + (1.0 - y) * np.logaddexp(0.0, eta))


def _logistic_objective(beta: Floats, x: Floats, y: Floats) -> tuple[float, Floats]:
    eta = x @ beta
    penalty = 0.5 * RIDGE * float(beta[1:] @ beta[1:])
    grad = -(x.T @ (y - expit(eta)))
    grad[1:] += RIDGE * beta[1:]
    return -float(_bernoulli_loglik(eta, y).sum()) + penalty, grad


def _mixture_objective(theta: Floats, x: Floats, y: Floats, customer: Ints, all_zero: NDArray[np.bool_]) -> tuple[float, Floats]:
    """Negative log-likelihood of the two-class model, by customer, and its gradient."""
    logit_share, beta = theta[0], theta[1:]
    share = float(expit(logit_share))
    eta = x @ beta
    per_customer = np.bincount(customer, weights=_bernoulli_loglik(eta, y), minlength=len(all_zero))
    convertible = np.log1p(-share) + per_customer
    # A customer with any conversion is convertible for certain; one with none may be either.
    log_l = np.where(all_zero, np.logaddexp(np.log(share), convertible), convertible)
    posterior_convertible = np.exp(convertible - log_l)
    grad = np.empty_like(theta)
    grad[0] = -float(np.sum((1.0 - posterior_convertible) - share))
    grad[1:] = -(x.T @ (posterior_convertible[customer] * (y - expit(eta))))
    grad[2:] += RIDGE * beta[1:]
    return -float(log_l.sum()) + 0.5 * RIDGE * float(beta[1:] @ beta[1:]), grad


def fit_logistic(offers: Offers, wanted: Sequence[str] = BASELINE_COLUMNS, name: str = "baseline") -> FittedModel:
    """Plain logistic regression by maximum likelihood. Raises ``ValueError`` when the
    outcome does not vary (nothing to learn)."""
    _require_both_outcomes(offers)
    names, dropped, design = _usable(wanted, offers)
    x, centre, scale = _standardise(design)
    start = np.zeros(x.shape[1])
    start[0] = float(logit(offers.converted.mean()))
    result = minimize(_logistic_objective, start, args=(x, offers.converted), jac=True, method="L-BFGS-B")
    beta = _to_raw(result.x, centre, scale)
    loglik = float(_bernoulli_loglik(design @ beta, offers.converted).sum())
    return FittedModel(name, names, beta, 0.0, loglik, bool(result.success), dropped)


def fit_mixture(offers: Offers, wanted: Sequence[str] = ZERO_AWARE_COLUMNS) -> FittedModel:
    """The two-class model: a never-convert share and a logistic convertible segment,
    by maximum likelihood from several starting shares (the best likelihood wins).
    Raises ``ValueError`` when the outcome does not vary."""
    _require_both_outcomes(offers)
    names, dropped, design = _usable(wanted, offers)
    x, centre, scale = _standardise(design)
    y = offers.converted
    all_zero = np.bincount(offers.customer, weights=y, minlength=offers.customers) == 0
    plain = minimize(_logistic_objective, np.zeros(x.shape[1]), args=(x, y), jac=True, method="L-BFGS-B").x
    bounds = [(-LOGIT_SHARE_BOUND, LOGIT_SHARE_BOUND)] + [(None, None)] * x.shape[1]
    best = None
    for share in SHARE_STARTS:
        start = np.concatenate([[logit(share)], plain])
        # The convertible segment must convert more than everyone on average.
        start[1] += float(-np.log1p(-share))
        result = minimize(_mixture_objective, start, args=(x, y, offers.customer, all_zero), jac=True,
                          method="L-BFGS-B", bounds=bounds, options={"maxiter": 500})
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    share = float(expit(best.x[0]))
    beta = _to_raw(best.x[1:], centre, scale)
    penalty = 0.5 * RIDGE * float(best.x[2:] @ best.x[2:])
    loglik = -float(best.fun) + penalty
    return FittedModel("zero_aware_mixture", names, beta, share, loglik, bool(best.success), dropped)


def _require_both_outcomes(offers: Offers) -> None:
    if len(offers.converted) == 0 or offers.converted.min() == offers.converted.max():
        raise ValueError("the offers need both converted and unconverted outcomes")


def brier_score(y: Floats, p: Floats) -> float:
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(y: Floats, p: Floats, bins: int = CALIBRATION_BINS) -> float:
    """Equal-width bins over [0, 1]; each bin's |observed rate - mean prediction|, weighted by its share."""
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, weights=y, minlength=bins) - np.bincount(which, weights=p, minlength=bins))
    return float(gap.sum() / max(count.sum(), 1))


def jump(predict: Callable[[Floats, Floats | None], Floats], shipping: Floats | None, size: int) -> float:
    """Average P(convert at 0.00) - P(convert at 0.01), each offer keeping its own shipping."""
    free = predict(np.zeros(size), shipping)
    penny = predict(np.full(size, PENNY), shipping)
    return float(np.mean(free - penny))


def report(model: FittedModel, evaluation: Offers) -> dict[str, Any]:
    """What a caller sees of one fitted model, scored on ``evaluation``."""
    predicted = model.predict(evaluation.price, evaluation.shipping)
    estimable_jump = "is_free" not in model.dropped
    return {
        "coefficients": model.coefficients(),
        "never_convert_share": model.never_convert_share,
        "jump": jump(model.predict, evaluation.shipping, len(evaluation.price)) if estimable_jump else None,
        "brier": brier_score(evaluation.converted, predicted),
        "ece": expected_calibration_error(evaluation.converted, predicted),
        "log_likelihood": model.log_likelihood,
        "converged": model.converged,
        "dropped_columns": list(model.dropped),
    }


def compare(train: Offers, evaluation: Offers | None = None) -> dict[str, Any]:
    """Fit both models on ``train`` and score them on ``evaluation`` (``train`` itself when
    None, which the answer says). Raises ``ValueError`` when the outcome does not vary."""
    scored_on = evaluation if evaluation is not None else train
    baseline = fit_logistic(train)
    mixture = fit_mixture(train)
    return {
        "offers": len(train.price),
        "customers": train.customers,
        "calibration_sample": "held_out" if evaluation is not None else "in_sample",
        "models": {"baseline": report(baseline, scored_on), "zero_aware_mixture": report(mixture, scored_on)},
    }
