"""The LLM extractor: context text to signals through an OpenAI-compatible chat endpoint.

Meant for the gateway's own ``/v1/chat/completions`` (so every inference is
governed and audited there), but it speaks plain OpenAI and is tested against
a local fake. The model is asked for one JSON object of a fixed schema
(:class:`~tools.forecasting.signals.SignalBatch`); the answer is validated, and
anything else (an HTTP failure, text that is not JSON, JSON that is not the
schema) raises :class:`SignalExtractionError` with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from tools.forecasting.errors import SignalExtractionError
from tools.forecasting.signals import (
    EVENT_TYPES,
    MAX_WINDOW_DAYS,
    Extraction,
    SignalBatch,
    TextItem,
)
from tools.text.chat import completion_text

INSTRUCTIONS = f"""You turn dated context text about a daily sales series into structured signals.
Answer with one JSON object and nothing else: {{"signals": [...]}}. Each signal has exactly these fields:
- "date": the day the event is about, YYYY-MM-DD;
- "event_type": one of {", ".join(EVENT_TYPES)};
- "direction": "up" or "down" (the expected effect on sales);
- "magnitude": "small", "medium" or "large";
- "lead_days": days before "date" the effect starts (0-{MAX_WINDOW_DAYS});
- "lag_days": days after "date" the effect lasts (0-{MAX_WINDOW_DAYS});
- "known_from": null if the event was known in advance (a holiday, a planned promotion), else the day the text was written, YYYY-MM-DD;
- "evidence": the words of the text the signal rests on (at most 300 characters).
Give no signal for text that says nothing about sales. Use only what the text says."""


def _strip_fence(content: str) -> str:
    """Some models wrap JSON in a Markdown fence even when asked not to; that much is tolerated."""
    text = content.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3].strip()
        if text.lower().startswith("json"):
            text = text[4:].strip()
    return text


def _where(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error.get("loc", ())) or "(answer)"


def parse_answer(content: str) -> SignalBatch:
    """Validate a model's answer. Raises :class:`SignalExtractionError` saying what was wrong."""
    try:
        payload = json.loads(_strip_fence(content))
    except json.JSONDecodeError as exc:
        raise SignalExtractionError(f"the model's answer is not valid JSON ({exc.msg} at position {exc.pos}): "
                                    f"{content[:120]!r}") from exc
    try:
        return SignalBatch.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SignalExtractionError(f"the model's JSON does not match the signal schema: {_where(first)}: "
                                    f"{first.get('msg')} ({exc.error_count()} error(s))") from exc


class LlmExtractor:
    """Asks ``model`` at ``base_url`` (an OpenAI base URL, ending in ``/v1``) with ``token`` as the bearer."""

    name = "llm"

    def __init__(self, base_url: str, token: str, model: str, *, timeout: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.token = token
        self.model = model
        self.timeout = timeout
        self.transport = transport

    def request_body(self, items: Sequence[TextItem]) -> dict[str, Any]:
        lines = "\n".join(f"{item.date.isoformat() if item.date else '(undated)'}: {item.text}" for item in items)
        return {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": f"Context text, one dated item per line:\n{lines}"},
            ],
        }

    async def extract(self, items: Sequence[TextItem]) -> Extraction:
        """Signals for ``items``. Raises :class:`SignalExtractionError` on any unusable answer."""
        if not items:
            return Extraction(extractor=self.name)
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as http:
            content = await completion_text(http, self.url, self.token, self.request_body(items), SignalExtractionError)
        batch = parse_answer(content)
        return Extraction(extractor=self.name, signals=list(batch.signals))
