"""Usage charts drawn on the server as PNG: nothing is fetched by the browser but the image.

Tool names and layers are drawn as pixels, so an odd name cannot become markup.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

# More series than this are folded into "other": the legend stays readable
# however many tools are called.
MAX_SERIES = 8
OTHER = "other"


def _series_by_day(
    rows: Sequence[dict[str, Any]], period: Sequence[str], series: str, value: str
) -> tuple[list[str], dict[str, list[int]]]:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[str(row[series] or "(none)")] += int(row[value])
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    kept = set(ranked[:MAX_SERIES]) if len(ranked) > MAX_SERIES + 1 else set(ranked)
    # Every day of the period gets a slot, so quiet days show as gaps rather than vanish.
    days = sorted(set(period) | {str(row["day"]) for row in rows})
    index = {day: i for i, day in enumerate(days)}
    counts: dict[str, list[int]] = {}
    for row in rows:
        name = str(row[series] or "(none)")
        name = name if name in kept else OTHER
        counts.setdefault(name, [0] * len(days))[index[str(row["day"])]] += int(row[value])
    ordered = sorted(counts, key=lambda name: (name == OTHER, -sum(counts[name]), name))
    return days, {name: counts[name] for name in ordered}


def stacked_bars(
    rows: Sequence[dict[str, Any]], *, period: Sequence[str], series: str, value: str, title: str
) -> bytes:
    """A PNG of ``value`` per day of ``period`` (ISO dates), stacked by ``series`` (e.g. calls by tool)."""
    # Imported here: matplotlib costs a noticeable start-up time and only these charts need it.
    # The object API (no pyplot) keeps no global state, so concurrent requests may draw at once.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    days, counts = _series_by_day(rows, period, series, value)
    figure = Figure(figsize=(8, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title)
    if not rows:
        axes.text(0.5, 0.5, "nothing recorded in this period", ha="center", va="center", transform=axes.transAxes)
        axes.set_xticks([])
        axes.set_yticks([])
    else:
        positions = list(range(len(days)))
        bottoms = [0] * len(days)
        for name, values in counts.items():
            axes.bar(positions, values, bottom=bottoms, label=name, width=0.8)
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        step = max(1, len(days) // 10)
        axes.set_xticks(positions[::step], [day[5:] for day in days[::step]])
        axes.set_xlim(-0.6, len(days) - 0.4)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(value)
        axes.set_xlabel("day (UTC)")
        axes.legend(loc="upper left", fontsize="small", frameon=False, bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
