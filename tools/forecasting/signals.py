"""Structured signals from context text, and the deterministic rule-and-calendar extractor.

A :class:`Signal` says that around ``date`` an event of ``event_type`` moves
the series ``direction`` by a ``magnitude`` bucket, from ``lead_days`` before
to ``lag_days`` after. ``known_from`` is the day the text became known: empty
for what is known in advance (a public holiday, a planned promotion), the
text's own date for a report of what was observed (a week's best-selling
product lines). The correction only uses a signal for a forecast made on or
after the day it became known.

The rule extractor works offline and sees one dated line at a time. Its
defaults are the retailer's: a public holiday or a closure means no trade
(down, large); Christmas-themed best-selling lines mean the season is under way.
A line that mentions "product lines" is read as a report: a list of product
descriptions after a colon, separated by semicolons.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.forecasting.errors import InvalidContext

EventType = Literal["holiday", "promotion", "seasonal", "disruption", "event"]
EVENT_TYPES: tuple[EventType, ...] = ("holiday", "promotion", "seasonal", "disruption", "event")
Direction = Literal["up", "down"]
Magnitude = Literal["small", "medium", "large"]
MAGNITUDE_VALUE: dict[str, float] = {"small": 1.0, "medium": 2.0, "large": 3.0}
MAX_ITEMS = 2000
MAX_TEXT = 100_000
MAX_WINDOW_DAYS = 90


class Signal(BaseModel):
    """One structured signal; also the schema the LLM extractor must answer in."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    date: dt.date
    event_type: EventType
    direction: Direction
    magnitude: Magnitude
    lead_days: int = Field(default=0, ge=0, le=MAX_WINDOW_DAYS)
    lag_days: int = Field(default=0, ge=0, le=MAX_WINDOW_DAYS)
    known_from: dt.date | None = None
    evidence: str = Field(default="", max_length=300)

    @property
    def signed_size(self) -> float:
        return MAGNITUDE_VALUE[self.magnitude] * (1.0 if self.direction == "up" else -1.0)

    def active_on(self, day: dt.date) -> bool:
        return self.date - dt.timedelta(days=self.lead_days) <= day <= self.date + dt.timedelta(days=self.lag_days)


class SignalBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signals: list[Signal] = Field(max_length=MAX_ITEMS)


@dataclass(frozen=True)
class TextItem:
    date: dt.date | None
    text: str


@dataclass
class Extraction:
    """What an extractor made of the text: the signals, and what it could not use and why."""

    extractor: str
    signals: list[Signal] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    fell_back: bool = False
    reason: str | None = None


_ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_LEADING_DATE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*[:\-–]?\s*")


def _iso(value: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidContext(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc


def parse_context(context: Any) -> list[TextItem]:
    """Context text as dated items: a string (one item per line, dated by a leading or any
    ISO date in it) or a list of ``{date, text}``. Raises :class:`InvalidContext`."""
    if context is None:
        return []
    if isinstance(context, str):
        if len(context) > MAX_TEXT:
            raise InvalidContext(f"context_text is longer than {MAX_TEXT} characters")
        items = []
        for line in context.splitlines():
            if not line.strip():
                continue
            leading = _LEADING_DATE.match(line)
            if leading:
                items.append(TextItem(_iso(leading.group(1), "context_text"), line[leading.end():].strip()))
                continue
            anywhere = _ISO_DATE.search(line)
            items.append(TextItem(_iso(anywhere.group(1), "context_text") if anywhere else None, line.strip()))
        if len(items) > MAX_ITEMS:
            raise InvalidContext(f"context_text has {len(items)} lines; at most {MAX_ITEMS}")
        return items
    if isinstance(context, list):
        if len(context) > MAX_ITEMS:
            raise InvalidContext(f"context_text has {len(context)} items; at most {MAX_ITEMS}")
        out = []
        for index, entry in enumerate(context):
            if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
                raise InvalidContext(f"context_text[{index}] must be an object with a text string")
            date = entry.get("date")
            out.append(TextItem(_iso(str(date), f"context_text[{index}].date") if date else None, entry["text"]))
        if sum(len(item.text) for item in out) > MAX_TEXT:
            raise InvalidContext(f"context_text is longer than {MAX_TEXT} characters in all")
        return out
    raise InvalidContext("context_text must be a string or a list of {date, text}")


# --- the rule extractor -------------------------------------------------------------------------

_HOLIDAY = re.compile(
    r"\b(bank holiday|public holiday|christmas day|boxing day|new year'?s day|good friday|easter (monday|sunday)"
    r"|may day|wedding of|jubilee|closed|closure|shut|no trading)\b", re.IGNORECASE)
_PROMOTION = re.compile(r"\b(promotion|promo|sale|discount|offer|clearance|free (shipping|delivery|postage))\b|\d+\s*% off",
                        re.IGNORECASE)
_DISRUPTION = re.compile(r"\b(strike|snowstorm|heavy snow|storm|flood(ing)?|outage|disruption|delays?|shortage"
                         r"|out of stock|stock-?out|postal)\b", re.IGNORECASE)
_EVENT_UP = re.compile(r"\b(surge|spike|boom|rush|peak|record|trade (fair|show)|exhibition|festival|launch)\b",
                       re.IGNORECASE)
_EVENT_DOWN = re.compile(r"\b(slump|slowdown|decline|drop|fall|recession|downturn)\b", re.IGNORECASE)
_SEASONAL = re.compile(r"CHRISTMAS|XMAS|ADVENT|SANTA|REINDEER|SNOWFLAKE|SNOWMAN|NATIVITY|BAUBLE|TREE|ANGEL|HOLLY"
                       r"|STOCKING|GINGERBREAD|FESTIVE|NOEL", re.IGNORECASE)
_LISTING = re.compile(r"\bproduct lines\b", re.IGNORECASE)
_PERCENT = re.compile(r"(\d+)\s*%")
_LARGE = re.compile(r"\b(huge|major|massive|big|large|strong|severe)\b", re.IGNORECASE)
_SMALL = re.compile(r"\b(slight|small|minor|modest|mild)\b", re.IGNORECASE)
_LEAD = re.compile(r"(\d+)\s*days? before", re.IGNORECASE)
_FOR_DAYS = re.compile(r"\bfor (\d+) days\b|\b(\d+)-day\b", re.IGNORECASE)
_UNTIL = re.compile(r"\b(until|to|through)\s+(\d{4}-\d{2}-\d{2})\b", re.IGNORECASE)
# How long a week's report of Christmas best-sellers is taken to describe the season.
SEASON_REPORT_DAYS = 27


def _magnitude(text: str, default: Magnitude) -> Magnitude:
    if _LARGE.search(text):
        return "large"
    if _SMALL.search(text):
        return "small"
    return default


def _window(text: str, date: dt.date) -> tuple[int, int]:
    lead_match = _LEAD.search(text)
    lead = min(int(lead_match.group(1)), MAX_WINDOW_DAYS) if lead_match else 0
    lag = 0
    until = _UNTIL.search(text)
    if until:
        end = dt.date.fromisoformat(until.group(2))
        lag = max(0, min((end - date).days, MAX_WINDOW_DAYS))
    else:
        days = _FOR_DAYS.search(text)
        if days:
            lag = max(0, min(int(days.group(1) or days.group(2)) - 1, MAX_WINDOW_DAYS))
    return lead, lag


def _listing_signal(item: TextItem, date: dt.date) -> Signal | None:
    """A list of product lines: how many are Christmas-themed says how far the season has come."""
    body = item.text.split(":", 1)[-1]
    lines = [line for line in re.split(r";|\n", body) if line.strip()]
    seasonal = [line.strip() for line in lines if _SEASONAL.search(line)]
    if not seasonal:
        return None
    count = len(seasonal)
    magnitude: Magnitude = "small" if count <= 3 else "medium" if count <= 7 else "large"
    evidence = f"{count} of {len(lines)} lines seasonal, e.g. {'; '.join(seasonal[:3])}"
    # A report is known on its own date, and describes the weeks after it.
    return Signal(date=date, event_type="seasonal", direction="up", magnitude=magnitude, lead_days=0,
                  lag_days=SEASON_REPORT_DAYS, known_from=date, evidence=evidence[:300])


def _line_signals(item: TextItem, date: dt.date) -> list[Signal]:
    text = item.text
    lead, lag = _window(text, date)
    evidence = text[:300]
    found: list[Signal] = []

    def add(event_type: EventType, direction: Direction, magnitude: Magnitude) -> None:
        # A dated note is taken as known in advance, as a schedule is; only a report
        # (a list of product lines) is known from its own date.
        found.append(Signal(date=date, event_type=event_type, direction=direction, magnitude=magnitude,
                            lead_days=lead, lag_days=lag, evidence=evidence))

    if _HOLIDAY.search(text):
        add("holiday", "down", "large")
        return found  # a closure outweighs anything else said about the day
    if _PROMOTION.search(text):
        percent = _PERCENT.search(text)
        share = int(percent.group(1)) if percent else 0
        default: Magnitude = "large" if share >= 30 else "medium" if share >= 15 else "small"
        add("promotion", "up", _magnitude(text, default) if not percent else default)
    if _DISRUPTION.search(text):
        add("disruption", "down", _magnitude(text, "medium"))
    if _EVENT_UP.search(text):
        add("event", "up", _magnitude(text, "medium"))
    elif _EVENT_DOWN.search(text):
        add("event", "down", _magnitude(text, "medium"))
    if not found and _SEASONAL.search(text):
        add("seasonal", "up", _magnitude(text, "small"))
    return found


def extract_rules(items: Sequence[TextItem]) -> Extraction:
    """The deterministic extractor: pure, offline, the same answer every time."""
    extraction = Extraction(extractor="rule")
    for item in items:
        if item.date is None:
            extraction.ignored.append(f"no date: {item.text[:80]}")
            continue
        if _LISTING.search(item.text):
            signal = _listing_signal(item, item.date)
            found = [signal] if signal else []
        else:
            found = _line_signals(item, item.date)
        if not found:
            extraction.ignored.append(f"{item.date}: nothing recognised in {item.text[:80]!r}")
        extraction.signals.extend(found)
    return extraction


def signal_json(signal: Signal) -> dict[str, Any]:
    """A signal as plain JSON for the tool output."""
    return signal.model_dump(mode="json")
