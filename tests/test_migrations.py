"""Migrations take an empty database to head and back to empty, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from migrations import downgrade, upgrade
from tests.conftest import BACKEND, POSTGRES_URL, create_postgres_database, drop_postgres_database

pytestmark = pytest.mark.db


def _tables(url: str) -> set[str]:
    engine = create_engine(url.replace("+aiosqlite", ""))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_to_head_and_back_down(tmp_path: Path) -> None:
    if BACKEND == "postgres":
        url = create_postgres_database(POSTGRES_URL)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    try:
        upgrade(url)
        assert {"tools", "tool_versions", "signoffs", "agents", "audit_records"} <= _tables(url)
        downgrade(url, "base")
        assert _tables(url) == set()
        upgrade(url)
        assert "tools" in _tables(url)
    finally:
        if BACKEND == "postgres":
            drop_postgres_database(POSTGRES_URL, url)
