"""Price features over UCI Online Retail (Chen, Sain, Guo 2012, CC BY 4.0), honestly.

The data set has no list prices, no categories, no shipping column and no
conversions, so each feature is derived and says how:

- lines come from the shared loader (``tools.retail.data``) with
  ``keep_zero_price=True``, so the zero-price lines that survive its cleaning
  stay in, each labelled with what it is (:func:`zero_price_kind`): almost
  all are stock adjustments, not promotions;
- shipping is the invoice's postage and carriage lines (stock codes ``POST``,
  ``DOT``, ``C2``, which the loader drops as non-products); an invoice without
  one has shipping 0.00, read as "no postage charged on this invoice", which
  for a wholesale shop is not the same as a free-shipping promise;
- the list price of a stock code is its most common unit price over priced
  lines, so discount depth is how far below its usual price a line sold
  (bulk buyers get lower unit prices);
- a category is the first keyword from ``CATEGORY_KEYWORDS`` found in the
  description ("other" when none), enough to show the interactions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools.pricing.features import PriceFeatures, compute
from tools.retail.data import Cleaned, clean

POSTAGE_CODES = frozenset({"POST", "DOT", "C2"})
CATEGORY_KEYWORDS = (
    "CHRISTMAS", "BAG", "CARD", "MUG", "CUP", "CANDLE", "LIGHT", "BOX", "SIGN", "CAKE", "HEART",
    "BOTTLE", "CLOCK", "CUSHION", "JEWEL", "NECKLACE", "TIN", "DOORMAT", "GARLAND", "FRAME",
)


@dataclass(frozen=True)
class RetailFeatures:
    lines: pd.DataFrame  # the cleaned lines, with category, shipping, list_price and zero_price_kind
    features: PriceFeatures
    cleaned: Cleaned
    raw_zero_price: int  # lines with UnitPrice 0 before cleaning


def category_of(descriptions: pd.Series) -> pd.Series:
    """The first keyword found in each description, else "other"."""
    upper = descriptions.str.upper()
    category = pd.Series("other", index=descriptions.index, dtype=object)
    for keyword in reversed(CATEGORY_KEYWORDS):  # reversed, so the first keyword in the list wins
        category = category.mask(upper.str.contains(keyword, regex=False), keyword.lower())
    return category


def invoice_shipping(raw: pd.DataFrame) -> pd.Series:
    """Postage and carriage charged per purchase invoice (currency units)."""
    postage = raw[raw["StockCode"].isin(POSTAGE_CODES) & ~raw["InvoiceNo"].str.startswith("C")]
    return (postage["Quantity"] * postage["UnitPrice"]).groupby(postage["InvoiceNo"]).sum().clip(lower=0.0)


def zero_price_kind(lines: pd.DataFrame, usual_description: pd.Series) -> pd.Series:
    """What each zero-price line is; "" for priced lines.

    - ``stock_note``: the description is not the stock code's catalogue text
      (free-text notes such as "check", "found", "adjustment", "amazon");
    - ``internal_invoice``: no customer and no priced line on the invoice
      (stock movements booked as invoices);
    - ``free_on_customer_invoice``: a customer's invoice with priced lines
      beside it: the only lines that could be goods given away;
    - ``other_zero``: anything else (a customer's all-free invoice, or a
      customerless invoice with priced lines).
    """
    zero = lines["UnitPrice"] == 0
    priced_on_invoice = (~zero).groupby(lines["InvoiceNo"]).transform("sum") > 0
    has_customer = lines["CustomerID"].notna()
    usual = lines["StockCode"].map(usual_description)
    is_note = usual.notna() & (lines["Description"] != usual)
    kind = np.select(
        [~zero, is_note, ~has_customer & ~priced_on_invoice, has_customer & priced_on_invoice],
        ["", "stock_note", "internal_invoice", "free_on_customer_invoice"],
        default="other_zero",
    )
    return pd.Series(kind, index=lines.index)


def most_common(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Per key, the most frequent value of ``column`` (ties to the smallest value)."""
    counts = frame.groupby([key, column]).size().rename("count").reset_index()
    ranked = counts.sort_values([key, "count", column], ascending=[True, False, True])
    return ranked.drop_duplicates(key).set_index(key)[column]


def retail_features(raw: pd.DataFrame) -> RetailFeatures:
    """Clean (keeping zero prices), derive the missing columns, and compute the features."""
    cleaned = clean(raw, keep_zero_price=True)
    lines = cleaned.lines
    priced = lines[lines["UnitPrice"] > 0]
    list_price = most_common(priced, "StockCode", "UnitPrice")
    usual_description = most_common(priced, "StockCode", "Description")
    shipping = lines["InvoiceNo"].map(invoice_shipping(raw)).fillna(0.0)
    lines = lines.assign(
        category=category_of(lines["Description"]),
        shipping=shipping,
        list_price=lines["StockCode"].map(list_price),  # NaN for a code never sold at a price
        zero_price_kind=zero_price_kind(lines, usual_description),
    )
    features = compute(
        lines["UnitPrice"].to_numpy(np.float64),
        lines["Quantity"].to_numpy(np.float64),
        lines["shipping"].to_numpy(np.float64),
        lines["list_price"].to_numpy(np.float64),
        list(lines["category"]),
    )
    return RetailFeatures(lines, features, cleaned, int((raw["UnitPrice"] == 0).sum()))
