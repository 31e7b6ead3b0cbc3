"""The deterministic planner agent: the reference and the baseline.

From a structured goal and ``tools/list`` alone, it maps each step to a tool,
fills the arguments (literals, and values taken from earlier outputs), and
runs the steps in order. A denied step is never retried and never worked
around: its dependants are skipped and the final answer reports the denial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import mcp_types
from mcp.shared.exceptions import MCPError

from agents.client import GatewaySession
from agents.goals import Goal, GoalStep
from agents.paths import PathError, resolve

Status = Literal["ok", "denied", "error", "skipped", "no_tool"]


@dataclass
class StepOutcome:
    step: str
    status: Status
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    output: Any = None
    note: str = ""


@dataclass
class PlannerRun:
    outcomes: list[StepOutcome]
    answer: Any
    trace_id: str

    @property
    def denials(self) -> list[StepOutcome]:
        return [o for o in self.outcomes if o.status == "denied"]


def _normalise(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def choose_tool(step: GoalStep, tools: list[mcp_types.Tool]) -> tuple[mcp_types.Tool | None, str]:
    """The listed tool for a step's capability (and domain), or None with why."""
    wanted = _normalise(step.capability)
    matches = [
        tool for tool in tools
        if _normalise(tool.name.rsplit(".", 1)[-1]) == wanted
        and (step.domain is None or tool.name.split(".", 1)[0] == step.domain)
    ]
    if not matches:
        return None, f"no tool available to me can {step.capability}"
    if len(matches) > 1:
        return None, f"several tools can {step.capability} ({', '.join(t.name for t in matches)}); the goal must name a domain"
    return matches[0], ""


class PlannerAgent:
    name = "planner"

    async def run(self, session: GatewaySession, goal: Goal) -> PlannerRun:
        tools = await session.list_tools()
        outcomes: dict[str, StepOutcome] = {}
        for step in goal.steps:
            outcomes[step.id] = await self._run_step(session, step, tools, outcomes)
        return PlannerRun(list(outcomes.values()), self._answer(goal, outcomes), session.trace_id)

    async def _run_step(
        self, session: GatewaySession, step: GoalStep, tools: list[mcp_types.Tool], done: dict[str, StepOutcome]
    ) -> StepOutcome:
        failed = [ref.source for ref in step.references().values() if done[ref.source].status != "ok"]
        if failed:
            return StepOutcome(step.id, "skipped", note=f"depends on {', '.join(sorted(set(failed)))}, which did not succeed")
        tool, why = choose_tool(step, tools)
        if tool is None:
            return StepOutcome(step.id, "no_tool", note=why)
        try:
            arguments = self._arguments(step, tool, done)
        except (PathError, ValueError) as exc:
            return StepOutcome(step.id, "error", tool.name, note=str(exc))
        try:
            result = await session.call(tool.name, arguments)
        except MCPError as exc:
            return StepOutcome(step.id, "error", tool.name, arguments, note=exc.message)
        if result.denied is not None:
            denial = result.denied
            return StepOutcome(step.id, "denied", tool.name, arguments, output=denial,
                               note=f"denied by policy ({denial.get('layer')}): {denial.get('reason')}")
        if result.is_error:
            return StepOutcome(step.id, "error", tool.name, arguments, output=result.value, note="the tool reported an error")
        return StepOutcome(step.id, "ok", tool.name, arguments, output=result.value)

    @staticmethod
    def _arguments(step: GoalStep, tool: mcp_types.Tool, done: dict[str, StepOutcome]) -> dict[str, Any]:
        accepted = set((tool.input_schema or {}).get("properties", {}))
        arguments: dict[str, Any] = {}
        references = step.references()
        for name, value in step.args.items():
            if name not in accepted:
                raise ValueError(f"{tool.name} takes no argument {name!r}")
            if name in references:
                ref = references[name]
                source = done[ref.source].output
                value = resolve(source, ref.path) if ref.path else source
            arguments[name] = value
        return arguments

    @staticmethod
    def _answer(goal: Goal, outcomes: dict[str, StepOutcome]) -> Any:
        blocked = [o for o in outcomes.values() if o.status in ("denied", "no_tool")]
        answer: Any = None
        if goal.answer is not None and outcomes[goal.answer.source].status == "ok":
            output = outcomes[goal.answer.source].output
            try:
                answer = resolve(output, goal.answer.path) if goal.answer.path else output
            except PathError as exc:
                answer = {"error": str(exc)}
        elif goal.answer is None:
            answer = {o.step: o.output for o in outcomes.values() if o.status == "ok"}
        if blocked:
            # Surface what could not be done and why, never silently drop it.
            return {"answer": answer, "not_done": [{"step": o.step, "tool": o.tool, "status": o.status, "why": o.note} for o in blocked]}
        return {"answer": answer}
