"""Daily series: the built-in Online Retail series, and series a caller supplies.

The shop's calendar: it never trades on a Saturday, so Saturdays are not in
the built-in series at all and a week is six trading days (Sunday to Friday,
season length 6). Any other day with no sale anywhere in the shop (England's
public holidays, the Christmas closure, Easter Sunday) stays in the series with
its true value, 0, flagged ``closed``: a forecast for such a day is scored
against 0. The backbone is fitted on :meth:`DailySeries.fit_values`, where a
closed day carries the value of one season earlier instead, because a closure
says nothing about demand and a run of zeros would drag the ETS level down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tools.forecasting.errors import InvalidSeries

Floats = NDArray[np.float64]
Dates = NDArray[np.datetime64]
SATURDAY = 5
MAX_POINTS = 5000


def weekday(dates: Dates) -> NDArray[np.int64]:
    """Monday = 0 ... Sunday = 6 (1970-01-01, day 0, was a Thursday)."""
    return (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class DailySeries:
    """A regular daily series on a calendar that may skip some weekdays."""

    series_id: str
    description: str
    dates: Dates
    values: Floats
    closed: NDArray[np.bool_]
    season_length: int
    skip_weekdays: frozenset[int] = frozenset()
    unit: str = ""

    def __post_init__(self) -> None:
        if not (len(self.dates) == len(self.values) == len(self.closed)):
            raise ValueError("dates, values and closed must have one entry per day")
        object.__setattr__(self, "dates", _frozen(self.dates.astype("datetime64[D]")))
        object.__setattr__(self, "values", _frozen(self.values.astype(np.float64)))
        object.__setattr__(self, "closed", _frozen(self.closed.astype(bool)))

    def __len__(self) -> int:
        return len(self.values)

    def fit_values(self) -> Floats:
        """The values the backbone is fitted on: a closed day takes the value one season
        earlier (or the first open value when there is none), so only the past fills it."""
        filled = np.array(self.values, dtype=np.float64)
        open_values = filled[~self.closed]
        first_open = float(open_values[0]) if len(open_values) else 0.0
        for index in np.flatnonzero(self.closed):
            earlier = index - self.season_length
            filled[index] = filled[earlier] if earlier >= 0 else first_open
        return filled

    def next_dates(self, count: int) -> Dates:
        """The ``count`` calendar days after the last one, skipping the weekdays this series never has."""
        out: list[np.datetime64] = []
        day = self.dates[-1]
        while len(out) < count:
            day = day + np.timedelta64(1, "D")
            if int(weekday(np.array([day]))[0]) not in self.skip_weekdays:
                out.append(day)
        return np.array(out, dtype="datetime64[D]")

    def window(self, start: int, stop: int) -> DailySeries:
        """Days ``start`` to ``stop - 1``: e.g. the history known at origin ``stop``."""
        return DailySeries(self.series_id, self.description, self.dates[start:stop], self.values[start:stop],
                           self.closed[start:stop], self.season_length, self.skip_weekdays, self.unit)


def retail_series(lines: pd.DataFrame, *, countries: int = 6, products: int = 10) -> dict[str, DailySeries]:
    """The built-in series from cleaned Online Retail lines (see :mod:`tools.retail.data`).

    ``total_units`` and ``total_revenue`` (GBP); ``country:<name>`` (units) for the
    ``countries`` largest countries by revenue; ``product:<stock code>`` (units) for
    the ``products`` largest products by revenue.
    """
    day = lines["InvoiceDate"].dt.normalize()
    frame = lines.assign(day=day, revenue=lines["Quantity"] * lines["UnitPrice"])
    calendar = pd.date_range(day.min(), day.max(), freq="D")
    calendar = calendar[calendar.day_of_week != SATURDAY]
    units = frame.groupby("day")["Quantity"].sum().reindex(calendar, fill_value=0)
    closed = (units == 0).to_numpy()
    dates = calendar.to_numpy().astype("datetime64[D]")

    def make(series_id: str, description: str, values: pd.Series, unit: str) -> DailySeries:
        daily = values.reindex(calendar, fill_value=0).to_numpy(dtype=np.float64)
        return DailySeries(series_id, description, dates, daily, closed, 6, frozenset({SATURDAY}), unit)

    out = {
        "total_units": make("total_units", "All products, units sold per day", units, "units"),
        "total_revenue": make("total_revenue", "All products, revenue per day",
                              frame.groupby("day")["revenue"].sum(), "GBP"),
    }
    for country in frame.groupby("Country")["revenue"].sum().nlargest(countries).index:
        rows = frame[frame["Country"] == country]
        out[f"country:{country}"] = make(f"country:{country}", f"Units sold per day to customers in {country}",
                                         rows.groupby("day")["Quantity"].sum(), "units")
    top = frame.groupby("StockCode")["revenue"].sum().nlargest(products).index
    for code in top:
        rows = frame[frame["StockCode"] == code]
        name = rows["Description"].mode().iloc[0]
        out[f"product:{code}"] = make(f"product:{code}", f"{name}, units sold per day",
                                      rows.groupby("day")["Quantity"].sum(), "units")
    return out


def _parse_date(value: Any, where: str) -> np.datetime64:
    try:
        return np.datetime64(dt.date.fromisoformat(str(value)), "D")
    except ValueError as exc:
        raise InvalidSeries(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc


def supplied_series(points: Sequence[Any], *, start: str | None, season_length: int | None) -> DailySeries:
    """A caller's series: plain numbers with a ``start`` date, or ``{date, value}`` objects on
    consecutive days. Raises :class:`InvalidSeries` naming the first offending point."""
    if not points:
        raise InvalidSeries("series is empty")
    if len(points) > MAX_POINTS:
        raise InvalidSeries(f"series has {len(points)} points; at most {MAX_POINTS}")
    if all(isinstance(point, int | float) and not isinstance(point, bool) for point in points):
        if start is None:
            raise InvalidSeries("a series of plain numbers needs a start date (start: YYYY-MM-DD)")
        first = _parse_date(start, "start")
        dates = first + np.arange(len(points)).astype("timedelta64[D]")
        values = np.array(points, dtype=np.float64)
    elif all(isinstance(point, Mapping) for point in points):
        dates_list, values_list = [], []
        for index, point in enumerate(points):
            value = point.get("value")
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidSeries(f"series[{index}].value must be a number")
            dates_list.append(_parse_date(point.get("date"), f"series[{index}].date"))
            values_list.append(float(value))
        dates = np.array(dates_list, dtype="datetime64[D]")
        values = np.array(values_list, dtype=np.float64)
        order = np.argsort(dates, kind="stable")
        dates, values = dates[order], values[order]
        gaps = np.flatnonzero(np.diff(dates).astype(np.int64) != 1)
        if len(gaps):
            raise InvalidSeries(f"dates must be consecutive days, without repeats or gaps: {dates[gaps[0]]} is followed by {dates[gaps[0] + 1]}")
    else:
        raise InvalidSeries("series must be all numbers or all {date, value} objects")
    if not np.all(np.isfinite(values)):
        raise InvalidSeries("series values must be finite numbers")
    return DailySeries("supplied", "Series supplied by the caller", dates, values,
                       np.zeros(len(values), dtype=bool), season_length or 7)
