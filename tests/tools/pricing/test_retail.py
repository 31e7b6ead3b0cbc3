"""Price features over a real slice of UCI Online Retail (CC BY 4.0): zero-price lines kept and labelled."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tools.pricing.retail import RetailFeatures, category_of, retail_features
from tools.retail.data import FILE, read_raw

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
SLICE_LINES = 40_000  # December 2010: includes a stock-movement invoice and a customer's free line


@pytest.fixture(scope="module")
def retail_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = DATA / FILE
    if not source.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{source} is missing in CI")
        pytest.skip(f"{source} is not here: the real-data test needs ../shared/data")
    target = tmp_path_factory.mktemp("retail") / "slice.csv"
    with gzip.open(source, "rt") as rows, target.open("w") as out:
        for number, row in enumerate(rows):
            if number > SLICE_LINES:
                break
            out.write(row)
    return target


@pytest.fixture(scope="module")
def sliced(retail_slice: Path) -> tuple[pd.DataFrame, RetailFeatures]:
    raw = read_raw(retail_slice)
    return raw, retail_features(raw)


def test_zero_price_lines_are_kept_flagged_free_and_labelled(sliced: tuple[pd.DataFrame, RetailFeatures]) -> None:
    _, result = sliced
    lines, features = result.lines, result.features
    zero = (lines["UnitPrice"] == 0).to_numpy()
    assert zero.sum() > 0, "the slice has zero-price lines"
    assert np.array_equal(features.is_free, zero)
    assert not features.is_free[(lines["UnitPrice"] > 0).to_numpy()].any()
    assert set(lines.loc[zero, "zero_price_kind"]) <= {"stock_note", "internal_invoice", "free_on_customer_invoice", "other_zero"}
    assert (lines.loc[~zero, "zero_price_kind"] == "").all()
    # Invoice 537534 moved stock with no customer and no priced line: an adjustment, not a promotion.
    assert set(lines.loc[lines["InvoiceNo"] == "537534", "zero_price_kind"]) == {"internal_invoice"}
    assert result.raw_zero_price >= zero.sum()


def test_shipping_comes_from_the_invoices_postage_lines(sliced: tuple[pd.DataFrame, RetailFeatures]) -> None:
    raw, result = sliced
    lines = result.lines
    postage = raw[raw["StockCode"].isin({"POST", "DOT", "C2"}) & ~raw["InvoiceNo"].str.startswith("C")]
    invoice = postage["InvoiceNo"].iloc[0]
    expected = float((postage.loc[postage["InvoiceNo"] == invoice, "Quantity"] * postage.loc[postage["InvoiceNo"] == invoice, "UnitPrice"]).sum())
    assert lines.loc[lines["InvoiceNo"] == invoice, "shipping"].tolist() == pytest.approx([expected] * int((lines["InvoiceNo"] == invoice).sum()))
    assert "POST" not in set(lines["StockCode"]), "postage is a component, not a product line"


def test_categories_take_the_first_keyword_of_the_list() -> None:
    found = category_of(pd.Series(["PAPER CHRISTMAS BAG", "RED HEART MUG", "PLAIN THING"]))
    assert found.tolist() == ["christmas", "mug", "other"]
