"""Moved to ``evals.fake_provider``; kept importable here for the tests that use this path."""

from evals.fake_provider import (
    FakeOpenAI,
    Received,
    Reply,
    count_tokens,
    prompt_tokens,
    serve_fake,
    text_pieces,
)

__all__ = ["FakeOpenAI", "Received", "Reply", "count_tokens", "prompt_tokens", "serve_fake", "text_pieces"]
