"""The forecasting tool's edge: data loading (cached per process), series and context resolution,
the choice of extractor, and the JSON the tool returns. The algorithm modules stay pure.

The LLM extractor is used when ``TOLLHOUSE_FORECASTING_LLM_MODEL`` names a model
the gateway offers (``settings.llm.models``) and the call does not ask for the
rule extractor. It calls the gateway's own ``{public_url}/v1/chat/completions``
with ``TOLLHOUSE_FORECASTING_LLM_TOKEN`` as the bearer when that is set, else
with the call's downstream token, which today's endpoint refuses (it accepts
delegated tokens only); either way a failure falls back to no signals, and the
output says so and why.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tools.forecasting.backbone import INTERVAL_LEVEL
from tools.forecasting.context import bestseller_text, holiday_text, known_by
from tools.forecasting.errors import (
    DataUnavailable,
    InvalidContext,
    InvalidSeries,
    SignalExtractionError,
    UnknownSeries,
)
from tools.forecasting.features import active_signals
from tools.forecasting.llm_extractor import LlmExtractor
from tools.forecasting.pipeline import Forecast
from tools.forecasting.series import DailySeries, retail_series, supplied_series
from tools.forecasting.signals import Extraction, TextItem, extract_rules, signal_json
from tools.retail.data import RetailDataMissing, load
from tools.spec import ToolContext

logger = logging.getLogger(__name__)
LLM_MODEL_ENV = "TOLLHOUSE_FORECASTING_LLM_MODEL"
LLM_TOKEN_ENV = "TOLLHOUSE_FORECASTING_LLM_TOKEN"
ATTRIBUTION = "UCI Online Retail (Chen, Sain, Guo 2012, UCI Machine Learning Repository), CC BY 4.0"
MAX_IGNORED_SHOWN = 20


@dataclass(frozen=True)
class RetailData:
    cleaning: str
    series: dict[str, DailySeries]
    bestsellers: list[TextItem]


_retail: dict[Path, RetailData] = {}
_retail_lock = threading.Lock()


def _load_retail(data_dir: Path) -> RetailData:
    # One load per process and directory; the lock keeps concurrent first calls from loading twice.
    with _retail_lock:
        cached = _retail.get(data_dir)
        if cached is not None:
            return cached
        try:
            cleaned = load(data_dir)
        except RetailDataMissing as exc:
            raise DataUnavailable(f"the Online Retail data is unavailable: {exc}") from exc
        data = RetailData(cleaned.report(), retail_series(cleaned.lines), bestseller_text(cleaned.lines))
        _retail[data_dir] = data
        return data


async def retail_data(ctx: ToolContext) -> RetailData:
    """The built-in data, loaded once. Raises :class:`DataUnavailable` (503)."""
    if ctx.data_dir is None:
        raise DataUnavailable("no data directory is configured (TOLLHOUSE_DATA_DIR): built-in series are unavailable")
    return await asyncio.to_thread(_load_retail, Path(ctx.data_dir).resolve())


async def resolve_series(arguments: dict[str, Any], ctx: ToolContext) -> tuple[DailySeries, RetailData | None]:
    """The series to forecast. Raises :class:`InvalidSeries`, :class:`UnknownSeries`, :class:`DataUnavailable`."""
    series_id, points = arguments.get("series_id"), arguments.get("series")
    if (series_id is None) == (points is None):
        raise InvalidSeries("give exactly one of series_id (a built-in series) or series (your own values)")
    if points is not None:
        return supplied_series(points, start=arguments.get("start"), season_length=arguments.get("season_length")), None
    data = await retail_data(ctx)
    if series_id not in data.series:
        available = sorted(data.series)
        raise UnknownSeries(f"unknown series_id {series_id!r}; available: {', '.join(available)}",
                            detail={"available": available})
    series = data.series[series_id]
    if arguments.get("season_length") not in (None, series.season_length):
        raise InvalidSeries(f"{series_id} has a fixed season of {series.season_length} trading days")
    return series, data


def source_items(sources: list[str], series: DailySeries, horizon: int, data: RetailData | None) -> list[TextItem]:
    """Text from the named built-in sources, as known at the end of the series."""
    items: list[TextItem] = []
    last_day = series.dates[-1].item()
    if "england_holidays" in sources:
        items += holiday_text(series.dates[0].item(), series.next_dates(horizon)[-1].item())
    if "retail_bestsellers" in sources:
        if data is None:
            raise InvalidContext("retail_bestsellers describes the built-in Online Retail series only; use a series_id")
        items += known_by(data.bestsellers, last_day)
    return items


def configured_llm(ctx: ToolContext) -> LlmExtractor | None:
    model = os.environ.get(LLM_MODEL_ENV, "")
    if not model or model not in ctx.settings.llm.models:
        return None
    token = os.environ.get(LLM_TOKEN_ENV) or ctx.token
    return LlmExtractor(f"{ctx.settings.public_url}/v1", token, model, timeout=ctx.settings.llm.timeout_seconds)


async def extract(items: list[TextItem], choice: str, ctx: ToolContext) -> Extraction:
    """Signals from the rule extractor, or the LLM extractor when configured; an LLM failure
    falls back to no signals, with the reason in the result."""
    if choice == "rule":
        return extract_rules(items)
    llm = configured_llm(ctx)
    if llm is None:
        if choice == "llm":
            return Extraction(extractor="llm", fell_back=True,
                              reason=f"the LLM extractor is not configured ({LLM_MODEL_ENV} must name a model in settings.llm.models)")
        return extract_rules(items)
    try:
        return await llm.extract(items)
    except SignalExtractionError as exc:
        logger.warning("LLM signal extraction failed, falling back to no signals: %s", exc.message)
        return Extraction(extractor="llm", fell_back=True, reason=exc.message)


def _num(value: float) -> float:
    return round(float(value), 4)


def extraction_json(extraction: Extraction) -> dict[str, Any]:
    return {
        "extractor": extraction.extractor,
        "fell_back": extraction.fell_back,
        "reason": extraction.reason,
        "ignored": extraction.ignored[:MAX_IGNORED_SHOWN],
        "ignored_count": len(extraction.ignored),
    }


def forecast_json(result: Forecast, extraction: Extraction, data: RetailData | None) -> dict[str, Any]:
    """The tool's answer."""
    prepared, backbone = result.prepared, result.backbone
    series = prepared.series
    points = []
    for step, day in enumerate(prepared.future_dates):
        points.append({
            "date": str(day), "step": step + 1,
            "forecast": _num(result.corrected[step]),
            "lower": _num(result.lower[step]), "upper": _num(result.upper[step]),
            "backbone": _num(backbone.point[step]),
            "backbone_lower": _num(backbone.lower[step]), "backbone_upper": _num(backbone.upper[step]),
            "correction": _num(result.applied[step]),
            "proposed_correction": _num(result.proposed[step]),
            "gate_weight": _num(result.gate.weights[step]),
            "signals": active_signals(result.signals, day),
        })
    buckets = [{
        "steps": f"{b.first_step}-{b.last_step}", "weight": b.weight, "past_origins": b.past_origins,
        "points": b.points, "mae_backbone": None if b.mae_backbone is None else _num(b.mae_backbone),
        "mae_gated": None if b.mae_gated is None else _num(b.mae_gated), "reason": b.reason,
    } for b in result.gate.buckets]
    return {
        "series": {
            "id": series.series_id, "description": series.description, "unit": series.unit,
            "first_day": str(series.dates[0]), "last_day": str(series.dates[-1]), "days": len(series),
            "season_length": series.season_length, "closed_days": int(np.sum(series.closed)),
        },
        "backbone_model": backbone.method,
        "interval": {"level": INTERVAL_LEVEL, "method": (
            "the backbone's 80% prediction interval (analytic for ETS; from seasonal-naive errors for the floor), "
            "moved by the applied correction")},
        "forecast": points,
        "correction_share": _num(result.correction_share),
        "gate": {"weights": [_num(w) for w in result.gate.weights], "buckets": buckets},
        "signals": [signal_json(signal) for signal in result.signals],
        "extraction": extraction_json(extraction),
        "training_rows": result.training_rows,
        "notes": list(result.notes),
        "data": ATTRIBUTION if data is not None else "supplied by the caller",
    }
