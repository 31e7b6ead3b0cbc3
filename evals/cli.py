"""``tollhouse eval run``: score an agent on the scenarios, against a served gateway or in-process."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import typer

from core.cli_client import fail
from core.settings import get_settings

SCENARIOS = Path(__file__).parent / "scenarios"


class _ScriptedModel:
    """Feeds the current scenario's goal to the scripted fake model."""

    def __init__(self) -> None:
        self.scenario: Any = None

    def __call__(self, body: dict[str, Any]) -> Any:
        from evals.fake_model import next_turn
        from evals.fake_provider import Reply

        assert self.scenario is not None
        turn = next_turn(self.scenario.goal, body)
        return Reply(text=turn.text, tool=turn.tool.replace(".", "__") if turn.tool else None, arguments=turn.arguments or {})


@asynccontextmanager
async def _gateway(url: str | None, data_dir: Path | None, migrate: Callable[[str], None], fake: str | None) -> AsyncIterator[tuple[str, Any, Path]]:
    from core.auth import DevIssuer
    from evals.environment import in_process_gateway

    if url:
        settings = get_settings()
        yield url, DevIssuer(settings.home, settings.auth), settings.home / "agents"
        return
    async with in_process_gateway(data_dir, migrate=migrate, llm_base_url=fake) as gateway:
        yield gateway.url, gateway.issuer, gateway.agents_dir


async def evaluate(
    *, agent: str, split: str, url: str | None, trials: int, model: str, fake_model: bool,
    out: Path, scenarios_dir: Path, data_dir: Path | None, migrate: Callable[[str], None],
) -> dict[str, Any]:
    """Run the scenarios of a split and write the report; returns its summary."""
    # Imported here so that the rest of the CLI starts without the gateway stack.
    from evals import report
    from evals.harness import EvalConfig, run_all
    from evals.scenario import load_scenarios

    scenarios = [s for s in load_scenarios(scenarios_dir) if split == "all" or s.split == split]
    if not scenarios:
        raise ValueError(f"no scenarios in split {split!r}")
    scripted = _ScriptedModel()
    note = ""
    if agent == "llm" and fake_model:
        note = ("The LLM agent ran against a scripted fake model (deterministic, served on loopback through the "
                "gateway's LLM endpoint): these numbers measure the harness and the agent loop, not a model.")
    async with _fake(agent == "llm" and fake_model, scripted) as fake_url, _gateway(url, data_dir, migrate, fake_url) as (gateway_url, issuer, agents_dir):
        config = EvalConfig(
            gateway_url=gateway_url, agent=agent, user_token=issuer.issue_for, auditor_token=issuer.issue_for("erin"),  # type: ignore[arg-type]
            agents_dir=agents_dir, trials=trials, model=model if not fake_model else "fake-model",
            on_scenario=lambda s: setattr(scripted, "scenario", s),
        )
        trials_run = await run_all(config, scenarios)
    summary = report.summarise(trials_run, scenarios, agent=agent, k=trials, note=note)
    header = (f"# Eval: {agent} agent, split {split}, {len(scenarios)} scenarios × {trials} trial(s)\n\n"
              f"{dt.date.today().isoformat()}; `tollhouse eval run --agent {agent} --split {split} --trials {trials}"
              f"{' --fake-model' if fake_model and agent == 'llm' else ''}`; trajectories read from the gateway's audit log by trace id.")
    report.write(trials_run, summary, out, header)
    return summary


@asynccontextmanager
async def _fake(enabled: bool, scripted: _ScriptedModel) -> AsyncIterator[str | None]:
    if not enabled:
        yield None
        return
    from evals.fake_provider import serve_fake

    async with serve_fake(responder=scripted) as (_, base_url):
        yield base_url


def build_eval_app(migrate: Callable[[str], None]) -> typer.Typer:
    app = typer.Typer(help="Score agents on multi-tool chains from the gateway's own records.", no_args_is_help=True)

    @app.command("run")
    def run(
        agent: str = typer.Option("planner", "--agent", help="planner or llm"),
        split: str = typer.Option("test", "--split", help="dev, test or all"),
        url: str | None = typer.Option(None, "--url", help="A served gateway (dev mode); default: start one in-process."),
        trials: int = typer.Option(1, "--trials", min=1, max=20),
        model: str = typer.Option("", "--model", help="LLM agent: the model name the gateway offers."),
        fake_model: bool = typer.Option(False, "--fake-model", help="LLM agent: use the scripted fake model (offline)."),
        out: Path = typer.Option(Path("bench/results"), "--out"),
        scenarios: Path = typer.Option(SCENARIOS, "--scenarios"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="Default: the configured data directory."),
    ) -> None:
        """Run the scenarios and write the report (Markdown, JSON and a PNG plot)."""
        if agent not in ("planner", "llm"):
            fail("--agent is planner or llm")
        if agent == "llm" and not (model or fake_model):
            fail("the LLM agent needs --model (a model the gateway offers) or --fake-model")
        summary = asyncio.run(evaluate(
            agent=agent, split=split, url=url, trials=trials, model=model, fake_model=fake_model, out=out,
            scenarios_dir=scenarios, data_dir=data_dir or get_settings().data_path, migrate=migrate,
        ))
        overall = summary["overall"]
        typer.echo(f"{agent}: pass@1 {overall['pass@1']:.2f} over {overall['scenarios']} scenarios; report in {out}")

    return app
