"""The structured goal a planner agent works from: steps by capability, with references.

A step names a capability (matched against tool names in ``tools/list``, e.g.
``recommend`` finds ``recsys.recommend``), optionally a domain (the tool-name
prefix), and arguments: literal values, or ``{"from": "<step>", "path": "..."}``
to take a value from an earlier step's output. The goal never names tools or
their schemas' details beyond argument names, and carries no expected answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Ref(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    path: str = ""


class GoalStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    capability: str
    domain: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    def references(self) -> dict[str, Ref]:
        return {name: Ref.model_validate(value) for name, value in self.args.items() if isinstance(value, dict) and "from" in value}


class Goal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    steps: list[GoalStep] = Field(min_length=1)
    # What the final answer reports: a step's output (at a path), or every step's.
    answer: Ref | None = None

    @model_validator(mode="after")
    def _references_point_back(self) -> Goal:
        seen: set[str] = set()
        for step in self.steps:
            for name, ref in step.references().items():
                if ref.source not in seen:
                    raise ValueError(f"step {step.id}: argument {name} refers to {ref.source!r}, which is not an earlier step")
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            seen.add(step.id)
        if self.answer is not None and self.answer.source not in seen:
            raise ValueError(f"answer refers to unknown step {self.answer.source!r}")
        return self
