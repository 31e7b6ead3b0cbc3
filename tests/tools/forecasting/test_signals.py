"""Extractors: the offline rules, and the LLM extractor against a local OpenAI-compatible fake."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from core.settings import LlmModel, Settings
from tests.fakes.openai_server import Reply, serve_fake
from tests.tools.forecasting.helpers import context, weekly_series
from tools.forecasting.errors import InvalidContext, SignalExtractionError
from tools.forecasting.llm_extractor import LlmExtractor
from tools.forecasting.service import LLM_MODEL_ENV
from tools.forecasting.signals import TextItem, extract_rules, parse_context
from tools.forecasting.specs import forecast, signals

VALID = {"signals": [{
    "date": "2011-11-25", "event_type": "promotion", "direction": "up", "magnitude": "medium",
    "lead_days": 0, "lag_days": 3, "known_from": None, "evidence": "Black Friday: 20% off",
}]}


def test_rules_read_holidays_promotions_and_bestseller_reports() -> None:
    items = parse_context(
        "2011-08-29: Late Summer Bank Holiday (public holiday in England)\n"
        "Black Friday 2011-11-25: 20% off everything for 4 days\n"
        "2011-10-14 Best-selling product lines in the week to 2011-10-14: PAPER CHAIN KIT 50'S CHRISTMAS; "
        "JUMBO BAG RED RETROSPOT; SET OF 20 VINTAGE CHRISTMAS NAPKINS\n"
        "nothing dated here\n"
    )
    extraction = extract_rules(items)
    holiday, promotion, report = extraction.signals
    assert (holiday.date, holiday.event_type, holiday.direction, holiday.magnitude) == (dt.date(2011, 8, 29), "holiday", "down", "large")
    assert (promotion.event_type, promotion.magnitude, promotion.lag_days, promotion.known_from) == ("promotion", "medium", 3, None)
    assert (report.event_type, report.direction, report.magnitude) == ("seasonal", "up", "small")
    assert report.known_from == dt.date(2011, 10, 14), "a report is known from its own date"
    assert extraction.ignored == ["no date: nothing dated here"]


def test_context_text_is_validated() -> None:
    with pytest.raises(InvalidContext, match=r"context_text\[0\].date"):
        parse_context([{"date": "25/11/2011", "text": "sale"}])
    assert parse_context([{"date": "2011-11-25", "text": "sale"}]) == [TextItem(dt.date(2011, 11, 25), "sale")]


async def test_the_llm_extractor_asks_for_json_and_validates_it() -> None:
    async with serve_fake([Reply(text=json.dumps(VALID))]) as (fake, base_url):
        extraction = await LlmExtractor(base_url, "token-1", "fake-model").extract([TextItem(dt.date(2011, 11, 25), "Black Friday: 20% off")])
    [sent] = fake.requests
    assert sent.headers["authorization"] == "Bearer token-1"
    assert sent.body["model"] == "fake-model" and sent.body["response_format"] == {"type": "json_object"}
    [found] = extraction.signals
    assert (found.date, found.event_type, found.lag_days) == (dt.date(2011, 11, 25), "promotion", 3)


@pytest.mark.parametrize(("answer", "message"), [
    ("Sure! Black Friday is a promotion.", "not valid JSON"),
    (json.dumps({"signals": [{**VALID["signals"][0], "direction": "sideways"}]}), "signals.0.direction"),
    (json.dumps({"events": []}), "does not match the signal schema"),
])
async def test_the_llm_extractor_rejects_an_unusable_answer_with_a_clear_error(answer: str, message: str) -> None:
    async with serve_fake([Reply(text=answer)]) as (_, base_url):
        with pytest.raises(SignalExtractionError, match=message) as raised:
            await LlmExtractor(base_url, "token-1", "fake-model").extract([TextItem(dt.date(2011, 11, 25), "Black Friday")])
    assert raised.value.code == "signal_extraction_failed"


async def test_the_tool_falls_back_to_no_signals_when_the_llm_answers_badly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    series = weekly_series(60, seed=5)
    points = [{"date": str(day), "value": float(value)} for day, value in zip(series.dates, series.values, strict=True)]
    text = f"{series.dates[-1] + 3}: big promotion, 30% off"
    async with serve_fake([Reply(text="not json at all")]) as (fake, base_url):
        settings = Settings(home=tmp_path / "home")
        settings.gateway.public_url = base_url.removesuffix("/v1")
        settings.llm.models = {"fake-model": LlmModel(litellm_model="openai/fake-model")}
        monkeypatch.setenv(LLM_MODEL_ENV, "fake-model")
        ctx = context(tmp_path, settings)
        shown = await signals({"context_text": text}, ctx)
        result = await forecast({"series": points, "horizon": 7, "context_text": text}, ctx)
        ruled = await forecast({"series": points, "horizon": 7, "context_text": text, "extractor": "rule"}, ctx)
    assert len(fake.requests) == 2, "the rule extractor never calls the model"
    for answer in (shown["extraction"], result["extraction"]):
        assert answer["extractor"] == "llm" and answer["fell_back"] is True
        assert "not valid JSON" in answer["reason"]
    assert shown["signals"] == [] and result["signals"] == []
    assert [p["forecast"] for p in result["forecast"]] == [p["backbone"] for p in result["forecast"]]
    assert ruled["extraction"]["fell_back"] is False and ruled["signals"][0]["event_type"] == "promotion"
