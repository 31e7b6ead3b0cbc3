"""A scripted stand-in for a model, for running the LLM agent through the harness offline.

It reads the conversation the way a model would see it (the tools offered and
the tool results so far) and follows the scenario's structured goal step by
step, taking values from earlier tool results, stopping at a denial and
reporting it. It is deterministic: harness numbers measured with it measure the
harness and the agent loop, not a model.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from agents.goals import Goal
from agents.llm_agent import tool_name
from agents.paths import PathError, resolve


@dataclass(frozen=True)
class FakeTurn:
    text: str = ""
    tool: str | None = None
    arguments: dict[str, Any] | None = None


def _tool_results(messages: list[dict[str, Any]]) -> list[Any]:
    results: list[Any] = []
    for message in messages:
        if message.get("role") == "tool":
            try:
                results.append(json.loads(message.get("content") or "null"))
            except ValueError:
                results.append(message.get("content"))
    return results


def next_turn(goal: Goal, body: dict[str, Any]) -> FakeTurn:
    """What the scripted model answers to this request."""
    messages = body.get("messages", [])
    offered = {tool_name(f["function"]["name"]) for f in body.get("tools") or []}
    results = _tool_results(messages)
    outputs: dict[str, Any] = {}
    for step, result in zip(goal.steps, results, strict=False):
        outputs[step.id] = result
        if isinstance(result, dict) and (result.get("code") == "POLICY_DENIED" or "error" in result):
            why = result.get("reason") or result.get("error")
            return FakeTurn(text=f"I could not complete this: {step.capability} was refused ({result.get('layer', 'error')}): {why}")
    if len(results) < len(goal.steps):
        step = goal.steps[len(results)]
        wanted = step.capability.replace(" ", "_")
        candidates = sorted(t for t in offered if t.rsplit(".", 1)[-1] == wanted and (step.domain is None or t.startswith(step.domain + ".")))
        if not candidates:
            return FakeTurn(text=f"I have no tool that can {step.capability}, so I cannot do that for you.")
        arguments: dict[str, Any] = {}
        for name, value in step.args.items():
            if isinstance(value, dict) and "from" in value:
                try:
                    source = outputs[value["from"]]
                    value = resolve(source, value.get("path", "")) if value.get("path") else source
                except (KeyError, PathError):
                    return FakeTurn(text=f"I could not find the value for {name} in the earlier results.")
            arguments[name] = value
        return FakeTurn(tool=candidates[0], arguments=arguments)
    final: Any = outputs.get(goal.answer.source) if goal.answer else outputs
    if goal.answer is not None and goal.answer.path:
        with contextlib.suppress(PathError):
            final = resolve(final, goal.answer.path)
    return FakeTurn(text=f"Done. Result: {json.dumps(final, default=str)}")
