"""The frozen backbone: AutoETS chosen by AICc, seasonal-naive as the floor.

Candidates are additive ETS models with the series' weekly season: (A,N,A),
(A,Ad,A) and (A,N,N). Additive models only, because the built-in product and
country series have real zero days, which multiplicative errors or seasons
cannot take, and because their intervals are analytic. Seasonal naive is used
when the history is too short for ETS or no candidate fits.

Everything the rest of the pipeline needs is computed here once, at fit time,
and frozen: the forecast, its 80% interval, and the backbone's forecasts from
earlier origins over the same history ("paths"), which the correction learns
from. The correction never sees the model object, so it cannot refit it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from threadpoolctl import threadpool_limits

Floats = NDArray[np.float64]
INTERVAL_LEVEL = 0.8
Z_80 = 1.2815515655446004
# (error, trend, damped, seasonal): additive only, see the module docstring.
CANDIDATES: tuple[tuple[str, str | None, bool, str | None], ...] = (
    ("add", None, False, "add"),
    ("add", "add", True, "add"),
    ("add", None, False, None),
)


def _frozen(array: Floats) -> Floats:
    array = np.array(array, dtype=np.float64, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Backbone:
    """A fitted backbone's outputs, read-only.

    ``paths[i, j]`` is the forecast made at origin ``path_origins[i]`` (history
    ``y[:origin]``) for day ``origin + j``; NaN past the end of the history.
    """

    method: str
    season_length: int
    history: int
    point: Floats
    lower: Floats
    upper: Floats
    path_origins: NDArray[np.int64]
    paths: Floats
    aicc: float | None = None

    def __post_init__(self) -> None:
        for name in ("point", "lower", "upper", "paths"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        origins = np.array(self.path_origins, dtype=np.int64, copy=True)
        origins.flags.writeable = False
        object.__setattr__(self, "path_origins", origins)


def min_ets_history(season_length: int) -> int:
    """Below this many points the backbone is seasonal naive: ETS would have nearly as many
    parameters (smoothing weights, initial level, trend and season) as observations."""
    return 2 * season_length + 8


def seasonal_naive(history: Floats, season_length: int, horizon: int) -> Floats:
    """The last season repeated."""
    season = min(season_length, len(history))
    last = history[-season:]
    return np.array([last[step % season] for step in range(horizon)], dtype=np.float64)


def mase_scale(history: Floats, season_length: int) -> float:
    """Mean absolute in-sample error of seasonal naive: the MASE denominator (NaN if undefined)."""
    if len(history) <= season_length:
        return math.nan
    return float(np.mean(np.abs(history[season_length:] - history[:-season_length])))


def _naive_paths(values: Floats, season_length: int, origins: Sequence[int], length: int) -> Floats:
    paths = np.full((len(origins), length), np.nan)
    for row, origin in enumerate(origins):
        steps = min(length, len(values) - origin)
        paths[row, :steps] = seasonal_naive(values[:origin], season_length, steps)
    return paths


def _fit_naive(values: Floats, season_length: int, horizon: int, origins: Sequence[int], length: int) -> Backbone:
    point = seasonal_naive(values, season_length, horizon)
    errors = values[season_length:] - values[:-season_length] if len(values) > season_length else np.zeros(1)
    sigma = float(np.sqrt(np.mean(errors**2)))
    # The error of a k-seasons-ahead naive forecast grows like the square root of k.
    seasons_ahead = np.ceil(np.arange(1, horizon + 1) / max(season_length, 1))
    half = Z_80 * sigma * np.sqrt(seasons_ahead)
    return Backbone("seasonal naive", season_length, len(values), point, point - half, point + half,
                    np.asarray(origins, dtype=np.int64), _naive_paths(values, season_length, origins, length))


def _describe(error: str, trend: str | None, damped: bool, seasonal: str | None) -> str:
    trend_code = "N" if trend is None else ("Ad" if damped else "A")
    return f"ETS(A,{trend_code},{'A' if seasonal else 'N'})"


def _fit_candidates(values: Floats, season_length: int) -> list[tuple[float, str, object]]:
    fitted: list[tuple[float, str, object]] = []
    series = pd.Series(values)
    for error, trend, damped, seasonal in CANDIDATES:
        if seasonal is not None and season_length < 2:
            continue
        model = ETSModel(series, error=error, trend=trend, damped_trend=damped, seasonal=seasonal,
                         seasonal_periods=season_length if seasonal else None, initialization_method="estimated")
        try:
            with warnings.catch_warnings():
                # A weak optimum is still a valid candidate; AICc judges it like any other.
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                result = model.fit(disp=False, maxiter=200)
        except (ValueError, np.linalg.LinAlgError):
            continue  # this candidate cannot be fitted here; the others may
        score = float(result.aicc)
        if math.isfinite(score) and np.all(np.isfinite(np.asarray(result.fittedvalues))):
            fitted.append((score, _describe(error, trend, damped, seasonal), result))
    return fitted


def fit_backbone(values: Floats, season_length: int, horizon: int, *, path_origins: Sequence[int] | NDArray[np.int64] = (),
                 path_length: int | None = None, non_negative: bool = False) -> Backbone:
    """Fit the backbone on ``values`` and freeze its outputs.

    ``path_origins`` are earlier origins (counts of observed points, each at least 1)
    whose forecasts of up to ``path_length`` days are kept, from the same fitted model.
    With ``non_negative`` every forecast and bound is floored at 0.
    """
    values = np.asarray(values, dtype=np.float64)
    length = path_length or horizon
    origins = [int(origin) for origin in path_origins]
    if len(values) < min_ets_history(season_length):
        backbone = _fit_naive(values, season_length, horizon, origins, length)
    else:
        # The optimiser works on vectors of a dozen numbers; multi-threaded BLAS only adds
        # contention there (measured: a fit 3-6 times slower on two busy cores). The limit is
        # process-wide while it lasts; other BLAS work at that moment runs single-threaded too.
        with threadpool_limits(limits=1, user_api="blas"):
            candidates = _fit_candidates(values, season_length)
        if not candidates:
            backbone = _fit_naive(values, season_length, horizon, origins, length)
        else:
            aicc, name, result = min(candidates, key=lambda item: item[0])
            backbone = _from_ets(values, season_length, horizon, origins, length, name, aicc, result)
    if non_negative:
        backbone = Backbone(backbone.method, backbone.season_length, backbone.history,
                            np.maximum(backbone.point, 0), np.maximum(backbone.lower, 0),
                            np.maximum(backbone.upper, 0), backbone.path_origins,
                            np.where(np.isnan(backbone.paths), np.nan, np.maximum(backbone.paths, 0)), backbone.aicc)
    return backbone


def _from_ets(values: Floats, season_length: int, horizon: int, origins: Sequence[int], length: int,
              name: str, aicc: float, result: object) -> Backbone:
    n = len(values)
    frame = result.get_prediction(start=n, end=n + horizon - 1).summary_frame(alpha=1 - INTERVAL_LEVEL)  # type: ignore[attr-defined]
    paths = np.full((len(origins), length), np.nan)
    for row, origin in enumerate(origins):
        end = min(origin + length, n) - 1
        if origin < 1 or end < origin:
            continue
        # dynamic=0: every step after the origin uses the model's own forecasts, never y[origin:],
        # so this is the forecast the frozen model makes from that origin.
        predicted = np.asarray(result.predict(start=origin, end=end, dynamic=0), dtype=np.float64)  # type: ignore[attr-defined]
        paths[row, : len(predicted)] = predicted
    return Backbone(name, season_length, n, frame["mean"].to_numpy(), frame["pi_lower"].to_numpy(),
                    frame["pi_upper"].to_numpy(), np.asarray(origins, dtype=np.int64), paths, aicc)
