"""One chat-completion request to an OpenAI-compatible endpoint (the gateway's own), returning the text."""

from __future__ import annotations

from typing import Any

import httpx

from core.errors import TollhouseError


async def completion_text(
    http: httpx.AsyncClient, url: str, token: str, body: dict[str, Any], error: type[TollhouseError]
) -> str:
    """The assistant message's text content. Raises ``error`` for an unreachable endpoint, a non-200
    answer, or a reply that is not a chat completion with text."""
    try:
        response = await http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise error(f"the LLM endpoint could not be reached: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise error(f"the LLM endpoint answered {response.status_code}: {response.text[:200]}")
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise error("the LLM endpoint's reply is not an OpenAI chat completion") from exc
    if not isinstance(content, str):
        raise error("the model answered without text content")
    return content
