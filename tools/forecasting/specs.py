"""``forecasting.forecast`` and ``forecasting.signals``: the tool's wire definitions and handlers."""

from __future__ import annotations

import asyncio
from typing import Any

from core.errors import InvalidRequest
from tools.forecasting.pipeline import run
from tools.forecasting.service import (
    extract,
    extraction_json,
    forecast_json,
    resolve_series,
    source_items,
)
from tools.forecasting.signals import parse_context, signal_json
from tools.spec import ToolContext, ToolSpec

MAX_HORIZON = 56
SCOPE = "forecast:read"

_CONTEXT_TEXT = {
    "description": (
        "Context text: a string with one item per line, dated by a YYYY-MM-DD date at its start or anywhere "
        "in it, or a list of {date, text}. News, event notes, promotions, holiday and calendar text."
    ),
    "anyOf": [
        {"type": "string", "maxLength": 100_000},
        {"type": "array", "maxItems": 2000, "items": {
            "type": "object",
            "properties": {"date": {"type": "string", "maxLength": 10}, "text": {"type": "string", "maxLength": 5000}},
            "required": ["text"], "additionalProperties": False,
        }},
    ],
}
_EXTRACTOR = {
    "description": "rule: the offline rule-and-calendar extractor; llm: the gateway's LLM (when configured); "
                   "auto (default): the LLM when configured, else rules.",
    "enum": ["auto", "rule", "llm"],
}
_SIGNAL = {
    "type": "object",
    "properties": {
        "date": {"type": "string"}, "event_type": {"type": "string"}, "direction": {"type": "string"},
        "magnitude": {"type": "string"}, "lead_days": {"type": "integer"}, "lag_days": {"type": "integer"},
        "known_from": {"type": ["string", "null"]}, "evidence": {"type": "string"},
    },
    "required": ["date", "event_type", "direction", "magnitude", "lead_days", "lag_days"],
}
_EXTRACTION = {
    "type": "object",
    "properties": {
        "extractor": {"type": "string"}, "fell_back": {"type": "boolean"}, "reason": {"type": ["string", "null"]},
        "ignored": {"type": "array", "items": {"type": "string"}}, "ignored_count": {"type": "integer"},
    },
    "required": ["extractor", "fell_back", "reason"],
}
_POINT = {
    "type": "object",
    "properties": {
        "date": {"type": "string"}, "step": {"type": "integer"}, "forecast": {"type": "number"},
        "lower": {"type": "number"}, "upper": {"type": "number"}, "backbone": {"type": "number"},
        "backbone_lower": {"type": "number"}, "backbone_upper": {"type": "number"},
        "correction": {"type": "number"}, "proposed_correction": {"type": "number"},
        "gate_weight": {"type": "number"}, "signals": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["date", "step", "forecast", "lower", "upper", "backbone", "correction", "gate_weight"],
}


async def forecast(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Forecast a built-in or supplied daily series, with the backbone's forecast beside the corrected one."""
    horizon = arguments.get("horizon")
    if not isinstance(horizon, int) or isinstance(horizon, bool) or not 1 <= horizon <= MAX_HORIZON:
        raise InvalidRequest(f"horizon must be a whole number of days from 1 to {MAX_HORIZON}")
    series, data = await resolve_series(arguments, ctx)
    items = parse_context(arguments.get("context_text"))
    items += source_items(list(arguments.get("context_sources") or []), series, horizon, data)
    extraction = await extract(items, arguments.get("extractor", "auto"), ctx)
    # Fitting ETS and the correction takes CPU seconds: off the event loop.
    result = await asyncio.to_thread(run, series, horizon, extraction.signals)
    return forecast_json(result, extraction, data)


async def signals(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """The signals extracted from context text, and what could not be used."""
    extraction = await extract(parse_context(arguments.get("context_text")), arguments.get("extractor", "auto"), ctx)
    return {"signals": [signal_json(signal) for signal in extraction.signals], "extraction": extraction_json(extraction)}


FORECAST = ToolSpec(
    name="forecasting.forecast",
    title="Forecast a daily series",
    description=(
        "Forecasts a daily series for 1 to 56 days. A frozen statistical backbone (ETS chosen by AICc, seasonal "
        "naive as the floor) gives the base forecast and its 80% interval; when context text is given, signals "
        "extracted from it (event type, direction, magnitude, lead and lag) feed a ridge correction of the "
        "backbone's residual, and a gate learned on past origins decides, per horizon step, how much of that "
        "correction to apply. Returns the corrected and the backbone forecasts side by side, the intervals, the "
        "correction's share, the gate weights and the signals used. Without text the backbone's forecast is "
        "returned unchanged. Built-in series come from UCI Online Retail (CC BY 4.0): total_units, total_revenue, "
        "country:<name>, product:<stock code>; an unknown id lists the available ones."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "series_id": {"type": "string", "maxLength": 200,
                          "description": "A built-in series, e.g. total_units, total_revenue, country:United Kingdom, product:85123A."},
            "series": {
                "description": "Your own daily values instead of series_id: numbers (with start) or {date, value} on consecutive days.",
                "type": "array", "maxItems": 5000,
                "items": {"anyOf": [
                    {"type": "number"},
                    {"type": "object", "properties": {"date": {"type": "string", "maxLength": 10}, "value": {"type": "number"}},
                     "required": ["date", "value"], "additionalProperties": False},
                ]},
            },
            "start": {"type": "string", "maxLength": 10, "description": "First day (YYYY-MM-DD) of a series of plain numbers."},
            "season_length": {"type": "integer", "minimum": 2, "maximum": 60,
                              "description": "Season of a supplied series in days (default 7)."},
            "horizon": {"type": "integer", "minimum": 1, "maximum": MAX_HORIZON,
                        "description": "Days to forecast (trading days for the built-in series, which skip Saturdays)."},
            "context_text": _CONTEXT_TEXT,
            "context_sources": {
                "description": "Built-in real text to add: england_holidays (public holidays, holidays library); "
                               "retail_bestsellers (the retailer's best-selling product lines per week, built-in series only).",
                "type": "array", "uniqueItems": True, "items": {"enum": ["england_holidays", "retail_bestsellers"]},
            },
            "extractor": _EXTRACTOR,
        },
        "required": ["horizon"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "series": {"type": "object"},
            "backbone_model": {"type": "string"},
            "interval": {"type": "object", "properties": {"level": {"type": "number"}, "method": {"type": "string"}}},
            "forecast": {"type": "array", "items": _POINT},
            "correction_share": {"type": "number"},
            "gate": {"type": "object", "properties": {"weights": {"type": "array", "items": {"type": "number"}},
                                                      "buckets": {"type": "array"}}},
            "signals": {"type": "array", "items": _SIGNAL},
            "extraction": _EXTRACTION,
            "training_rows": {"type": "integer"},
            "notes": {"type": "array", "items": {"type": "string"}},
            "data": {"type": "string"},
        },
        "required": ["series", "backbone_model", "interval", "forecast", "correction_share", "gate", "signals", "extraction"],
    },
    annotations={"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
    handler=forecast,
    owning_team="analytics",
    required_scopes=(SCOPE,),
    risk_class="low",
    data_classification="internal",
)

SIGNALS = ToolSpec(
    name="forecasting.signals",
    title="Signals extracted from context text",
    description=(
        "Shows the structured signals the forecasting tool extracts from context text: per dated item the event "
        "type (holiday, promotion, seasonal, disruption, event), the expected direction, a magnitude bucket, the "
        "lead and lag in days, and when the text became known; plus the text it could not use."
    ),
    input_schema={
        "type": "object",
        "properties": {"context_text": _CONTEXT_TEXT, "extractor": _EXTRACTOR},
        "required": ["context_text"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {"signals": {"type": "array", "items": _SIGNAL}, "extraction": _EXTRACTION},
        "required": ["signals", "extraction"],
    },
    annotations={"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
    handler=signals,
    owning_team="analytics",
    required_scopes=(SCOPE,),
    risk_class="low",
    data_classification="internal",
)

SPECS: tuple[ToolSpec, ...] = (FORECAST, SIGNALS)
