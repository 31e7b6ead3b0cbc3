"""Prune A/B metrics that move together, keeping one representative per group.

Input is a matrix: per metric, one value per observation (an experiment's
effect on it, or a day of its series), the same observations for every metric.

- Groups: complete-linkage clustering on the distance ``1 - |r|``, cut at
  ``1 - threshold``, so that **every** pair inside a group has ``|r| >=
  threshold``. Single linkage (connected components of ``|r| >= threshold``)
  would chain A~B and B~C into one group even when A and C are unrelated, and
  then A could not stand for C.
- Representative: the target metric when it is in the group (the metric a
  team has promised to decide on is never dropped); otherwise the member most
  correlated on average with the rest of its group, ties to the earlier name.
- PCA on the standardised metrics (eigenvalues of the correlation matrix): how
  many components carry 95% of the variance, as an independent count of how
  many directions the metrics really span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import rankdata

Method = Literal["pearson", "spearman"]
DEFAULT_THRESHOLD = 0.8
VARIANCE_SHARE = 0.95
MIN_OBSERVATIONS = 3


class InvalidMatrix(ValueError):
    """The metric matrix cannot be correlated (too small, ragged, constant, non-finite, unknown target)."""


@dataclass(frozen=True)
class Represented:
    by: str
    r: float
    reason: str


@dataclass(frozen=True)
class Pruning:
    metrics: list[str]
    observations: int
    method: Method
    threshold: float
    correlation: NDArray[np.float64]
    groups: list[list[str]]
    kept: list[str]
    dropped: dict[str, Represented]
    explained_variance: list[float]
    components_95: int
    notes: list[str] = field(default_factory=list)


def correlation_matrix(matrix: NDArray[np.float64], method: Method) -> NDArray[np.float64]:
    """Pearson, or Spearman (Pearson on ranks: robust to the few huge experiments)."""
    values = np.apply_along_axis(rankdata, 0, matrix) if method == "spearman" else matrix
    corr = np.corrcoef(values, rowvar=False)
    return np.clip(corr, -1.0, 1.0)


def _validated(values: Mapping[str, Sequence[float]], target: str | None) -> tuple[list[str], NDArray[np.float64]]:
    names = list(values)
    if len(names) < 2:
        raise InvalidMatrix("give at least 2 metrics")
    lengths = {len(values[n]) for n in names}
    if len(lengths) != 1:
        raise InvalidMatrix("every metric needs one value per observation, the same observations for all")
    if lengths.pop() < MIN_OBSERVATIONS:
        raise InvalidMatrix(f"give at least {MIN_OBSERVATIONS} observations per metric")
    matrix = np.array([values[n] for n in names], dtype=np.float64).T
    if not np.isfinite(matrix).all():
        raise InvalidMatrix("every value must be a finite number")
    constant = [n for n, column in zip(names, matrix.T, strict=True) if np.ptp(column) == 0]
    if constant:
        raise InvalidMatrix(f"a constant metric has no correlation: {', '.join(constant)}")
    if target is not None and target not in values:
        raise InvalidMatrix(f"the target {target!r} is not among the metrics")
    return names, matrix


def _groups(corr: NDArray[np.float64], threshold: float) -> list[list[int]]:
    distance = 1.0 - np.abs(corr)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="complete")
    labels = fcluster(tree, t=1.0 - threshold, criterion="distance")
    grouped: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        grouped.setdefault(int(label), []).append(index)
    # Groups in the order of their first metric, members in input order.
    return sorted(grouped.values(), key=lambda members: members[0])


def _representative(members: list[int], corr: NDArray[np.float64], target: int | None) -> tuple[int, str]:
    if target is not None and target in members:
        return target, "the target metric"
    if len(members) == 1:
        return members[0], "alone in its group"
    centrality = [np.abs(corr[i, [j for j in members if j != i]]).mean() for i in members]
    best = int(np.argmax(centrality))  # argmax takes the first of equals: the earlier name
    return members[best], f"the group's most central member (mean |r| {centrality[best]:.3f} with the others)"


def prune(
    values: Mapping[str, Sequence[float]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    target: str | None = None,
    method: Method = "pearson",
) -> Pruning:
    """Group, choose representatives and count components. Raises :class:`InvalidMatrix`."""
    if not 0.0 < threshold <= 1.0:
        raise InvalidMatrix("the threshold is a correlation in (0, 1]")
    names, matrix = _validated(values, target)
    corr = correlation_matrix(matrix, method)
    target_index = names.index(target) if target is not None else None
    kept: list[str] = []
    dropped: dict[str, Represented] = {}
    groups = _groups(corr, threshold)
    for members in groups:
        chosen, why = _representative(members, corr, target_index)
        kept.append(names[chosen])
        for member in members:
            if member == chosen:
                continue
            r = float(corr[member, chosen])
            dropped[names[member]] = Represented(
                names[chosen], r,
                f"|r| = {abs(r):.3f} with {names[chosen]} (every pair in the group has |r| >= {threshold:g}); "
                f"{names[chosen]} is kept as {why}",
            )
    eigenvalues = np.clip(np.linalg.eigvalsh(corr)[::-1], 0.0, None)
    explained = eigenvalues / eigenvalues.sum()
    components = int(np.searchsorted(np.cumsum(explained), VARIANCE_SHARE - 1e-12) + 1)
    notes = []
    if matrix.shape[0] <= len(names):
        notes.append(f"{matrix.shape[0]} observations for {len(names)} metrics: the correlations are "
                     "rank-deficient, so the component count is bounded by the observations")
    return Pruning(
        metrics=names, observations=matrix.shape[0], method=method, threshold=threshold, correlation=corr,
        groups=[[names[i] for i in members] for members in groups], kept=kept, dropped=dropped,
        explained_variance=[float(v) for v in explained], components_95=min(components, len(names)), notes=notes,
    )
