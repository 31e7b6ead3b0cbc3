"""A small constructed shop: two themes of items, customers who buy from one or both."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

HEARTS = {f"1000{i}": f"{colour} HANGING HEART T-LIGHT HOLDER" for i, colour in enumerate(["WHITE", "RED", "PINK", "BLUE", "GREEN"])}
BAGS = {f"2000{i}": f"JUMBO BAG {pattern}" for i, pattern in enumerate(["RED RETROSPOT", "PINK POLKADOT", "STRAWBERRY", "VINTAGE PAISLEY", "OWLS"])}
DESCRIPTIONS = {**HEARTS, **BAGS}


def shop_lines(customers: int = 40, seed: int = 0) -> pd.DataFrame:
    """Purchase lines in the cleaned layout of ``tools.retail.data``: each customer buys a few
    baskets from one theme (or, every fourth customer, from both), over 2011."""
    rng = np.random.default_rng(seed)
    rows = []
    invoice = 500000
    for number in range(customers):
        customer = str(12000 + number)
        themes = [list(HEARTS), list(BAGS)] if number % 4 == 3 else [list(HEARTS) if number % 2 == 0 else list(BAGS)]
        for _ in range(3):
            invoice += 1
            day = pd.Timestamp("2011-01-03") + pd.Timedelta(days=int(rng.integers(0, 330)), hours=10)
            for theme in themes:
                # The first two items of each theme are the best sellers.
                chosen = rng.choice(theme, size=3, replace=False, p=[0.35, 0.3, 0.15, 0.1, 0.1])
                for code in chosen:
                    rows.append({
                        "InvoiceNo": str(invoice), "StockCode": code, "Description": DESCRIPTIONS[code], "Quantity": 6,
                        "InvoiceDate": day, "UnitPrice": 2.55, "CustomerID": customer, "Country": "United Kingdom",
                    })
    return pd.DataFrame(rows).sort_values("InvoiceDate", kind="stable").reset_index(drop=True)


def write_raw(data_dir: Path, lines: pd.DataFrame) -> None:
    """The lines as the raw Online Retail file (CustomerID written as a float, as in the original)."""
    folder = data_dir / "online_retail"
    folder.mkdir(parents=True, exist_ok=True)
    raw = lines.assign(CustomerID=lines["CustomerID"] + ".0", InvoiceDate=lines["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    with gzip.open(folder / "online_retail.csv.gz", "wt") as handle:
        raw.to_csv(handle, index=False)
