"""The ASOS loader (Liu et al. 2021, CC BY 4.0): effects at the final checkpoint, and pruning on the real data."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.settings import Settings
from tools.metrics import asos
from tools.metrics.errors import DataUnavailable
from tools.metrics.prune import prune
from tools.metrics.specs import prune_metrics
from tools.spec import ToolContext, fixed_token

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _row(experiment: str, variant: int, metric: int, time: float, mean_t: float, variance: float | None) -> dict[str, object]:
    return {"experiment_id": experiment, "variant_id": variant, "metric_id": metric, "time_since_start": time,
            "count_c": 1000.0, "count_t": 1000.0, "mean_c": 1.0, "mean_t": mean_t,
            "variance_c": variance, "variance_t": variance}


def test_the_effect_is_welch_z_at_the_final_checkpoint_and_gaps_are_excluded_with_a_reason() -> None:
    frame = pd.DataFrame([
        _row("e1", 1, 1, 1.0, 5.0, 4.0),  # an early checkpoint: ignored
        _row("e1", 1, 1, 2.0, 1.2, 4.0),
        _row("e1", 1, 2, 2.0, 0.9, 1.0),
        _row("e2", 1, 1, 3.0, 1.1, 1.0),
        _row("e2", 1, 2, 3.0, 1.1, None),
    ])
    effects = asos.final_checkpoint_effects(frame)
    assert effects.z.shape == (1, 2)
    assert effects.z.loc[("e1", 1), "metric_1"] == pytest.approx(0.2 / math.sqrt(4.0 / 1000 * 2))
    assert effects.z.loc[("e1", 1), "metric_2"] == pytest.approx(-0.1 / math.sqrt(1.0 / 1000 * 2))
    assert effects.lift.loc[("e1", 1), "metric_1"] == pytest.approx(0.2)
    assert effects.excluded == [("e2", 1, "no variance at the final checkpoint for metric_2")]


async def test_no_data_directory_is_a_503_data_unavailable(tmp_path: Path) -> None:
    ctx = ToolContext(user="alice", agent="chat-bot", scopes=frozenset({"metrics:read"}), sign=fixed_token("t"), claims={},
                      trace_id=None, settings=Settings(), data_dir=None)
    with pytest.raises(DataUnavailable) as raised:
        await prune_metrics({"dataset": "asos"}, ctx)
    assert (raised.value.code, raised.value.status) == ("data_unavailable", 503)
    with pytest.raises(DataUnavailable):
        await prune_metrics({"dataset": "asos"}, dataclasses.replace(ctx, data_dir=tmp_path))


@pytest.fixture(scope="module")
def effects() -> asos.Effects:
    if not (DATA / asos.FILE).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{DATA / asos.FILE} is missing in CI")
        pytest.skip(f"{DATA / asos.FILE} is not here: the real-data test needs ../shared/data")
    return asos.load(DATA)


def test_the_real_matrix_is_94_variants_of_75_experiments(effects: asos.Effects) -> None:
    assert effects.z.shape == (94, 4)
    assert list(effects.z.columns) == ["metric_1", "metric_2", "metric_3", "metric_4"]
    assert effects.experiments == 75
    assert {(e, v) for e, v, _ in effects.excluded} == {("3b4300", 1), ("3b4300", 2), ("3b4300", 3), ("cf1b96", 1), ("df31d1", 1)}
    assert np.isfinite(effects.z.to_numpy()).all()


def test_pruning_the_real_metrics_keeps_one_of_four(effects: asos.Effects) -> None:
    result = prune(effects.as_lists(), threshold=0.8)
    off_diagonal = result.correlation[~np.eye(4, dtype=bool)]
    assert off_diagonal.min() > 0.85, "the four ASOS metrics move together across experiments"
    assert result.kept == ["metric_3"] and len(result.dropped) == 3, "metric 3 is the most central"
    assert result.components_95 == 2
