"""Every in-process tool this build ships, by name."""

from __future__ import annotations

from tools.demo.specs import SPECS as DEMO_SPECS
from tools.spec import ToolSpec


def in_process_tools() -> dict[str, ToolSpec]:
    return {spec.name: spec for spec in (*DEMO_SPECS,)}
