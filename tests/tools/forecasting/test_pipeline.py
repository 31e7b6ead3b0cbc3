"""The pipeline on constructed series: the frozen backbone, the no-text identity, the gate, no leakage."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools.forecasting.helpers import signal, weekly_series, with_values
from tools.forecasting.backbone import fit_backbone, seasonal_naive
from tools.forecasting.correction import learn_gate
from tools.forecasting.errors import InvalidSeries
from tools.forecasting.evaluation import score_origin
from tools.forecasting.features import signal_matrix
from tools.forecasting.pipeline import correct, prepare, run
from tools.forecasting.series import DailySeries
from tools.forecasting.signals import Signal

HORIZON = 14


def closures_series() -> tuple[DailySeries, list[Signal]]:
    """A shop that closes every ninth day, and a holiday signal for each closure: a correction
    that should help, and does, on past origins."""
    series = weekly_series(200, seed=2)
    values = np.array(series.values)
    holidays = list(range(10, 200 + HORIZON, 9))
    values[[day for day in holidays if day < 200]] = 0.0
    return with_values(series, values), [signal(day, "holiday", "down") for day in holidays]


def test_the_backbone_is_unchanged_by_the_correction() -> None:
    series, signals = closures_series()
    prepared = prepare(series, HORIZON)
    before = {name: np.array(getattr(prepared.backbone, name)) for name in ("point", "lower", "upper", "paths")}
    forecast = correct(prepared, signals)
    assert np.any(forecast.applied != 0), "the correction must have done something for this test to mean anything"
    for name, values in before.items():
        assert np.array_equal(getattr(forecast.backbone, name), values, equal_nan=True), name
        with pytest.raises(ValueError, match="read-only"):
            getattr(forecast.backbone, name)[0] = 1.0
    refitted = prepare(series, HORIZON).backbone
    assert np.array_equal(refitted.point, forecast.backbone.point)
    assert refitted.method == forecast.backbone.method


def test_no_text_returns_the_backbones_forecast_exactly() -> None:
    series = weekly_series(120, seed=3)
    forecast = run(series, HORIZON, [])
    backbone = fit_backbone(series.fit_values(), 7, HORIZON, non_negative=True)
    assert np.array_equal(forecast.corrected, backbone.point)
    assert np.array_equal(forecast.lower, backbone.lower) and np.array_equal(forecast.upper, backbone.upper)
    assert not forecast.applied.any() and forecast.correction_share == 0.0
    assert forecast.notes == ("no signals: the backbone's forecast is returned unchanged",)


def test_the_gate_shuts_a_correction_that_hurt_on_past_origins() -> None:
    # Promotions lifted sales by 60 early on, then stopped working: the correction learns a lift
    # the recent past no longer shows, and the gate, replaying it on recent origins, shuts it.
    series = weekly_series(200, seed=1)
    values = np.array(series.values)
    early, recent = list(range(20, 110, 6)), list(range(145, 200, 4))
    values[early] += 60
    series = with_values(series, values)
    upcoming = [200 + step for step in range(0, HORIZON, 3)]
    forecast = correct(prepare(series, HORIZON), [signal(day) for day in early + recent + upcoming])
    assert np.max(np.abs(forecast.proposed)) > 10, "the ungated correction would move the forecast"
    assert not forecast.gate.weights.any()
    assert np.array_equal(forecast.corrected, forecast.backbone.point)
    assert all("did not beat the backbone" in bucket.reason for bucket in forecast.gate.buckets)


def test_the_gate_applies_a_correction_that_helped_on_past_origins() -> None:
    series, signals = closures_series()
    forecast = run(series, HORIZON, signals)
    closed_step = next(step for step, day in enumerate(range(200, 200 + HORIZON)) if (day - 10) % 9 == 0)
    assert forecast.gate.weights[closed_step] > 0
    assert forecast.corrected[closed_step] < 0.1 * forecast.backbone.point[closed_step]


def test_learn_gate_picks_the_share_that_did_best_and_nothing_that_did_worse() -> None:
    rng = np.random.default_rng(0)
    rows = 240
    steps, origins = np.tile(np.arange(1, 7), rows // 6), np.repeat(np.arange(rows // 6), 6)
    base, actual = np.full(rows, 100.0), 100.0 + rng.normal(0, 5, rows)
    harmful = learn_gate(steps, origins, base, rng.normal(0, 20, rows), actual, horizon=6, bucket=6, non_negative=True)
    assert not harmful.weights.any()
    truth_gap = actual - base
    helpful = learn_gate(steps, origins, base, truth_gap, actual, horizon=6, bucket=6, non_negative=True)
    assert np.all(helpful.weights == 1.0)
    few = learn_gate(steps[:18], origins[:18], base[:18], truth_gap[:18], actual[:18], horizon=6, bucket=6, non_negative=True)
    assert not few.weights.any() and "only 3 past origins" in few.buckets[0].reason


def test_nothing_after_the_origin_reaches_its_forecast() -> None:
    series, signals = closures_series()
    changed = np.array(series.values)
    changed[160:] *= 3.0
    origin = 150
    first = score_origin(series, origin, HORIZON, signals)
    second = score_origin(with_values(series, changed), origin, HORIZON, signals)
    for method in ("backbone", "backbone + gated correction", "ungated correction"):
        assert np.array_equal(first[method].to_numpy(), second[method].to_numpy()), method


def test_a_report_counts_only_for_forecasts_made_after_it_was_known() -> None:
    report = Signal(date=signal(10).date, event_type="seasonal", direction="up", magnitude="medium", lag_days=20,
                    known_from=signal(10).date)
    targets = np.array([signal(12).date, signal(12).date], dtype="datetime64[D]")
    origins = np.array([signal(9).date, signal(11).date], dtype="datetime64[D]")
    assert signal_matrix([report], targets, origins)[:, 2].tolist() == [0.0, 2.0]


def test_short_series_fall_back_to_seasonal_naive_and_too_short_ones_are_refused() -> None:
    series = weekly_series(20, seed=4)
    forecast = run(series, 7, [])
    assert forecast.backbone.method == "seasonal naive"
    assert np.allclose(forecast.corrected, seasonal_naive(series.values, 7, 7))
    with pytest.raises(InvalidSeries, match="at least 16"):
        run(weekly_series(10), 7, [])
