"""The LLM agent: a tool-calling loop through litellm, pointed at the gateway's own LLM endpoint.

Every inference goes through ``/v1/chat/completions`` with the delegated token,
so it is governed and logged like a tool call; the approved tools of
``tools/list`` are its function list. When a call is denied by policy it tells
the user what was refused and why; it never repeats a denied call, and it is
told not to reach the same data another way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import mcp_types
from mcp.shared.exceptions import MCPError

from agents.client import GatewaySession

SYSTEM_PROMPT = (
    "You are an assistant that uses governed tools on behalf of a user. Use the tools to reach the goal, "
    "passing values from earlier results into later calls. If a tool result says POLICY_DENIED, do not call "
    "that tool again and do not try to obtain the same data through another tool: tell the user what was "
    "refused and why, then finish with what you could do."
)


def function_name(tool: str) -> str:
    # OpenAI function names allow letters, digits, '_' and '-': a dot is not allowed.
    return tool.replace(".", "__")


def tool_name(function: str) -> str:
    return function.replace("__", ".")


def as_function(tool: mcp_types.Tool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": function_name(tool.name),
            "description": (tool.description or "")[:1024],
            "parameters": tool.input_schema or {"type": "object", "properties": {}},
        },
    }


@dataclass
class LlmRun:
    answer: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    denials: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0
    trace_id: str = ""


def _litellm() -> Any:
    # No network at import: the cost map ships with the package.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


class LlmAgent:
    name = "llm"

    def __init__(self, model: str, *, max_turns: int = 12, temperature: float = 0.0) -> None:
        self.model = model
        self.max_turns = max_turns
        self.temperature = temperature

    async def run(self, session: GatewaySession, goal_text: str, history: list[dict[str, Any]] | None = None) -> LlmRun:
        """Work toward ``goal_text``; ``history`` (if given) is extended in place for a chat."""
        litellm = _litellm()
        tools = await session.list_tools()
        functions = [as_function(tool) for tool in tools]
        messages = history if history is not None else []
        if not messages:
            messages.append({"role": "system", "content": SYSTEM_PROMPT})
        messages.append({"role": "user", "content": goal_text})
        run = LlmRun(answer="", trace_id=session.trace_id)
        refused: set[str] = set()
        for _ in range(self.max_turns):
            run.turns += 1
            response = await litellm.acompletion(
                model=f"openai/{self.model}",
                api_base=f"{session.gateway_url.rstrip('/')}/v1",
                api_key=session.token,
                messages=messages,
                tools=functions or None,
                temperature=self.temperature,
                extra_headers={"traceparent": session.traceparent},
            )
            message = response.choices[0].message
            calls = message.tool_calls or []
            messages.append({
                "role": "assistant",
                "content": message.content,
                **({"tool_calls": [call.model_dump() for call in calls]} if calls else {}),
            })
            if not calls:
                run.answer = message.content or ""
                return run
            for call in calls:
                messages.append({"role": "tool", "tool_call_id": call.id, "content": await self._call(session, call, run, refused)})
        run.answer = "I stopped after the maximum number of steps without finishing."
        return run

    async def _call(self, session: GatewaySession, call: Any, run: LlmRun, refused: set[str]) -> str:
        name = tool_name(call.function.name)
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except ValueError:
            return json.dumps({"error": "the arguments were not valid JSON"})
        key = f"{name}:{json.dumps(arguments, sort_keys=True)}"
        if key in refused:
            # The model asked again for a call already denied: it is not sent.
            return json.dumps({"error": "this exact call was already denied by policy; it was not sent again"})
        try:
            result = await session.call(name, arguments)
        except MCPError as exc:
            run.calls.append({"tool": name, "arguments": arguments, "error": exc.message})
            return json.dumps({"error": exc.message})
        run.calls.append({"tool": name, "arguments": arguments, "is_error": result.is_error})
        if result.denied is not None:
            refused.add(key)
            run.denials.append({"tool": name, **result.denied})
        return result.text if result.structured is None else json.dumps(result.structured)
