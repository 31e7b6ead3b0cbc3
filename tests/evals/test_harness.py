"""The harness end to end: a served gateway, the planner and the LLM agent, trajectories from the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.cli import evaluate
from migrations import upgrade

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.mark.parametrize(("agent", "fake"), [("planner", False), ("llm", True)])
async def test_the_harness_scores_agents_from_the_gateways_records(agent: str, fake: bool, tmp_path: Path) -> None:
    summary = await evaluate(
        agent=agent, split="test", url=None, trials=2, model="", fake_model=fake, out=tmp_path,
        scenarios_dir=SCENARIOS, data_dir=None, migrate=upgrade,
    )
    assert summary["overall"]["scenarios"] == 3
    assert summary["overall"]["pass@1"] == 1.0, summary["failures"]
    assert summary["overall"]["pass^2"] == 1.0
    assert (tmp_path / f"eval-{agent}.png").stat().st_size > 1000
    report = (tmp_path / f"eval-{agent}.md").read_text()
    assert "By chain length" in report
    if fake:
        assert "scripted fake model" in report
