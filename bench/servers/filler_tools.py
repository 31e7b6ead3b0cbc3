"""200 in-process filler tools, so ``tools/list`` can be measured with a realistic catalogue."""

from __future__ import annotations

import dataclasses

from tools.demo.specs import DEMO_ADD
from tools.spec import ToolSpec

SPECS: tuple[ToolSpec, ...] = tuple(
    dataclasses.replace(DEMO_ADD, name=f"bench.tool_{i:03d}", title=f"Filler {i}", description=f"Filler tool {i}: adds two numbers.")
    for i in range(199)
)
