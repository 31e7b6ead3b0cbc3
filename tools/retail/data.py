"""UCI Online Retail, loaded and cleaned once for every tool that learns from it.

The data (Chen, Sain, Guo 2012, UCI Machine Learning Repository, CC BY 4.0) is
every line of a UK gift retailer's invoices, 2010-12-01 to 2011-12-09. The
cleaning is explicit and counted, rule by rule, so a benchmark can say what
it dropped:

- cancellations: invoices whose number starts with "C" (returns), and any line
  with a non-positive quantity;
- non-products: postage, carriage, manual adjustments, bank charges, fees,
  samples, gift vouchers and other codes that are not goods (``NON_PRODUCT``,
  plus anything not starting with five digits);
- zero or negative prices: adjustments, not promotions (kept with a flag when
  ``keep_zero_price`` is set, for the pricing tool to study);
- lines without a description;
- lines without a customer (only when ``require_customer`` is set);
- cancelled mega-orders: a purchase line exactly matched (customer, item,
  quantity) by a later cancellation is removed with it, e.g. the 74,215-unit
  and 80,995-unit orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

FILE = Path("online_retail") / "online_retail.csv.gz"
NON_PRODUCT = frozenset({
    "POST", "DOT", "M", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "CARRIAGE",
})
COLUMNS = {"InvoiceNo": str, "StockCode": str, "Description": str, "CustomerID": str, "Country": str}


class RetailDataMissing(FileNotFoundError):
    """The Online Retail file is not where the settings say."""


@dataclass
class Cleaned:
    lines: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)
    raw_rows: int = 0

    def report(self) -> str:
        parts = ", ".join(f"{rule}: {count:,}" for rule, count in self.dropped.items())
        return f"{self.raw_rows:,} raw lines; kept {len(self.lines):,}; dropped {parts}"


def data_file(data_dir: Path | None) -> Path:
    """The file under the data directory. Raises :class:`RetailDataMissing`."""
    if data_dir is None:
        raise RetailDataMissing("no data directory is configured (TOLLHOUSE_DATA_DIR)")
    path = data_dir / FILE
    if not path.exists():
        raise RetailDataMissing(f"{path} does not exist")
    return path


def read_raw(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=COLUMNS)
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    # CustomerID is written as a float ("17850.0").
    frame["CustomerID"] = frame["CustomerID"].str.replace(r"\.0$", "", regex=True)
    frame["StockCode"] = frame["StockCode"].str.upper().str.strip()
    return frame


def _matched_cancellations(frame: pd.DataFrame) -> pd.Index:
    """Purchase lines that a later cancellation undoes exactly (same customer, item, quantity):
    each cancellation removes the latest such purchase before it, once."""
    cancels = frame[frame["InvoiceNo"].str.startswith("C") & frame["CustomerID"].notna()].reset_index(names="cancel")
    key = ["CustomerID", "StockCode"]
    wanted = cancels.assign(Quantity=-cancels["Quantity"])[["cancel", *key, "Quantity", "InvoiceDate"]]
    buys = frame[~frame["InvoiceNo"].str.startswith("C")].reset_index(names="buy")
    joined = buys.merge(wanted, on=[*key, "Quantity"], suffixes=("", "_cancel"))
    joined = joined[joined["InvoiceDate_cancel"] >= joined["InvoiceDate"]]
    latest = joined.sort_values("InvoiceDate", ascending=False).drop_duplicates("cancel")
    return pd.Index(latest["buy"].unique())


def clean(frame: pd.DataFrame, *, keep_zero_price: bool = False, require_customer: bool = False) -> Cleaned:
    """Apply the rules above, counting what each one drops."""
    dropped: dict[str, int] = {}
    raw_rows = len(frame)

    def drop(rule: str, mask: pd.Series) -> pd.DataFrame:
        dropped[rule] = int(mask.sum())
        return frame[~mask]

    matched = _matched_cancellations(frame)
    frame = drop("cancelled purchases", frame.index.isin(matched))
    frame = drop("cancellations and returns", frame["InvoiceNo"].str.startswith("C") | (frame["Quantity"] <= 0))
    codes = frame["StockCode"]
    frame = drop("non-product codes", codes.isin(NON_PRODUCT) | codes.str.startswith("GIFT_") | ~codes.str.match(r"^\d{5}"))
    frame = drop("no description", frame["Description"].isna() | (frame["Description"].str.strip() == ""))
    if keep_zero_price:
        frame = drop("negative prices", frame["UnitPrice"] < 0)
    else:
        frame = drop("zero or negative prices", frame["UnitPrice"] <= 0)
    if require_customer:
        frame = drop("no customer", frame["CustomerID"].isna())
    frame = frame.assign(Description=frame["Description"].str.strip())
    return Cleaned(lines=frame.reset_index(drop=True), dropped=dropped, raw_rows=raw_rows)


def load(data_dir: Path | None, *, keep_zero_price: bool = False, require_customer: bool = False) -> Cleaned:
    """Read and clean the data set. Raises :class:`RetailDataMissing`."""
    return clean(read_raw(data_file(data_dir)), keep_zero_price=keep_zero_price, require_customer=require_customer)
