"""A long-running tool for the job tests: it takes a while, then writes its effect once per job."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

from tools.demo.specs import DEMO_ADD
from tools.spec import ToolContext, ToolSpec


async def slow_effect(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    await asyncio.sleep(float(arguments.get("seconds", 0)))
    effects = Path(os.environ["TOLLHOUSE_TEST_EFFECTS"])
    effects.mkdir(parents=True, exist_ok=True)
    # One file per job id: a job that runs again writes the same file, not a second effect.
    marker = effects / f"{ctx.job_id}.effect"
    with marker.open("a") as handle:
        handle.write(f"{ctx.user} {arguments['label']}\n")
    return {"label": arguments["label"], "user": ctx.user}


SLOW = dataclasses.replace(
    DEMO_ADD,
    name="test.slow",
    title="A slow job",
    description="Waits, then records one effect.",
    input_schema={
        "type": "object",
        "properties": {"label": {"type": "string"}, "seconds": {"type": "number", "minimum": 0, "maximum": 30}},
        "required": ["label"],
    },
    output_schema=None,
    handler=slow_effect,
    long_running=True,
)
SPECS: tuple[ToolSpec, ...] = (SLOW,)
