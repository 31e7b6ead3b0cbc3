"""Run scenarios against a gateway with an agent, k trials each, and score them from the audit log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from agents.client import open_session
from agents.identity import ExchangeRefused, load_agent_key
from agents.llm_agent import LlmAgent
from agents.planner import PlannerAgent
from evals.scenario import Scenario
from evals.scorer import Score, score
from evals.trajectory import calls_from_records, fetch_records

AgentKind = Literal["planner", "llm"]


@dataclass
class Trial:
    scenario: str
    trial: int
    trace_id: str
    seconds: float
    answer: Any
    score: Score
    error: str | None = None


@dataclass
class EvalConfig:
    gateway_url: str
    agent: AgentKind
    user_token: Callable[[str], str]
    auditor_token: str
    agents_dir: Path
    trials: int = 1
    model: str = ""
    # Called before each LLM-agent trial with the scenario (a scripted model uses it).
    on_scenario: Callable[[Scenario], None] | None = None
    results: list[Trial] = field(default_factory=list)


async def _run_agent(config: EvalConfig, scenario: Scenario) -> tuple[str, Any]:
    key = load_agent_key(config.agents_dir / f"{scenario.policy.agent}.pem")
    async with open_session(
        config.gateway_url, user_token=config.user_token(scenario.policy.user), agent_id=scenario.policy.agent, agent_key=key
    ) as session:
        if config.agent == "planner":
            run = await PlannerAgent().run(session, scenario.goal)
            return session.trace_id, run.answer
        if config.on_scenario is not None:
            config.on_scenario(scenario)
        llm_run = await LlmAgent(config.model).run(session, scenario.goal.text)
        return session.trace_id, llm_run.answer


async def run_trial(config: EvalConfig, scenario: Scenario, trial: int) -> Trial:
    """One trial: the agent runs, then the trajectory is read back from the audit log and scored."""
    started = time.perf_counter()
    error: str | None = None
    trace_id, answer = "", None
    try:
        trace_id, answer = await asyncio.wait_for(_run_agent(config, scenario), timeout=scenario.budgets.max_seconds)
    except TimeoutError:
        error = f"over the time budget of {scenario.budgets.max_seconds} s"
    except ExchangeRefused as exc:
        error = exc.message
    calls = calls_from_records(await fetch_records(config.gateway_url, config.auditor_token, trace_id)) if trace_id else []
    result = score(scenario, calls, answer)
    if len(calls) > scenario.budgets.max_calls:
        result.failures.append("over_budget")
        result.chain_success = False
    if error is not None:
        result.failures.append("agent_error")
        result.chain_success = False
    return Trial(scenario.id, trial, trace_id, time.perf_counter() - started, answer, result, error)


async def run_all(config: EvalConfig, scenarios: list[Scenario]) -> list[Trial]:
    """Every scenario, ``config.trials`` times, one after another (trials must not share budgets)."""
    trials = []
    for scenario in scenarios:
        for trial in range(config.trials):
            trials.append(await run_trial(config, scenario, trial))
    config.results = trials
    return trials


def trial_dict(trial: Trial) -> dict[str, Any]:
    return {**asdict(trial), "score": asdict(trial.score)}
