"""The catalogue picks up another replica's change within its interval, and its reads never wait for a writer."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import create_engine, text

from core.db import make_engine, make_read_sessionmaker, make_sessionmaker
from core.settings import Settings
from gateway.catalogue import Catalogue
from tests.gateway.conftest import seed
from tools.catalogue import in_process_tools

pytestmark = pytest.mark.db


def _sql(database_url: str, statement: str) -> None:
    engine = create_engine(database_url.replace("+aiosqlite", ""))
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


async def test_a_change_made_elsewhere_is_served_after_a_background_refresh(settings: Settings, database_url: str) -> None:
    await seed(settings)
    engine = make_engine(database_url)
    try:
        catalogue = Catalogue(make_sessionmaker(engine), in_process_tools(), ttl_seconds=0.3,
                              read_sessionmaker=make_read_sessionmaker(engine))
        assert "demo.add" in (await catalogue.current()).served
        # Another replica revokes the tool: no signal reaches this process.
        _sql(database_url, "UPDATE tool_versions SET state = 'revoked' WHERE state = 'approved' "
                           "AND tool_id = (SELECT id FROM tools WHERE name = 'demo.add')")
        deadline = time.monotonic() + 10
        while "demo.add" in (await catalogue.current()).served:
            assert time.monotonic() < deadline, "the revocation was never picked up"
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def test_catalogue_reads_do_not_wait_for_a_writer(settings: Settings, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    await seed(settings)
    holder = create_engine(database_url.replace("+aiosqlite", ""), connect_args={"isolation_level": None})
    engine = make_engine(database_url)
    try:
        with holder.connect() as connection:
            # Another process holds the write lock (the audit writer committing, say).
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            catalogue = Catalogue(make_sessionmaker(engine), in_process_tools(), ttl_seconds=5,
                                  read_sessionmaker=make_read_sessionmaker(engine))
            snapshot = await asyncio.wait_for(catalogue.current(), timeout=5)
            assert "demo.add" in snapshot.served
            connection.exec_driver_sql("ROLLBACK")
    finally:
        await engine.dispose()
        holder.dispose()
