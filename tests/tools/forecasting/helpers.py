"""Constructed series and a tool context for the forecasting tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from core.settings import Settings
from tools.forecasting.series import DailySeries
from tools.forecasting.signals import Signal
from tools.spec import ToolContext, fixed_token

START = dt.date(2024, 1, 1)
WEEK = np.array([0.6, 1.0, 1.1, 1.05, 1.2, 1.3, 0.75])


def weekly_series(days: int, *, seed: int = 0, level: float = 100.0, noise: float = 4.0) -> DailySeries:
    """A level with a weekly shape and a little noise, on consecutive days from START."""
    rng = np.random.default_rng(seed)
    values = level * WEEK[np.arange(days) % 7] + rng.normal(0, noise, days)
    dates = np.datetime64(START, "D") + np.arange(days).astype("timedelta64[D]")
    return DailySeries("constructed", "constructed", dates, np.maximum(values, 0), np.zeros(days, dtype=bool), 7)


def with_values(series: DailySeries, values: np.ndarray) -> DailySeries:
    return DailySeries(series.series_id, series.description, series.dates, values, series.closed, series.season_length)


def day(index: int) -> dt.date:
    return START + dt.timedelta(days=index)


def signal(index: int, event_type: str = "promotion", direction: str = "up", magnitude: str = "large") -> Signal:
    return Signal(date=day(index), event_type=event_type, direction=direction, magnitude=magnitude)  # type: ignore[arg-type]


def context(tmp_path: Path, settings: Settings | None = None, data_dir: Path | None = None) -> ToolContext:
    return ToolContext(user="alice", agent="ide-assistant", scopes=frozenset({"forecast:read"}), sign=fixed_token("downstream-token"),
                       claims={}, trace_id=None, settings=settings or Settings(home=tmp_path / "home"), data_dir=data_dir)


SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def shared_data_dir() -> Path:
    """The shared data directory; the test is skipped without it, and fails without it in CI."""
    import os

    import pytest

    if not (SHARED_DATA / "online_retail" / "online_retail.csv.gz").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the Online Retail data at {SHARED_DATA}")
        pytest.skip(f"the Online Retail data is not at {SHARED_DATA}")
    return SHARED_DATA
