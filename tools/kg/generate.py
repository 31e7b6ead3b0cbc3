"""Generate: candidate triples from behaviour (co-purchases) and text (descriptions).

COSMO's first stage proposes far more than is true and leaves the sorting to
a filter. :func:`catalogue_from_lines` turns cleaned invoice lines into what
the generators read (products, co-purchase pairs with their lift, seasonal
share); :class:`TemplateGenerator` is the deterministic generator: besides the
proposals its tables make for a product's own type, it copies the uses,
places, kinds and occasions of a product's co-purchase partners onto it and
proposes every strong co-purchase pair as ``complementOf`` and ``usedWith``,
which is exactly the noise (substitutes bought together, a mug "for" Easter
because it sat in an Easter basket) the filter has to remove.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
import pandas as pd
from scipy import sparse

from tools.kg.vocabulary import LOCATIONS, SUPERTYPES, USES, normalise, occasions_of, product_type


class Triple(NamedTuple):
    head: str
    relation: str
    tail: str


@dataclass(frozen=True)
class Candidate:
    """A proposed edge. ``head_item``/``tail_item`` are stock codes when an end is a product."""

    head: str
    relation: str
    tail: str
    head_item: str | None = None
    tail_item: str | None = None
    source: str = "template"
    evidence: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def triple(self) -> Triple:
        return Triple(self.head, self.relation, self.tail)

    @property
    def key(self) -> tuple[str, str, str, str | None, str | None]:
        return (self.head, self.relation, self.tail, self.head_item, self.tail_item)


@dataclass(frozen=True)
class CoPurchase:
    item_a: str
    item_b: str
    baskets: int
    lift: float


@dataclass
class Catalogue:
    """What the generators read: products by stock code, strong co-purchase pairs, seasonality."""

    products: dict[str, str]  # stock code -> description as sold
    pairs: list[CoPurchase]
    baskets: int
    christmas_share: dict[str, float] = field(default_factory=dict)  # share of units sold Sep-Dec

    def partners(self) -> dict[str, list[CoPurchase]]:
        """Each item's pairs, strongest lift first."""
        by_item: dict[str, list[CoPurchase]] = {}
        for pair in self.pairs:
            by_item.setdefault(pair.item_a, []).append(pair)
            by_item.setdefault(pair.item_b, []).append(pair)
        for pairs in by_item.values():
            pairs.sort(key=lambda p: (-p.lift, p.item_a, p.item_b))
        return by_item


def catalogue_from_lines(lines: pd.DataFrame, *, min_baskets: int = 10, partners_per_item: int = 8,
                         max_basket_items: int = 150) -> Catalogue:
    """Products, co-purchase pairs and seasonality from cleaned invoice lines (``tools.retail.data``).

    A basket is an invoice. A pair is kept when it shares at least ``min_baskets``
    baskets, its lift is above 1, and it is among the ``partners_per_item``
    highest-lift pairs of one of its items. Baskets of more than
    ``max_basket_items`` distinct items (stock-taking wholesale orders) are
    left out of the counts: they pair everything with everything.
    """
    products = (lines.groupby("StockCode")["Description"].agg(lambda s: s.value_counts().index[0]).to_dict())
    units = lines.assign(late=lines["InvoiceDate"].dt.month >= 9)
    by_season = units.groupby(["StockCode", "late"])["Quantity"].sum().unstack(fill_value=0)
    late = by_season[True] if True in by_season.columns else pd.Series(0, index=by_season.index)
    christmas_share = (late / by_season.sum(axis=1)).to_dict()
    items = lines[["InvoiceNo", "StockCode"]].drop_duplicates()
    sizes = items.groupby("InvoiceNo")["StockCode"].transform("size")
    items = items[sizes <= max_basket_items]
    codes = pd.Index(sorted(products))
    invoices = pd.Index(items["InvoiceNo"].unique())
    matrix = sparse.csr_matrix(
        (np.ones(len(items), dtype=np.float32), (invoices.get_indexer(items["InvoiceNo"]), codes.get_indexer(items["StockCode"]))),
        shape=(len(invoices), len(codes)),
    )
    together = sparse.triu(matrix.T @ matrix, k=1).tocoo()
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    keep = together.data >= min_baskets
    rows, cols, shared = together.row[keep], together.col[keep], together.data[keep]
    lift = shared * len(invoices) / (counts[rows] * counts[cols])
    frame = pd.DataFrame({"a": rows, "b": cols, "shared": shared.astype(int), "lift": lift})
    frame = frame[frame["lift"] > 1.0]
    # Top partners by lift from either end; a pair kept by either item stays.
    ranked_a = frame.sort_values(["lift", "b"], ascending=[False, True]).groupby("a").head(partners_per_item)
    ranked_b = frame.sort_values(["lift", "a"], ascending=[False, True]).groupby("b").head(partners_per_item)
    chosen = pd.concat([ranked_a, ranked_b]).drop_duplicates(["a", "b"]).sort_values(["a", "b"])
    pairs = [CoPurchase(str(codes[a]), str(codes[b]), int(n), round(float(lf), 3))
             for a, b, n, lf in chosen[["a", "b", "shared", "lift"]].itertuples(index=False)]
    return Catalogue(products={str(k): str(v) for k, v in products.items()}, pairs=pairs, baskets=len(invoices),
                     christmas_share={str(k): float(v) for k, v in christmas_share.items()})


class Generator(Protocol):
    name: str

    async def generate(self, catalogue: Catalogue) -> list[Candidate]:
        """Candidate triples for the catalogue."""
        ...


def deduplicate(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per (head, relation, tail, items); the first proposal's evidence is kept."""
    seen: dict[tuple[str, str, str, str | None, str | None], Candidate] = {}
    for candidate in candidates:
        seen.setdefault(candidate.key, candidate)
    return list(seen.values())


class TemplateGenerator:
    """The deterministic generator. ``borrow`` is how many co-purchase partners lend a product their facts."""

    name = "template"

    def __init__(self, *, borrow: int = 3, christmas_share: float = 0.6) -> None:
        self.borrow = borrow
        self.christmas_share = christmas_share

    async def generate(self, catalogue: Catalogue) -> list[Candidate]:
        return self.propose(catalogue)

    def propose(self, catalogue: Catalogue) -> list[Candidate]:
        """All candidates, deduplicated, in a stable order."""
        out: list[Candidate] = []
        partners = catalogue.partners()
        types = {item: product_type(text) for item, text in catalogue.products.items()}
        for item, description in sorted(catalogue.products.items()):
            head = normalise(description)
            own = types[item]
            out.extend(self._from_description(item, head, description, own))
            share = catalogue.christmas_share.get(item, 0.0)
            if share >= self.christmas_share:
                out.append(Candidate(head, "forOccasion", "christmas", head_item=item,
                                     evidence={"rule": "seasonal sales", "share_sep_dec": round(share, 3)}))
            for pair in partners.get(item, [])[: self.borrow]:
                other = pair.item_b if pair.item_a == item else pair.item_a
                out.extend(self._borrowed(item, head, other, catalogue.products[other], types[other], pair))
        for pair in catalogue.pairs:
            a, b = catalogue.products[pair.item_a], catalogue.products[pair.item_b]
            evidence = {"rule": "co-purchase", "baskets": pair.baskets, "lift": pair.lift}
            for relation in ("complementOf", "usedWith"):
                out.append(Candidate(normalise(a), relation, normalise(b), head_item=pair.item_a,
                                     tail_item=pair.item_b, evidence=evidence))
        for kind in sorted({t for t in types.values() if t is not None}):
            out.append(Candidate(kind, "isA", SUPERTYPES[kind], evidence={"rule": "type table"}))
            out.append(Candidate(kind, "usedFor", USES[kind], evidence={"rule": "type table"}))
            out.append(Candidate(kind, "atLocation", LOCATIONS[kind], evidence={"rule": "type table"}))
        return deduplicate(out)

    @staticmethod
    def _from_description(item: str, head: str, description: str, own: str | None) -> list[Candidate]:
        said = {"rule": "description", "description": description}
        out = [Candidate(head, "forOccasion", occasion, head_item=item, evidence=said)
               for occasion in occasions_of(description)]
        words = [w for w in head.replace(",", " ").split() if w.isalpha() and len(w) > 2]
        # The last word is often the noun ("... t-light holder") and often not ("... pantry design").
        if words and words[-1] != own:
            out.append(Candidate(head, "isA", words[-1], head_item=item, evidence={**said, "rule": "last word"}))
        if own is not None:
            out += [
                Candidate(head, "isA", own, head_item=item, evidence={**said, "rule": "type pattern"}),
                Candidate(head, "usedFor", USES[own], head_item=item, evidence={**said, "rule": "type pattern"}),
                Candidate(head, "atLocation", LOCATIONS[own], head_item=item, evidence={**said, "rule": "type pattern"}),
            ]
        return out

    @staticmethod
    def _borrowed(item: str, head: str, other: str, other_text: str, other_type: str | None,
                  pair: CoPurchase) -> list[Candidate]:
        evidence = {"rule": "borrowed from a co-purchase partner", "partner": other, "baskets": pair.baskets,
                    "lift": pair.lift}
        out = [Candidate(head, "forOccasion", occasion, head_item=item, evidence=evidence)
               for occasion in occasions_of(other_text)]
        if other_type is not None:
            out += [
                Candidate(head, "isA", other_type, head_item=item, evidence=evidence),
                Candidate(head, "usedFor", USES[other_type], head_item=item, evidence=evidence),
                Candidate(head, "atLocation", LOCATIONS[other_type], head_item=item, evidence=evidence),
            ]
        return out
