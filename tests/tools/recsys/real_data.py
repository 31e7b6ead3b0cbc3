"""Where the real data lives for tests: skipped when absent, except in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA_DIR = (Path(__file__).parents[3] / ".." / "shared" / "data").resolve()


def real_data_dir() -> Path:
    """The shared data directory. Skips the test when it is missing; fails in CI, where it must be."""
    if (DATA_DIR / "online_retail" / "online_retail.csv.gz").exists():
        return DATA_DIR
    message = f"the Online Retail data is not at {DATA_DIR}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
