"""Fixed item embeddings from text: the catalogue, TF-IDF + truncated SVD, and combinations.

Every embedding here is computed once from the catalogue and never trained
against users (a two-tower model fitted to users failed on data this sparse).
Rows are unit length, so an inner product is a cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class Catalogue:
    """The items a model can recommend: ids (stock codes) and one description each."""

    item_ids: NDArray[np.str_]
    descriptions: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.item_ids)

    def positions(self) -> dict[str, int]:
        """Item id -> row in every per-item array of a model."""
        return {str(item): row for row, item in enumerate(self.item_ids)}


def catalogue(lines: pd.DataFrame) -> Catalogue:
    """The distinct stock codes of ``lines`` (sorted), each with its most frequent description.

    A few codes carry several spellings over the year; the commonest is the
    one shoppers saw most. Ties go to the latest spelling.
    """
    counts = (
        lines.groupby(["StockCode", "Description"], sort=False)
        .agg(count=("Description", "size"), last=("InvoiceDate", "max"))
        .reset_index()
        .sort_values(["StockCode", "count", "last"], ascending=[True, False, False])
        .drop_duplicates("StockCode")
    )
    return Catalogue(
        item_ids=counts["StockCode"].to_numpy(dtype=str),
        descriptions=tuple(counts["Description"].astype(str)),
    )


def normalise_rows(matrix: NDArray[np.floating]) -> Matrix:
    """Rows scaled to unit length; an all-zero row (an item with no signal) stays zero."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def content_embeddings(descriptions: Sequence[str], dim: int = 64, seed: int = 0) -> Matrix:
    """TF-IDF over words (uni- and bigrams) and character n-grams, reduced by truncated SVD.

    Character n-grams catch the spelling variety of short product titles
    ("T-LIGHT", "TLIGHT", plurals) that whole words miss. No GPU, no download.
    Raises ``ValueError`` for fewer than two descriptions.
    """
    if len(descriptions) < 2:
        raise ValueError("content embeddings need at least two descriptions")
    texts = [text.lower() for text in descriptions]
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[a-z0-9]+")
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True, min_df=2)
    features = sp.hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
    # SVD cannot keep more components than the smaller side of the matrix.
    components = max(1, min(dim, features.shape[0] - 1, features.shape[1] - 1))
    reduced = TruncatedSVD(n_components=components, random_state=seed).fit_transform(features)
    return _pad(normalise_rows(reduced), dim)


def combine(parts: Sequence[tuple[Matrix, float]]) -> Matrix:
    """Concatenate unit-length embeddings scaled by sqrt(weight).

    With weights summing to one, the inner product of two combined rows is the
    weighted sum of the parts' cosines (before the final renormalisation,
    which only matters for items missing one part). Raises ``ValueError`` if
    the parts differ in length.
    """
    if len({len(matrix) for matrix, _ in parts}) != 1:
        raise ValueError("every part must have one row per item")
    scaled = [normalise_rows(matrix) * np.float32(np.sqrt(weight)) for matrix, weight in parts]
    return normalise_rows(np.hstack(scaled))


def _pad(matrix: Matrix, dim: int) -> Matrix:
    """Zero columns up to ``dim``, so a tiny catalogue keeps the configured width."""
    if matrix.shape[1] >= dim:
        return matrix
    return np.hstack([matrix, np.zeros((len(matrix), dim - matrix.shape[1]), dtype=np.float32)])
