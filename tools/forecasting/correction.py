"""The correction model (ridge on the backbone's residual) and the gate that decides how much of it to apply.

The gate is what keeps the correction from making things worse: a reference
run found that a calendar-only ridge correction made the ETS backbone 15%
worse, because the target months were never seen in training. So, per block
of horizon steps, the gate replays the correction on past origins (each time
trained only on what was observed before that origin), and picks the share of
the correction, from 0 to 1, that did best there, and only if it beat the
backbone alone by a margin; otherwise the share is 0 and the backbone stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import Ridge

Floats = NDArray[np.float64]
GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
MIN_TRAINING_ROWS = 30


@dataclass(frozen=True)
class Correction:
    """A ridge model on standardised columns; columns constant in training are left out
    (nothing can be learned about them, so they have no effect)."""

    model: Ridge
    keep: NDArray[np.bool_]
    mean: Floats
    std: Floats

    def predict(self, x: Floats) -> Floats:
        """The predicted residual, in the units the model was trained in."""
        z = (x[:, self.keep] - self.mean) / self.std
        return np.asarray(self.model.predict(z), dtype=np.float64)


def supported(x: Floats, target_days: NDArray[np.int64], *, min_days: int) -> NDArray[np.bool_]:
    """Columns that vary and are non-zero on at least ``min_days`` distinct target days: a signal
    seen on two or three days would otherwise get a confident coefficient from a handful of rows."""
    if len(x) == 0:
        return np.zeros(x.shape[1], dtype=bool)
    keep = x.std(axis=0) > 1e-9
    for column in np.flatnonzero(keep):
        keep[column] = len(np.unique(target_days[x[:, column] != 0])) >= min_days
    return keep


def fit_correction(x: Floats, residual: Floats, keep: NDArray[np.bool_], *, alpha: float = 1.0) -> Correction | None:
    """Fit the correction on the ``keep`` columns; ``None`` when there is too little to learn from."""
    if len(x) < MIN_TRAINING_ROWS or not keep.any():
        return None
    mean = x[:, keep].mean(axis=0)
    std = x[:, keep].std(axis=0)
    model = Ridge(alpha=alpha).fit((x[:, keep] - mean) / std, residual)
    return Correction(model, keep.copy(), mean, std)


@dataclass(frozen=True)
class GateBucket:
    first_step: int
    last_step: int
    weight: float
    past_origins: int
    points: int
    mae_backbone: float | None
    mae_gated: float | None
    reason: str


@dataclass(frozen=True)
class Gate:
    weights: Floats
    buckets: tuple[GateBucket, ...]

    @staticmethod
    def closed(horizon: int, reason: str) -> Gate:
        """A gate that applies nothing."""
        return Gate(np.zeros(horizon), (GateBucket(1, horizon, 0.0, 0, 0, None, None, reason),))


def blend(base: Floats, delta: Floats, weight: Floats | float, *, non_negative: bool) -> Floats:
    """The backbone plus ``weight`` of the correction, floored at 0 for series that cannot go negative."""
    out = base + weight * delta
    return np.maximum(out, 0.0) if non_negative else out


def learn_gate(steps: NDArray[np.int64], origins: NDArray[np.int64], base: Floats, delta: Floats, actual: Floats,
               *, horizon: int, bucket: int, non_negative: bool, margin: float = 0.02,
               min_origins: int = 4) -> Gate:
    """Per block of ``bucket`` horizon steps, the share of the correction that did best on past
    origins. Each row is one past forecast: its step (1-based), its origin, the backbone's value,
    the correction a model trained before that origin proposed, and what happened."""
    weights = np.zeros(horizon)
    buckets = []
    for first in range(1, horizon + 1, bucket):
        last = min(first + bucket - 1, horizon)
        rows = (steps >= first) & (steps <= last)
        seen = len(np.unique(origins[rows]))
        if seen < min_origins:
            buckets.append(GateBucket(first, last, 0.0, seen, int(rows.sum()), None, None,
                                      f"only {seen} past origins reach these steps (need {min_origins})"))
            continue
        errors = [float(np.mean(np.abs(actual[rows] - blend(base[rows], delta[rows], w, non_negative=non_negative))))
                  for w in GRID]
        best = int(np.argmin(errors))
        # The correction must beat the backbone by a margin on past origins, else it is not applied.
        if best > 0 and errors[best] <= (1.0 - margin) * errors[0]:
            weight, reason = GRID[best], f"{GRID[best]:.2f} of the correction did best on past origins"
        else:
            weight, reason = 0.0, "the correction did not beat the backbone on past origins"
        weights[first - 1:last] = weight
        buckets.append(GateBucket(first, last, weight, seen, int(rows.sum()), errors[0],
                                  errors[GRID.index(weight)], reason))
    return Gate(weights, tuple(buckets))
