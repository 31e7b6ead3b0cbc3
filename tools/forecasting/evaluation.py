"""Rolling-origin evaluation, MAE and MASE. Pure: series and signals in, scored points out.

At each origin the history is what was known then (optionally only its last
``history`` days), the backbone is fitted on it, the signals are those the
caller says were knowable then, and the forecast is scored against what
happened. MASE divides each error by the in-sample MAE of seasonal naive on
that origin's history, so series of different sizes can be averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from tools.forecasting.backbone import mase_scale, seasonal_naive
from tools.forecasting.pipeline import DEFAULT_CONFIG, PipelineConfig, correct, prepare
from tools.forecasting.series import DailySeries
from tools.forecasting.signals import Signal

METHODS = ("seasonal naive", "backbone", "backbone + gated correction", "ungated correction", "gated, no text features")


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))))


def score_origin(series: DailySeries, origin: int, horizon: int, signals: Sequence[Signal], *,
                 history: int | None = None, config: PipelineConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Every method's forecast from one origin, one row per observed target day."""
    start = max(0, origin - history) if history else 0
    known = series.window(start, origin)
    prepared = prepare(known, horizon, config=config)
    with_text = correct(prepared, signals, config=config)
    without_text = correct(prepared, signals, use_text=False, config=config)
    steps = min(horizon, len(series) - origin)
    if not np.array_equal(prepared.future_dates[:steps], series.dates[origin:origin + steps]):
        raise ValueError("the forecast dates do not line up with the series' own calendar")
    fit_values = known.fit_values()
    naive = seasonal_naive(fit_values, known.season_length, steps)
    forecasts = {
        "seasonal naive": np.maximum(naive, 0) if prepared.non_negative else naive,
        "backbone": prepared.backbone.point[:steps],
        "backbone + gated correction": with_text.corrected[:steps],
        "ungated correction": with_text.ungated()[:steps],
        "gated, no text features": without_text.corrected[:steps],
    }
    return pd.DataFrame({
        "series": series.series_id,
        "history": len(known),
        "origin": series.dates[origin - 1],
        "step": np.arange(1, steps + 1),
        "date": series.dates[origin:origin + steps],
        "closed": series.closed[origin:origin + steps],
        "actual": series.values[origin:origin + steps],
        "scale": mase_scale(known.values, known.season_length),
        "level": float(np.mean(np.abs(known.values))) or 1.0,
        "gate_weight": with_text.gate.weights[:steps],
        "backbone_method": prepared.backbone.method,
        **forecasts,
    })


def rolling_origin(series: DailySeries, origins: Sequence[int], horizon: int,
                   signals_at: Callable[[int], Sequence[Signal]], *, history: int | None = None,
                   config: PipelineConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Score every origin; ``signals_at(origin)`` gives the signals knowable at that origin."""
    frames = [score_origin(series, origin, horizon, signals_at(origin), history=history, config=config)
              for origin in origins]
    return pd.concat(frames, ignore_index=True)


def summarise(points: pd.DataFrame, methods: Sequence[str] = METHODS) -> dict[str, dict[str, float]]:
    """Per method: MASE (mean of |error| / seasonal-naive scale) and MAE as a share of the series'
    mean level (so series in units and in pounds can be averaged), over the given points."""
    usable = points[np.isfinite(points["scale"]) & (points["scale"] > 0)]
    out = {}
    for method in methods:
        error = (usable["actual"] - usable[method]).abs()
        out[method] = {
            "mase": float((error / usable["scale"]).mean()),
            "mae_pct_level": float((error / usable["level"]).mean() * 100),
        }
    return out


def per_series(points: pd.DataFrame, methods: Sequence[str] = METHODS) -> pd.DataFrame:
    """MAE (in the series' own unit) and MASE per series and method."""
    rows = []
    for series_id, group in points.groupby("series", sort=False):
        row: dict[str, object] = {"series": series_id, "points": len(group),
                                  "mean gate weight": float(group["gate_weight"].mean())}
        for method in methods:
            error = (group["actual"] - group[method]).abs()
            row[f"MAE {method}"] = float(error.mean())
            row[f"MASE {method}"] = float((error / group["scale"]).mean())
        rows.append(row)
    return pd.DataFrame(rows)
