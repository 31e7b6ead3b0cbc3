"""The co-purchase graph: who bought what together, as counts, neighbours and an embedding.

Computed from training-period purchases only. PinnerSage's item embeddings came
from a graph of engagement, not from text; here the graph is the item
co-purchase matrix and the embedding a truncated SVD of its positive PMI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.utils.extmath import randomized_svd

from tools.recsys.embeddings import Matrix, normalise_rows

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Neighbours:
    """Each item's ``m`` nearest co-purchase neighbours: ids (-1 pads) and cosine similarities."""

    ids: NDArray[np.int32]
    sims: NDArray[np.float32]

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.sims.nbytes)


def cooccurrence(groups: IntArray, items: IntArray, n_items: int) -> sp.csr_matrix:
    """Item x item counts of the groups (customers or baskets) that hold both items.

    The diagonal holds how many groups hold each item. A group buying an item
    twice counts once: repeat orders of one wholesale buyer are not evidence
    that two items go together. Raises ``ValueError`` if the arrays differ in length.
    """
    if len(groups) != len(items):
        raise ValueError("groups and items must have the same length")
    _, group_rows = np.unique(groups, return_inverse=True)
    owned = sp.csr_matrix(
        (np.ones(len(items), dtype=np.float32), (group_rows, items)),
        shape=(int(group_rows.max(initial=-1)) + 1, n_items),
    )
    owned.sum_duplicates()
    owned.data[:] = 1.0
    return (owned.T @ owned).tocsr()


def _off_diagonal(counts: sp.csr_matrix) -> sp.csr_matrix:
    off = (counts - sp.diags(counts.diagonal())).tocsr()
    off.eliminate_zeros()
    return off


def behaviour_embeddings(counts: sp.csr_matrix, dim: int = 64, smoothing: float = 0.75, seed: int = 0) -> Matrix:
    """Unit-length rows of U * sqrt(S) from a truncated SVD of the positive PMI matrix.

    ``smoothing`` raises context counts to a power below one (Levy and
    Goldberg's context distribution smoothing), which stops rare items from
    getting huge PMI values. An item never bought with another gets a zero row.
    """
    off = _off_diagonal(counts).tocoo()
    n_items = counts.shape[0]
    if off.nnz == 0:
        return np.zeros((n_items, dim), dtype=np.float32)
    row_totals = np.asarray(off.sum(axis=1)).ravel()
    context = np.asarray(off.sum(axis=0)).ravel() ** smoothing
    # PMI = log P(i, j) / (P(i) P_smoothed(j)) = log n_ij * sum(context) / (n_i * context_j).
    pmi = np.log(off.data * context.sum() / (row_totals[off.row] * context[off.col]))
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep].astype(np.float32), (off.row[keep], off.col[keep])), shape=off.shape)
    components = max(1, min(dim, n_items - 1))
    u, s, _ = randomized_svd(ppmi, n_components=components, random_state=seed)
    embedded = normalise_rows(u * np.sqrt(s))
    if components < dim:
        embedded = np.hstack([embedded, np.zeros((n_items, dim - components), dtype=np.float32)])
    return embedded


def item_neighbours(counts: sp.csr_matrix, m: int = 100, shrink: float = 0.0, exponent: float = 0.5) -> Neighbours:
    """Top-``m`` co-purchase neighbours of every item: n_ij / (n_i^(1 - e) * n_j^e + shrink).

    With ``exponent`` e = 0.5 this is the cosine of the two buyer sets; towards
    0 it becomes P(j | i), which favours items many people buy. ``shrink``
    discounts pairs seen only a few times.
    """
    off = _off_diagonal(counts)
    own = counts.diagonal().astype(np.float64)
    n_items = counts.shape[0]
    ids = np.full((n_items, m), -1, dtype=np.int32)
    sims = np.zeros((n_items, m), dtype=np.float32)
    for row in range(n_items):
        start, end = off.indptr[row], off.indptr[row + 1]
        if start == end:
            continue
        cols = off.indices[start:end]
        cosine = off.data[start:end] / (own[row] ** (1.0 - exponent) * own[cols] ** exponent + shrink)
        take = min(m, len(cols))
        best = np.argpartition(-cosine, take - 1)[:take]
        # Ties broken by item id keep the table reproducible across platforms.
        best = best[np.lexsort((cols[best], -cosine[best]))]
        ids[row, :take] = cols[best]
        sims[row, :take] = cosine[best]
    return Neighbours(ids=ids, sims=sims)
