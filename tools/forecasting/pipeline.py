"""One forecast: the frozen backbone, then the gated correction from signals. Pure.

:func:`prepare` fits the backbone on the history known at the origin and lays
out its past forecasts (every earlier origin, every step that has since been
observed) as training rows. :func:`correct` turns signals into features on
those rows, learns the correction and the gate, and applies them to the
backbone's forecast. With no signals, :func:`correct` returns the backbone's
forecast itself, untouched. Nothing after the origin is ever read: training
rows are days observed by then, and a signal counts for a past forecast only if
it was known on that forecast's origin day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tools.forecasting.backbone import Backbone, fit_backbone
from tools.forecasting.correction import Gate, blend, fit_correction, learn_gate, supported
from tools.forecasting.errors import InvalidSeries
from tools.forecasting.features import design, signal_matrix
from tools.forecasting.series import DailySeries
from tools.forecasting.signals import EVENT_TYPES, Signal

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class PipelineConfig:
    ridge_alpha: float = 1.0
    # Past origins whose backbone forecasts become training rows (the most recent ones).
    max_path_origins: int = 250
    # The gate replays the correction at every ``gate_every``-th of the last ``gate_window`` origins.
    gate_window: int = 60
    gate_every: int = 2
    gate_margin: float = 0.02
    gate_min_origins: int = 4
    # A signal column is used only once it has been in effect on this many observed days.
    min_signal_days: int = 5
    # Residuals are learned relative to the mean level of this many recent days.
    scale_window: int = 60


DEFAULT_CONFIG = PipelineConfig()


@dataclass(frozen=True, eq=False)
class Rows:
    """One training row per (past origin, step) whose target has been observed."""

    origin: Ints
    step: Ints
    target: Ints
    base: Floats

    def subset(self, mask: NDArray[np.bool_]) -> Rows:
        return Rows(self.origin[mask], self.step[mask], self.target[mask], self.base[mask])


@dataclass(frozen=True, eq=False)
class Prepared:
    series: DailySeries
    actual: Floats
    future_dates: NDArray[np.datetime64]
    backbone: Backbone
    non_negative: bool
    scale: float
    rows: Rows

    @property
    def horizon(self) -> int:
        return len(self.future_dates)


@dataclass(frozen=True, eq=False)
class Forecast:
    prepared: Prepared
    corrected: Floats
    lower: Floats
    upper: Floats
    applied: Floats  # corrected - backbone
    proposed: Floats  # the whole correction, before the gate
    gate: Gate
    signals: tuple[Signal, ...]
    training_rows: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def backbone(self) -> Backbone:
        return self.prepared.backbone

    @property
    def correction_share(self) -> float:
        """Size of the applied correction relative to the backbone's forecast: sum|applied| / sum|backbone|."""
        total = float(np.sum(np.abs(self.backbone.point)))
        return float(np.sum(np.abs(self.applied)) / total) if total > 0 else 0.0

    def ungated(self) -> Floats:
        """The backbone plus the whole correction: what applying it without a gate would give."""
        return blend(self.backbone.point, self.proposed, 1.0, non_negative=self.prepared.non_negative)


def min_history(season_length: int) -> int:
    return 2 * season_length + 2


def prepare(series: DailySeries, horizon: int, *, config: PipelineConfig = DEFAULT_CONFIG) -> Prepared:
    """Fit the backbone on all of ``series`` (the history known at the origin).
    Raises :class:`InvalidSeries` when the history is too short."""
    m = series.season_length
    if len(series) < min_history(m):
        raise InvalidSeries(f"the series has {len(series)} days; at least {min_history(m)} are needed "
                            f"(two seasons of {m} days and two more)")
    actual = np.asarray(series.values, dtype=np.float64)
    fit_values = series.fit_values()
    n = len(actual)
    non_negative = bool(np.all(actual >= 0))
    first_origin = max(m + 1, n - config.max_path_origins)
    origins = np.arange(first_origin, n, dtype=np.int64)
    backbone = fit_backbone(fit_values, m, horizon, path_origins=origins, path_length=horizon,
                            non_negative=non_negative)
    row_index, step_index = np.nonzero(np.isfinite(backbone.paths))
    row_origin = origins[row_index]
    recent = np.abs(fit_values[-config.scale_window:])
    scale = float(recent.mean()) if recent.mean() > 0 else 1.0
    rows = Rows(row_origin, step_index + 1, row_origin + step_index, backbone.paths[row_index, step_index])
    return Prepared(series, actual, series.next_dates(horizon), backbone, non_negative, scale, rows)


def _unchanged(prepared: Prepared, signals: Sequence[Signal], gate: Gate, notes: list[str], rows: int = 0) -> Forecast:
    backbone = prepared.backbone
    zeros = np.zeros(prepared.horizon)
    return Forecast(prepared, backbone.point, backbone.lower, backbone.upper, zeros, zeros, gate,
                    tuple(signals), rows, tuple(notes))


def correct(prepared: Prepared, signals: Sequence[Signal], *, use_text: bool = True,
            config: PipelineConfig = DEFAULT_CONFIG) -> Forecast:
    """Apply the gated correction learned from ``signals``; the backbone's own forecast when there
    are none. ``use_text=False`` learns from the backbone's forecast alone (an ablation)."""
    horizon, notes = prepared.horizon, []
    if use_text and not signals:
        return _unchanged(prepared, signals, Gate.closed(horizon, "no signals"), ["no signals: the backbone's forecast is returned unchanged"])
    dates, rows = prepared.series.dates, prepared.rows
    signal_x = signal_matrix(signals, dates[rows.target], dates[rows.origin - 1])
    # A day the whole shop was shut that no holiday or closure signal explains is left out: its
    # residual is the closure, and would be charged to whatever signal happened to be in effect
    # (in December 2010, Christmas best-sellers ran into the Christmas closure).
    usable = ~prepared.series.closed[rows.target] | (signal_x[:, EVENT_TYPES.index("holiday")] < 0)
    rows, signal_x = rows.subset(usable), signal_x[usable]
    future_x = signal_matrix(signals, prepared.future_dates)
    scale = prepared.scale
    x = design(signal_x, rows.base / scale, use_text=use_text)
    residual = (prepared.actual[rows.target] - rows.base) / scale
    keep = supported(x, rows.target, min_days=config.min_signal_days)
    if use_text:
        signal_columns = keep[1:1 + len(EVENT_TYPES)]
        unsupported = [name for k, name in enumerate(EVENT_TYPES) if future_x[:, k].any() and not signal_columns[k]]
        if unsupported:
            notes.append(f"{', '.join(unsupported)} signals were in effect on fewer than {config.min_signal_days} "
                         "observed days: no effect is learned for them")
        if not signal_columns.any():
            return _unchanged(prepared, signals, Gate.closed(horizon, "no signal with enough precedent in the history"),
                              [*notes, "no signal type was in effect on enough observed days to learn from: "
                                       "the backbone's forecast is returned unchanged"])
    gate = _replay_gate(prepared, rows, x, residual, keep, config)
    model = fit_correction(x, residual, keep, alpha=config.ridge_alpha)
    if model is None:
        return _unchanged(prepared, signals, Gate.closed(horizon, "too few observed days to learn a correction"),
                          [*notes, "too few observed days to learn a correction"], len(x))
    point = prepared.backbone.point
    proposed = model.predict(design(future_x, point / scale, use_text=use_text)) * scale
    corrected = blend(point, proposed, gate.weights, non_negative=prepared.non_negative)
    applied = corrected - point
    # The interval is the backbone's 80% interval moved with the applied correction.
    lower = blend(prepared.backbone.lower, applied, 1.0, non_negative=prepared.non_negative)
    upper = blend(prepared.backbone.upper, applied, 1.0, non_negative=prepared.non_negative)
    return Forecast(prepared, corrected, lower, upper, applied, proposed, gate, tuple(signals), len(x), tuple(notes))


def _replay_gate(prepared: Prepared, rows: Rows, x: Floats, residual: Floats, keep: NDArray[np.bool_],
                 config: PipelineConfig) -> Gate:
    """Replay the correction at recent past origins, each trained only on days observed before it.
    Only replays whose model had the same inputs as the one to be applied count: a correction
    must have been seen to work with a signal before it is applied with it."""
    n = len(prepared.actual)
    steps, origins, base, proposed, actual = [], [], [], [], []
    for origin in range(n - 1, max(n - 1 - config.gate_window, 0), -config.gate_every):
        train = rows.target < origin
        replay = rows.origin == origin
        if not replay.any():
            continue
        if not np.array_equal(supported(x[train], rows.target[train], min_days=config.min_signal_days), keep):
            continue
        model = fit_correction(x[train], residual[train], keep, alpha=config.ridge_alpha)
        if model is None:
            continue
        steps.append(rows.step[replay])
        origins.append(rows.origin[replay])
        base.append(rows.base[replay])
        proposed.append(model.predict(x[replay]) * prepared.scale)
        actual.append(prepared.actual[rows.target[replay]])
    horizon = prepared.horizon
    if not steps:
        return Gate.closed(horizon, "no past origin to replay the correction on")
    return learn_gate(np.concatenate(steps), np.concatenate(origins), np.concatenate(base), np.concatenate(proposed),
                      np.concatenate(actual), horizon=horizon, bucket=prepared.series.season_length,
                      non_negative=prepared.non_negative, margin=config.gate_margin,
                      min_origins=config.gate_min_origins)


def run(series: DailySeries, horizon: int, signals: Sequence[Signal], *,
        config: PipelineConfig = DEFAULT_CONFIG) -> Forecast:
    """Backbone and gated correction for ``horizon`` days after the end of ``series``."""
    return correct(prepare(series, horizon, config=config), signals, config=config)
