"""Price features for order or offer lines: what a model should see besides one continuous price.

A price of 0.00 is its own regime, not the left end of a line: people treat
"free" differently from "nearly free" (the zero-price effect). So the features
are the price's components and flags, each computed in whole cents so that
0.00 and 0.01 never blur:

- ``is_free``: the unit price shows as 0.00 (rounds to zero cents);
- ``is_free_shipping``: shipping is known and shows as 0.00 (unknown stays null,
  never "free"); shipping is its own component, and its share of the line total;
- discount depth against a list price, when one is given;
- components: whole units, cents, ``log(1 + price)``, the left digit;
- charm endings: .99, .95, any ending in 9, and round prices;
- interactions ``is_free:<category>`` and ``is_free_shipping:<category>``, so a
  model can learn that free matters more in some categories than in others.

Everything here is a pure function over arrays (the benchmark runs it over
half a million Online Retail lines) with a thin wrapper for JSON lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]


@dataclass(frozen=True)
class PriceFeatures:
    """One entry per line in every array. NaN marks "not given" in the float columns."""

    unit_price: Floats
    quantity: Floats
    cents: Ints  # the unit price in whole cents
    is_free: Bools
    shipping: Floats
    is_free_shipping: Floats  # 1.0, 0.0, or NaN when shipping is unknown
    item_total: Floats
    line_total: Floats  # items plus shipping (unknown shipping counts as 0)
    shipping_share: Floats
    list_price: Floats
    discount_depth: Floats
    whole_units: Ints
    cents_part: Ints
    log_price: Floats
    left_digit: Ints
    ends_99: Bools
    ends_95: Bools
    ends_9: Bools
    is_round: Bools
    category: NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.unit_price)


def to_cents(amount: Floats) -> Ints:
    """Whole cents, rounded half to even: binary floats like 2.675 must not flip a flag."""
    return np.rint(np.asarray(amount, dtype=np.float64) * 100.0).astype(np.int64)


def _left_digit(cents: Ints) -> Ints:
    """The first digit of the displayed price: 2 for 2.99, 3 for 3.00, 0 for 0.85."""
    whole = cents // 100
    digits = np.floor(np.log10(np.maximum(whole, 1))).astype(np.int64)
    return np.where(whole > 0, whole // (10 ** digits), 0)


def _optional(values: Sequence[float | None] | Floats | None, size: int) -> Floats:
    if values is None:
        return np.full(size, np.nan)
    if isinstance(values, np.ndarray):
        return values.astype(np.float64)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def compute(
    unit_price: Sequence[float] | Floats,
    quantity: Sequence[float] | Floats | None = None,
    shipping: Sequence[float | None] | Floats | None = None,
    list_price: Sequence[float | None] | Floats | None = None,
    category: Sequence[str | None] | None = None,
) -> PriceFeatures:
    """The features of every line; missing optional columns are "not given".

    Raises ``ValueError`` for a negative or non-finite price, shipping or list
    price, a quantity below 1, or columns of different lengths.
    """
    price = np.asarray(unit_price, dtype=np.float64)
    size = len(price)
    qty = np.ones(size) if quantity is None else np.asarray(quantity, dtype=np.float64)
    ship = _optional(shipping, size)
    listed = _optional(list_price, size)
    cats = np.array([None] * size if category is None else list(category), dtype=object)
    if not all(len(column) == size for column in (qty, ship, listed, cats)):
        raise ValueError("every column must have one entry per line")
    if not np.isfinite(price).all() or (price < 0).any():
        raise ValueError("unit prices must be finite and not negative")
    if not np.isfinite(qty).all() or (qty < 1).any():
        raise ValueError("quantities must be at least 1")
    if (ship < 0).any() or np.isinf(ship).any():
        raise ValueError("shipping must be finite and not negative")
    if (listed <= 0).any() or np.isinf(listed).any():
        raise ValueError("list prices must be finite and positive")

    cents = to_cents(price)
    is_free = cents == 0
    ship_known = ~np.isnan(ship)
    is_free_shipping = np.where(ship_known, (to_cents(np.nan_to_num(ship)) == 0).astype(np.float64), np.nan)
    item_total = price * qty
    line_total = item_total + np.nan_to_num(ship)
    with np.errstate(invalid="ignore", divide="ignore"):
        shipping_share = np.where(ship_known & (line_total > 0), ship / line_total, np.nan)
        # A price above list is a surcharge, not a negative discount: depth 0.
        depth = np.where(np.isnan(listed), np.nan, np.clip(1.0 - price / listed, 0.0, 1.0))
    cents_part = cents % 100
    return PriceFeatures(
        unit_price=price,
        quantity=qty,
        cents=cents,
        is_free=is_free,
        shipping=ship,
        is_free_shipping=is_free_shipping,
        item_total=item_total,
        line_total=line_total,
        shipping_share=shipping_share,
        list_price=listed,
        discount_depth=depth,
        whole_units=cents // 100,
        cents_part=cents_part,
        log_price=np.log1p(price),
        left_digit=_left_digit(cents),
        ends_99=(cents_part == 99),
        ends_95=(cents_part == 95),
        ends_9=(cents_part % 10 == 9),
        is_round=(cents_part == 0) & ~is_free,
        category=cats,
    )


def interaction_columns(features: PriceFeatures) -> list[str]:
    """The interaction columns of this batch: one free flag per category seen, sorted."""
    seen = sorted({str(c) for c in features.category if c is not None})
    columns = [f"is_free:{c}" for c in seen]
    if (~np.isnan(features.is_free_shipping)).any():
        columns += [f"is_free_shipping:{c}" for c in seen]
    return columns


def interactions(features: PriceFeatures) -> list[dict[str, int]]:
    """Per line, the interaction columns that are 1 (the rest are 0): sparse, since a
    batch may carry hundreds of categories and most lines are not free."""
    rows: list[dict[str, int]] = []
    for i, cat in enumerate(features.category):
        row: dict[str, int] = {}
        if cat is not None:
            if features.is_free[i]:
                row[f"is_free:{cat}"] = 1
            if features.is_free_shipping[i] == 1.0:
                row[f"is_free_shipping:{cat}"] = 1
        rows.append(row)
    return rows


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _flag(value: float) -> bool | None:
    return None if np.isnan(value) else bool(value)


def line_features(lines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """JSON-ready features of order or offer lines ({unit_price, quantity?, shipping?,
    list_price?, category?}). Raises ``ValueError`` as :func:`compute` does."""
    features = compute(
        [line["unit_price"] for line in lines],
        [line.get("quantity", 1) for line in lines],
        [line.get("shipping") for line in lines],
        [line.get("list_price") for line in lines],
        [line.get("category") for line in lines],
    )
    sparse = interactions(features)
    rows = []
    for i in range(len(features)):
        depth = _number(features.discount_depth[i])
        rows.append({
            "index": i,
            "unit_price": float(features.unit_price[i]),
            "quantity": float(features.quantity[i]),
            "is_free": bool(features.is_free[i]),
            "is_free_shipping": _flag(features.is_free_shipping[i]),
            "shipping": _number(features.shipping[i]),
            "shipping_share": _number(features.shipping_share[i]),
            "item_total": float(features.item_total[i]),
            "line_total": float(features.line_total[i]),
            "list_price": _number(features.list_price[i]),
            "discount_depth": depth,
            "is_discounted": None if depth is None else depth > 0,
            "whole_units": int(features.whole_units[i]),
            "cents": int(features.cents_part[i]),
            "log_price": float(features.log_price[i]),
            "left_digit": int(features.left_digit[i]),
            "ends_99": bool(features.ends_99[i]),
            "ends_95": bool(features.ends_95[i]),
            "ends_9": bool(features.ends_9[i]),
            "is_round": bool(features.is_round[i]),
            "category": features.category[i],
            "interactions": sparse[i],
        })
        if "id" in lines[i]:
            rows[-1]["id"] = lines[i]["id"]
    known_shipping = ~np.isnan(features.is_free_shipping)
    return {
        "lines": rows,
        "interaction_columns": interaction_columns(features),
        "summary": {
            "lines": len(features),
            "free": int(features.is_free.sum()),
            "shipping_known": int(known_shipping.sum()),
            "free_shipping": int((features.is_free_shipping == 1.0).sum()),
            "discounted": int((np.nan_to_num(features.discount_depth) > 0).sum()),
        },
    }
