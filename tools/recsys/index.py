"""Nearest-neighbour search over unit-length item embeddings: exact below a size, HNSW above.

usearch is the ANN library: an HNSW graph in a small wheel with no torch and no
BLAS of its own, f16/i8 storage to halve or quarter memory, multi-threaded
builds, and sub-millisecond queries at a million items. faiss-cpu is larger
and its HNSW offers nothing more here; hnswlib has no half-precision storage.
Below ``exact_below`` items one matrix product is exact and faster than a graph.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController
from usearch.index import Index

from tools.recsys.embeddings import Matrix

Storage = Literal["f32", "f16", "i8"]


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    # Scanning the loaded BLAS libraries takes milliseconds; do it once.
    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[object]:
    """Run small matrix products on one thread.

    A multi-threaded BLAS on a busy two-core machine turned a 0.3 ms product
    into 16 ms; a request's products are small, and requests run side by side.
    """
    return _threadpools().limit(limits=1, user_api="blas")


@dataclass(frozen=True)
class IndexSettings:
    exact_below: int = 50_000
    storage: Storage = "f16"
    # HNSW's M, efConstruction and ef: recall above 0.95 at k=100 on clustered data.
    connectivity: int = 16
    expansion_add: int = 64
    expansion_search: int = 96
    threads: int = 2


class VectorIndex:
    """Inner-product search. ``search`` returns ids (-1 pads) and similarities, best first."""

    def __init__(self, vectors: Matrix, settings: IndexSettings | None = None) -> None:
        """Raises ``ValueError`` for a matrix that is not two-dimensional."""
        if vectors.ndim != 2:
            raise ValueError("vectors must be a matrix")
        self.settings = settings or IndexSettings()
        self.size, self.dim = vectors.shape
        self._vectors: Matrix | None = None
        self._hnsw: Index | None = None
        if self.size < self.settings.exact_below:
            self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        else:
            self._hnsw = Index(
                ndim=self.dim,
                metric="ip",
                dtype=self.settings.storage,
                connectivity=self.settings.connectivity,
                expansion_add=self.settings.expansion_add,
                expansion_search=self.settings.expansion_search,
            )
            self._hnsw.add(np.arange(self.size, dtype=np.uint64), np.ascontiguousarray(vectors, dtype=np.float32), threads=self.settings.threads)

    @property
    def kind(self) -> str:
        return "exact" if self._hnsw is None else f"hnsw-{self.settings.storage}"

    @property
    def nbytes(self) -> int:
        """Memory held by the index (vectors plus graph)."""
        if self._hnsw is not None:
            return int(self._hnsw.memory_usage)
        assert self._vectors is not None
        return int(self._vectors.nbytes)

    def search(self, queries: Matrix, k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The ``k`` most similar items to each query row."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        k = max(0, min(k, self.size))
        if k == 0 or len(queries) == 0:
            return np.zeros((len(queries), 0), dtype=np.int64), np.zeros((len(queries), 0), dtype=np.float32)
        if self._hnsw is not None:
            # One thread per request: the server runs requests side by side.
            found = self._hnsw.search(queries, k, threads=1)
            ids = np.full((len(queries), k), -1, dtype=np.int64)
            sims = np.zeros((len(queries), k), dtype=np.float32)
            # One query gives flat arrays cut to what was found; a batch gives padded rows and counts.
            keys = np.atleast_2d(np.asarray(found.keys, dtype=np.int64))
            distances = np.atleast_2d(np.asarray(found.distances, dtype=np.float32))
            counts = np.asarray(getattr(found, "counts", [keys.shape[1]])).reshape(-1)
            for row, count in enumerate(counts):
                ids[row, :count] = keys[row, :count]
                # usearch's "ip" distance is 1 - inner product.
                sims[row, :count] = 1.0 - distances[row, :count]
            return ids, sims
        assert self._vectors is not None
        with one_blas_thread():
            scores = queries @ self._vectors.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1).astype(np.int64), np.take_along_axis(top_scores, order, axis=1)
