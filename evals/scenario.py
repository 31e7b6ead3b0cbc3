"""Eval scenarios: a goal, the policy case, and the expected call graph, validated from YAML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.goals import Goal
from agents.paths import parse

_BINDING = re.compile(r"^\s*(\w+)\.args\.(\w+)\s*<-\s*(\w+)\.output(?:\.(.+))?\s*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Matcher(Strict):
    """One argument check. Exactly one of the fields is set."""

    exact: Any = None
    one_of: list[Any] | None = None
    range: tuple[float, float] | None = None
    set: list[Any] | None = None
    tolerance: tuple[float, float] | None = None  # (value, absolute tolerance)
    present: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Matcher:
        given = [name for name in ("exact", "one_of", "range", "set", "tolerance", "present") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a matcher sets exactly one of exact, one_of, range, set, tolerance, present (got {given or 'none'})")
        return self


class Binding(Strict):
    target: str
    argument: str
    source: str
    path: str

    @classmethod
    def parse(cls, text: str) -> Binding:
        match = _BINDING.match(text)
        if match is None:
            raise ValueError(f"binding {text!r} is not of the form 'nB.args.NAME <- nA.output.PATH'")
        target, argument, source, path = match.groups()
        parse(path or "")
        return cls(target=target, argument=argument, source=source, path=path or "")


class Node(Strict):
    id: str = Field(pattern=r"^\w+$")
    tool: str
    args: dict[str, Matcher] = Field(default_factory=dict)
    bindings: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)

    def parsed_bindings(self) -> list[Binding]:
        return [Binding.parse(text) for text in self.bindings]


class ExpectedDenial(Strict):
    tool: str
    layer: str | None = None
    # At most this many attempts of the tool (0: the agent must not even try; 1: try once, never retry).
    max_attempts: int = Field(default=1, ge=0)
    # The final answer must mention one of these (it tells the user what was refused).
    surface: list[str] = Field(min_length=1)


class Oracle(Strict):
    """A deterministic check of the final answer (rendered as JSON text when structured)."""

    contains: list[str] = Field(default_factory=list)
    contains_any: list[str] = Field(default_factory=list)
    path_equals: dict[str, Any] = Field(default_factory=dict)
    path_length: dict[str, tuple[int, int]] = Field(default_factory=dict)


class Budgets(Strict):
    max_calls: int = 10
    max_seconds: float = 60.0


class Policy(Strict):
    user: str
    agent: str


class Scenario(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    split: Literal["dev", "test"]
    shape: Literal["single", "chain", "fan-out", "fan-in", "dag"]
    goal: Goal
    policy: Policy
    visible_tools: list[str]
    nodes: list[Node]
    forbidden: list[str] = Field(default_factory=list)
    denials: list[ExpectedDenial] = Field(default_factory=list)
    oracle: Oracle = Field(default_factory=Oracle)
    budgets: Budgets = Field(default_factory=Budgets)
    tags: list[str] = Field(default_factory=list)

    @field_validator("nodes")
    @classmethod
    def _unique_ids(cls, nodes: list[Node]) -> list[Node]:
        ids = [node.id for node in nodes]
        if len(ids) != len(set(ids)):
            raise ValueError("node ids must be unique")
        return nodes

    @model_validator(mode="after")
    def _graph_is_a_dag(self) -> Scenario:
        ids = {node.id for node in self.nodes}
        for node in self.nodes:
            for binding in node.parsed_bindings():
                if binding.target != node.id or binding.source not in ids:
                    raise ValueError(f"node {node.id}: binding must target itself and name a known source")
            unknown = set(node.after) - ids
            if unknown:
                raise ValueError(f"node {node.id}: 'after' names unknown nodes {sorted(unknown)}")
        order = topological_order(self)
        if len(order) != len(self.nodes):
            raise ValueError("the expected call graph has a cycle")
        return self

    def edges(self) -> set[tuple[str, str]]:
        found = {(b.source, b.target) for node in self.nodes for b in node.parsed_bindings()}
        found |= {(before, node.id) for node in self.nodes for before in node.after}
        return found

    @property
    def length(self) -> int:
        """The number of expected calls (0 for a scenario where nothing may run)."""
        return len(self.nodes)


def topological_order(scenario: Scenario) -> list[str]:
    edges = {(b.source, b.target) for node in scenario.nodes for b in node.parsed_bindings()}
    edges |= {(before, node.id) for node in scenario.nodes for before in node.after}
    remaining = {node.id for node in scenario.nodes}
    order: list[str] = []
    while remaining:
        ready = sorted(n for n in remaining if not any(t == n and s in remaining for s, t in edges))
        if not ready:
            break
        order.extend(ready)
        remaining -= set(ready)
    return order


def load_scenarios(directory: Path) -> list[Scenario]:
    """Every ``*.yaml`` file under ``directory`` (each a list of scenarios). Raises ``ValueError`` naming the file."""
    scenarios: list[Scenario] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            documents = yaml.safe_load(path.read_text(encoding="utf-8")) or []
            scenarios.extend(Scenario.model_validate(item) for item in documents)
        except (yaml.YAMLError, ValueError) as exc:
            raise ValueError(f"{path.name}: {exc}") from exc
    ids = [s.id for s in scenarios]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate scenario ids: {duplicates}")
    return scenarios
