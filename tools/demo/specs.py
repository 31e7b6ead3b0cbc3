"""``demo.add``: the smallest tool that exercises the whole governed path."""

from __future__ import annotations

from typing import Any

from tools.spec import ToolContext, ToolSpec


async def add(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    return {"sum": arguments["a"] + arguments["b"]}


DEMO_ADD = ToolSpec(
    name="demo.add",
    title="Add two numbers",
    description="Adds two numbers and returns their sum.",
    input_schema={
        "type": "object",
        "properties": {
            "a": {"type": "number", "description": "The first addend."},
            "b": {"type": "number", "description": "The second addend."},
        },
        "required": ["a", "b"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {"sum": {"type": "number"}},
        "required": ["sum"],
    },
    annotations={"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
    handler=add,
    owning_team="platform-tools",
    required_scopes=("demo:use",),
    risk_class="low",
    data_classification="public",
)

SPECS: tuple[ToolSpec, ...] = (DEMO_ADD,)
