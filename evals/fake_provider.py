"""A scripted, OpenAI-compatible chat provider on a loopback port (tests and offline eval runs).

It answers ``POST /v1/chat/completions`` from a list of canned replies (text,
or one tool call), in OpenAI's JSON shape with ``usage``, or as SSE chunks
when ``stream`` is true. It records every request it gets, headers included,
so a test can see what the gateway sent upstream.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass(frozen=True)
class Reply:
    """One canned answer: ``text``, or a call of tool ``tool`` with ``arguments``.

    When streamed, ``delay`` seconds pass before each chunk, and ``fail_after``
    chunks in the connection drops (a provider failing mid-stream).
    """

    text: str = ""
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    fail_after: int | None = None

    @property
    def completion_tokens(self) -> int:
        if self.tool is not None:
            return count_tokens(self.tool) + count_tokens(json.dumps(self.arguments))
        return count_tokens(self.text)


@dataclass(frozen=True)
class Received:
    """A request as the fake saw it."""

    headers: dict[str, str]
    body: dict[str, Any]


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: whitespace-separated words."""
    return len(text.split())


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Words of every message's text content, plus 3 per message (its role and framing)."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        total += 3 + count_tokens(content if isinstance(content, str) else "")
    return total


class FakeOpenAI:
    """The scripted provider. ``replies`` are used in order; the last one repeats."""

    def __init__(self, replies: list[Reply] | None = None, responder: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.replies: list[Reply] = list(replies or [Reply(text="Hello from the fake.")])
        # A responder decides each reply from the request (a scripted "model" that reads the
        # conversation); without one the canned replies are used in order.
        self.responder = responder
        self.requests: list[Received] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self._chat)
        self.app.get("/v1/models")(self._models)

    def script(self, *replies: Reply) -> None:
        """Replace the canned replies."""
        self.replies = list(replies)

    def _next(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def usage(self, messages: list[dict[str, Any]], reply: Reply) -> dict[str, int]:
        """The usage block the fake reports for ``reply`` to ``messages``."""
        prompt = prompt_tokens(messages)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": prompt + reply.completion_tokens,
        }

    async def _models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "fake"}]}

    async def _chat(self, request: Request) -> Any:
        body = await request.json()
        self.requests.append(Received(headers=dict(request.headers), body=body))
        reply = self.responder(body) if self.responder is not None else self._next()
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": body.get("model", "")}
        usage = self.usage(body.get("messages", []), reply)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(_sse(base, reply, usage if include_usage else None), media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": None if reply.tool else reply.text}
        if reply.tool:
            message["tool_calls"] = [_tool_call(reply)]
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool else "stop"}
        return JSONResponse({**base, "object": "chat.completion", "choices": [choice], "usage": usage})


def _tool_call(reply: Reply) -> dict[str, Any]:
    return {
        "id": "call_fake1",
        "type": "function",
        "function": {"name": reply.tool, "arguments": json.dumps(reply.arguments)},
    }


def text_pieces(text: str) -> list[str]:
    """How the fake splits a text into stream deltas: word by word, spaces kept."""
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + [words[-1]]


def _deltas(reply: Reply) -> Iterator[dict[str, Any]]:
    if reply.tool is None:
        first = True
        for piece in text_pieces(reply.text):
            yield {"role": "assistant", "content": piece} if first else {"content": piece}
            first = False
        return
    call = _tool_call(reply)
    yield {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": call["id"], "type": "function", "function": {"name": reply.tool, "arguments": ""}}
    ]}
    arguments = call["function"]["arguments"]
    # Arguments arrive in fragments, as real providers send them.
    for start in range(0, len(arguments), 7):
        yield {"tool_calls": [{"index": 0, "function": {"arguments": arguments[start:start + 7]}}]}


async def _sse(base: dict[str, Any], reply: Reply, usage: dict[str, int] | None) -> AsyncIterator[str]:
    chunk = {**base, "object": "chat.completion.chunk"}
    for sent, delta in enumerate(_deltas(reply)):
        if sent == reply.fail_after:
            raise ConnectionAbortedError("the fake provider drops the stream, as scripted")
        await asyncio.sleep(reply.delay)
        yield f"data: {json.dumps({**chunk, 'choices': [{'index': 0, 'delta': delta, 'finish_reason': None}]})}\n\n"
    finish = "tool_calls" if reply.tool else "stop"
    yield f"data: {json.dumps({**chunk, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': finish}]})}\n\n"
    if usage is not None:
        yield f"data: {json.dumps({**chunk, 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve_fake(
    replies: list[Reply] | None = None, responder: Callable[[dict[str, Any]], Reply] | None = None
) -> AsyncIterator[tuple[FakeOpenAI, str]]:
    """Serve a :class:`FakeOpenAI` on a free loopback port in this event loop; yields (fake, base URL ending in /v1)."""
    fake = FakeOpenAI(replies, responder)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    try:
        yield fake, f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task
