"""The pipeline and the tool on a slice of the real Online Retail data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from tests.tools.forecasting.helpers import context, shared_data_dir
from tools.forecasting.context import holiday_text, known_by
from tools.forecasting.errors import UnknownSeries
from tools.forecasting.evaluation import rolling_origin
from tools.forecasting.series import SATURDAY, weekday
from tools.forecasting.service import RetailData, _load_retail
from tools.forecasting.signals import extract_rules
from tools.forecasting.specs import forecast


@pytest.fixture(scope="module")
def retail() -> RetailData:
    return _load_retail(shared_data_dir().resolve())


def test_the_pipeline_on_a_slice_around_the_august_bank_holiday(retail: RetailData) -> None:
    series = retail.series["total_units"]
    origin = int(np.searchsorted(series.dates, np.datetime64("2011-08-22")))  # history ends Sunday 2011-08-21
    seen: list[dt.date] = []

    def signals_at(at: int) -> list:
        last_day = series.dates[at - 1].item()
        reports = known_by(retail.bestsellers, last_day)
        seen.extend(item.date for item in reports if item.date is not None)
        return extract_rules(holiday_text(series.dates[0].item(), last_day + dt.timedelta(days=14)) + reports).signals

    points = rolling_origin(series, [origin], 12, signals_at)
    assert max(seen) <= dt.date(2011, 8, 21), "only reports published by the origin"
    assert points["backbone_method"].iloc[0].startswith("ETS(")
    assert not np.any(weekday(points["date"].to_numpy().astype("datetime64[D]")) == SATURDAY)
    holiday = points[points["date"] == np.datetime64("2011-08-29")].iloc[0]
    assert holiday["closed"] and holiday["actual"] == 0
    # The holiday text has taught the correction what a bank holiday does to this shop.
    assert holiday["ungated correction"] < 0.2 * holiday["backbone"]
    for method in ("backbone", "backbone + gated correction", "ungated correction"):
        assert np.all(np.isfinite(points[method])) and np.all(points[method] >= 0)
    assert set(points["gate_weight"]) <= {0.0, 0.25, 0.5, 0.75, 1.0}


async def test_the_tool_forecasts_a_built_in_series_with_its_text(retail: RetailData, tmp_path: Path) -> None:
    ctx = context(tmp_path, data_dir=shared_data_dir())
    result = await forecast({"series_id": "product:85123A", "horizon": 14,
                             "context_sources": ["england_holidays", "retail_bestsellers"]}, ctx)
    assert result["series"]["description"].startswith("WHITE HANGING HEART T-LIGHT HOLDER")
    assert [p["date"] for p in result["forecast"]][:2] == ["2011-12-11", "2011-12-12"], "Saturday 2011-12-10 is skipped"
    christmas = next(p for p in result["forecast"] if p["date"] == "2011-12-26")
    kinds = {result["signals"][i]["event_type"] for i in christmas["signals"]}
    assert kinds == {"holiday", "seasonal"}
    for point in result["forecast"]:
        assert point["lower"] <= point["forecast"] <= point["upper"]
        assert point["forecast"] == pytest.approx(point["backbone"] + point["correction"], abs=1e-3)
    plain = await forecast({"series_id": "product:85123A", "horizon": 14}, ctx)
    assert [p["forecast"] for p in plain["forecast"]] == [p["backbone"] for p in result["forecast"]]
    assert plain["correction_share"] == 0.0 and plain["signals"] == []
    with pytest.raises(UnknownSeries, match="available: country:Australia"):
        await forecast({"series_id": "product:NOPE", "horizon": 3}, ctx)
