"""The ASOS Digital Experiments Dataset (Liu et al., NeurIPS 2021 Datasets and
Benchmarks, CC BY 4.0) as a matrix of per-experiment metric effects.

The file holds 78 real online experiments, some with several treatment
variants, each with 4 anonymised metrics as daily cumulative checkpoints:
per arm the unit count, the mean and the per-unit variance of the metric
(metric 1's variance is p(1 - p) of its mean, so it is a rate).

An observation is one treatment variant against control at its final
checkpoint (the largest ``time_since_start``, the same for all 4 metrics of a
variant). Its effect on a metric is Welch's z-statistic of the difference in
means::

    z = (mean_t - mean_c) / sqrt(variance_t / count_t + variance_c / count_c)

A variant is left out, and listed with the reason, when any metric's final
checkpoint has no variance (5 of 99: metrics 2-4 of experiments 3b4300 and
cf1b96 and df31d1 carry no variance at all), so every metric is measured on
the same variants. The relative lift ``mean_t / mean_c - 1`` is kept beside
z for a robustness check.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

FILE = Path("asos_experiments") / "asos_digital_experiments_dataset.csv"
KEY = ["experiment_id", "variant_id"]


class AsosDataMissing(FileNotFoundError):
    """The ASOS file is not where the settings say."""


@dataclass(frozen=True)
class Effects:
    z: pd.DataFrame  # one row per (experiment_id, variant_id), one column per metric ("metric_1", ...)
    lift: pd.DataFrame  # same shape: relative lift of the treatment mean over control
    excluded: list[tuple[str, int, str]]  # (experiment, variant, why)

    @property
    def experiments(self) -> int:
        return int(self.z.index.get_level_values("experiment_id").nunique())

    def as_lists(self) -> dict[str, list[float]]:
        return {str(name): [float(v) for v in column] for name, column in self.z.items()}


def data_file(data_dir: Path | None) -> Path:
    """The file under the data directory. Raises :class:`AsosDataMissing`."""
    if data_dir is None:
        raise AsosDataMissing("no data directory is configured (TOLLHOUSE_DATA_DIR)")
    path = data_dir / FILE
    if not path.exists():
        raise AsosDataMissing(f"{path} does not exist")
    return path


def final_checkpoint_effects(frame: pd.DataFrame) -> Effects:
    """Per variant and metric, the effect at the final checkpoint (see the module docstring)."""
    final = frame.loc[frame.groupby([*KEY, "metric_id"])["time_since_start"].idxmax()]
    standard_error = np.sqrt(final["variance_t"] / final["count_t"] + final["variance_c"] / final["count_c"])
    final = final.assign(
        z=(final["mean_t"] - final["mean_c"]) / standard_error,
        lift=final["mean_t"] / final["mean_c"] - 1.0,
        metric=final["metric_id"].map(lambda m: f"metric_{m}"),
    )
    by_metric = final.set_index([*KEY, "metric"])
    z = by_metric["z"].unstack("metric")
    lift = by_metric["lift"].unstack("metric")
    missing = z.isna() | ~np.isfinite(z)
    excluded = [
        (str(experiment), int(variant), "no variance at the final checkpoint for " + ", ".join(z.columns[row]))
        for (experiment, variant), row in zip(z.index, missing.to_numpy(), strict=True) if row.any()
    ]
    keep = ~missing.any(axis=1)
    return Effects(z[keep], lift[keep], excluded)


@lru_cache(maxsize=4)
def _load(path: Path, modified: float) -> Effects:
    return final_checkpoint_effects(pd.read_csv(path, dtype={"experiment_id": str}))


def load(data_dir: Path | None) -> Effects:
    """Read the shipped file (cached while it is unchanged). Raises :class:`AsosDataMissing`."""
    path = data_file(data_dir)
    return _load(path.resolve(), path.stat().st_mtime)
