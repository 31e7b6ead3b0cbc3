"""The feature matrix: signals per target day, as known at each forecast origin.

Per event type one column: the strongest signal of that type in effect on the
day (magnitude 1-3, signed by direction; an "up" and a "down" of the same type
add). The strongest rather than the sum, so that weekly reports whose windows
overlap do not stack up into sizes never seen in training. A signal counts for
a forecast only if it was known on the origin's day.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from tools.forecasting.signals import EVENT_TYPES, Signal

Floats = NDArray[np.float64]
Days = NDArray[np.datetime64]


def signal_matrix(signals: Sequence[Signal], targets: Days, origins: Days | None = None) -> Floats:
    """One row per target day, one column per event type.

    ``origins[i]`` is the last observed day when the forecast for ``targets[i]`` was
    made; ``None`` means now, when every signal given is known.
    """
    targets = np.asarray(targets, dtype="datetime64[D]")
    up = np.zeros((len(targets), len(EVENT_TYPES)))
    down = np.zeros_like(up)
    for signal in signals:
        column = EVENT_TYPES.index(signal.event_type)
        start = np.datetime64(signal.date, "D") - np.timedelta64(signal.lead_days, "D")
        end = np.datetime64(signal.date, "D") + np.timedelta64(signal.lag_days, "D")
        active = (targets >= start) & (targets <= end)
        if origins is not None and signal.known_from is not None:
            active &= np.asarray(origins, dtype="datetime64[D]") >= np.datetime64(signal.known_from, "D")
        size = signal.signed_size
        if size > 0:
            up[active, column] = np.maximum(up[active, column], size)
        else:
            down[active, column] = np.minimum(down[active, column], size)
    return up + down


def design(signal_x: Floats, base_scaled: Floats, *, use_text: bool = True) -> Floats:
    """The correction's inputs: the backbone's forecast (scaled) and, with text, each signal
    column alone and times the forecast (a closure removes a share of the day, not a constant)."""
    base = base_scaled.reshape(-1, 1)
    if not use_text:
        return base
    return np.hstack([base, signal_x, signal_x * base])


def active_signals(signals: Sequence[Signal], day: np.datetime64) -> list[int]:
    """Indices of the signals in effect on ``day``."""
    as_date = day.astype("datetime64[D]").item()
    return [index for index, signal in enumerate(signals) if signal.active_on(as_date)]
