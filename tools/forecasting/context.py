"""Real context text for the built-in series: England's public holidays, and the retailer's
own best-selling product lines week by week. Pure: the caller passes the cleaned lines.

Neither is written from the answers. Holidays come from the maintained
``holidays`` library and are known years ahead. A week's best-selling lines are
the retailer's product descriptions, dated on the week's last day: a forecast
made at an origin may use only the reports dated on or before it.
"""

from __future__ import annotations

import datetime as dt

import holidays
import pandas as pd

from tools.forecasting.signals import TextItem

BESTSELLERS_PER_WEEK = 30


def holiday_text(start: dt.date, end: dt.date) -> list[TextItem]:
    """England's public holidays from ``start`` to ``end``, one item each."""
    calendar = holidays.UK(subdiv="ENG", years=range(start.year, end.year + 1))
    return [TextItem(day, f"{name} (public holiday in England)")
            for day, name in sorted(calendar.items()) if start <= day <= end]


def bestseller_text(lines: pd.DataFrame, *, top: int = BESTSELLERS_PER_WEEK) -> list[TextItem]:
    """For each trading week (Saturday to Friday), the descriptions of its ``top`` lines by units,
    dated on the week's last trading day."""
    day = lines["InvoiceDate"].dt.normalize()
    frame = lines.assign(day=day, week=day.dt.to_period("W-FRI"))
    items = []
    for _, week in frame.groupby("week", sort=True):
        last = week["day"].max().date()
        best = week.groupby("Description")["Quantity"].sum().sort_values(ascending=False, kind="stable").head(top)
        items.append(TextItem(last, f"Best-selling product lines in the week to {last.isoformat()}: {'; '.join(best.index)}"))
    return items


def known_by(items: list[TextItem], day: dt.date) -> list[TextItem]:
    """The reports published on or before ``day``."""
    return [item for item in items if item.date is not None and item.date <= day]
