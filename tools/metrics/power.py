"""Detection power of one true effect among many metrics, under Bonferroni and
Benjamini-Hochberg (BH), exactly and by simulation.

The setting: ``m`` metrics are tested two-sided at family level ``alpha``;
one of them carries a true effect whose z-statistic is ``N(effect_z, 1)``,
the other ``m - 1`` are independent nulls (uniform p-values). Power is the
probability that the true one is declared significant.

- Bonferroni: it is significant when ``p <= alpha / m``: a closed form.
- BH: by the lemma behind BH's FDR proof, hypothesis ``i`` is rejected exactly
  when ``p_i <= alpha * R_i / m``, where ``R_i`` is the number of rejections
  BH makes with ``p_i`` set to 0; ``R_i - 1`` is the number of rejections of
  a step-up procedure with critical values ``alpha (j + 1) / m`` on the
  ``m - 1`` nulls alone. Its distribution is computed exactly (below), so
  ``power = sum_k P(R_i = k + 1) P(p_i <= alpha (k + 1) / m)``.
- Simulation draws the same setting with a fixed seed and runs the real
  procedures, as an independent check of both formulas.

The independence of the nulls is an assumption: correlated metrics (which
pruning removes) make BH's and Bonferroni's behaviour differ from this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import comb, gammaln
from scipy.stats import norm

Correction = Literal["bonferroni", "bh"]
CORRECTIONS: tuple[Correction, ...] = ("bonferroni", "bh")
MAX_NEW_POINTS = 24  # per step of the exact recursion; each step's share is below alpha / m, so more is < 1e-25
SIMULATION_BATCH = 1_000_000  # p-values held at once while simulating


@dataclass(frozen=True)
class Simulated:
    power: float
    standard_error: float
    simulations: int


def _check(m: int, effect_z: float, alpha: float) -> None:
    if m < 1:
        raise ValueError("there must be at least one metric")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    if not np.isfinite(effect_z):
        raise ValueError("effect_z must be finite")


def detection_probability(effect_z: float, level: float | NDArray[np.float64]) -> NDArray[np.float64]:
    """P(two-sided p <= level) when the z-statistic is N(effect_z, 1)."""
    critical = norm.isf(np.asarray(level, dtype=np.float64) / 2.0)
    return np.asarray(norm.sf(critical - effect_z) + norm.cdf(-critical - effect_z))


def power_bonferroni(m: int, effect_z: float, alpha: float = 0.05) -> float:
    """Exact power under Bonferroni. Raises ``ValueError`` for m < 1 or alpha outside (0, 1)."""
    _check(m, effect_z, alpha)
    return float(detection_probability(effect_z, alpha / m))


def null_stepup_rejections(m: int, alpha: float) -> NDArray[np.float64]:
    """P(K = k), k = 0..m-1: rejections of the step-up procedure with critical values
    ``c_j = alpha (j + 1) / m`` on ``n = m - 1`` independent uniform nulls.

    K = k exactly when the k smallest nulls lie below ``c_k`` and the other
    ``n - k`` satisfy ``q_(i) > c_(k+i)``. Mirrored (u = 1 - q), the latter is
    ``F_(n-k) = P(u_(l) < d_l, l = 1..n-k)`` with ``d_l = 1 - c_(n+1-l)``,
    one sequence for every k, so one forward pass gives all of them. The pass
    tracks ``s! * H_l(s)`` (how s points can fill [0, d_l] with at least i
    below each d_i), which stays within [0, 1] for any n, so nothing overflows.
    """
    n = m - 1
    probabilities = np.zeros(n + 1)
    if n == 0:
        probabilities[0] = 1.0
        return probabilities
    critical = alpha * (np.arange(1, n + 1) + 1) / m  # c_1..c_n
    bounds = 1.0 - critical[::-1]  # d_1..d_n, increasing
    s = np.arange(n + 1)
    steps = np.arange(MAX_NEW_POINTS + 1)
    binomials = comb(s[None, :], steps[:, None])  # C(s, t)
    scaled = np.where(s >= 1, bounds[0] ** s, 0.0)  # l = 1: all points so far fall in [0, d_1]
    survive = np.zeros(n + 1)  # F_0..F_n
    survive[0] = 1.0
    survive[1] = scaled[1]
    for level in range(2, n + 1):
        width = bounds[level - 1] - bounds[level - 2]
        new = np.zeros(n + 1)
        for t in steps[: min(MAX_NEW_POINTS, n) + 1]:
            new[t:] += binomials[t, t:] * width ** t * scaled[: n + 1 - t]
        new[:level] = 0.0
        scaled = new
        survive[level] = scaled[level]
    k = np.arange(n + 1)
    with np.errstate(divide="ignore"):
        log_terms = (gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
                     + k * np.log(np.concatenate([[1.0], critical]))[k] + np.log(survive[n - k]))
    probabilities = np.exp(log_terms)
    return probabilities


def power_bh(m: int, effect_z: float, alpha: float = 0.05) -> float:
    """Exact power under Benjamini-Hochberg (independent nulls). Raises ``ValueError``
    for m < 1 or alpha outside (0, 1)."""
    _check(m, effect_z, alpha)
    others = null_stepup_rejections(m, alpha)
    levels = alpha * (np.arange(len(others)) + 1) / m
    return float(np.sum(others * detection_probability(effect_z, levels)))


def power(m: int, effect_z: float, alpha: float, correction: Correction) -> float:
    """Exact power under ``correction``. Raises ``ValueError`` as the functions above."""
    return power_bonferroni(m, effect_z, alpha) if correction == "bonferroni" else power_bh(m, effect_z, alpha)


def _bh_rejects_first(p: NDArray[np.float64], alpha: float) -> NDArray[np.bool_]:
    """Run BH on each row; is column 0 (the true effect) rejected?"""
    m = p.shape[1]
    ordered = np.sort(p, axis=1)
    ranks = np.arange(1, m + 1)
    rejections = np.where(ordered <= alpha * ranks / m, ranks, 0).max(axis=1)
    return np.asarray(p[:, 0] <= alpha * rejections / m)


def simulate(m: int, effect_z: float, alpha: float, simulations: int, seed: int) -> dict[Correction, Simulated]:
    """Simulated power under both corrections from the same draws. Raises ``ValueError``
    for m < 1, alpha outside (0, 1) or fewer than 1 simulation."""
    _check(m, effect_z, alpha)
    if simulations < 1:
        raise ValueError("simulate at least once")
    rng = np.random.default_rng(seed)
    hits = {"bonferroni": 0, "bh": 0}
    batch = max(1, SIMULATION_BATCH // m)
    for start in range(0, simulations, batch):
        size = min(batch, simulations - start)
        p_true = 2.0 * norm.sf(np.abs(rng.normal(effect_z, 1.0, size)))
        p = np.column_stack([p_true, rng.random((size, m - 1))])
        hits["bonferroni"] += int(np.sum(p_true <= alpha / m))
        hits["bh"] += int(np.sum(_bh_rejects_first(p, alpha)))
    result: dict[Correction, Simulated] = {}
    for correction in CORRECTIONS:
        estimate = hits[correction] / simulations
        result[correction] = Simulated(estimate, float(np.sqrt(estimate * (1 - estimate) / simulations)), simulations)
    return result


def relative_gain(before: float, after: float) -> float | None:
    """after / before - 1, or None when there was no power to gain on."""
    return after / before - 1.0 if before > 0 else None
