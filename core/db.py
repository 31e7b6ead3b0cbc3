"""Database engine, sessions and the declarative base.

One session per unit of work: :func:`session_scope` alone commits on success
and rolls back on error. Services and repositories never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN is turned off; _begin_immediate issues ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the
    # writer; FULL makes every commit durable before it is acknowledged.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = "tollhouse_read_only"


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads and then writes cannot upgrade once
    # another writer has committed (SQLITE_BUSY, no waiting). Taking the write
    # lock at BEGIN makes concurrent writers, in any process, queue instead.
    # A read-only unit of work (see make_read_sessionmaker) takes no lock: in
    # WAL mode it reads a snapshot beside the writer.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _prepare_sqlite(engine: Engine) -> None:
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _begin_immediate)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite://`` or ``postgresql+psycopg://``)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo)
        _prepare_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True)


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (psycopg 3 serves both)."""
    return url.replace("sqlite+aiosqlite:", "sqlite+pysqlite:", 1)


def make_sync_engine(url: str) -> Engine:
    """A synchronous engine on the database of ``url`` with the same SQLite pragmas and locking."""
    if url.startswith("sqlite"):
        engine = create_engine(sync_url(url))
        _prepare_sqlite(engine)
        return engine
    return create_engine(sync_url(url), pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads only: on SQLite they never wait for, or hold up, a writer.

    A write through one of them fails (SQLite refuses to upgrade a snapshot
    another writer has moved past); use :func:`make_sessionmaker` to write.
    """
    return async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@asynccontextmanager
async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit if the block succeeds, roll back if it raises."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
