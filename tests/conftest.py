"""Shared fixtures: a real database per test (SQLite, or PostgreSQL when asked), the app, tokens.

The whole suite runs on SQLite. ``TOLLHOUSE_TEST_BACKEND=postgres`` runs the
``db``-marked tests against the PostgreSQL server at
``TOLLHOUSE_TEST_POSTGRES_URL`` (one fresh database for the run, migrated
once, tables emptied after each test).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import GENESIS, HEAD_ID
from core.auth import DevIssuer
from core.db import Base, make_engine, make_sessionmaker
from core.settings import DatabaseSettings, Settings
from gateway.app import create_app
from migrations import upgrade
from migrations.metadata import load_models

BACKEND = os.environ.get("TOLLHOUSE_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("TOLLHOUSE_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_report_header() -> str:
    return f"tollhouse database backend: {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "postgres":
        return
    if not POSTGRES_URL:
        if IN_CI:
            raise pytest.UsageError("CI asks for PostgreSQL but TOLLHOUSE_TEST_POSTGRES_URL is unset")
        skip = pytest.mark.skip(reason="TOLLHOUSE_TEST_POSTGRES_URL is unset: PostgreSQL tests skipped")
        for item in items:
            item.add_marker(skip)


def _sync_url(url: str) -> str:
    return url.replace("+aiosqlite", "").replace("+psycopg", "+psycopg")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not POSTGRES_URL:
        pytest.skip("TOLLHOUSE_TEST_POSTGRES_URL is unset: PostgreSQL tests skipped")
    return POSTGRES_URL


def create_postgres_database(server_url: str) -> str:
    """A new empty database on the server; returns its URL."""
    name = f"tollhouse_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The migrated database every test starts from (a SQLite file, or a PostgreSQL database)."""
    if BACKEND == "postgres" and POSTGRES_URL:
        url = create_postgres_database(POSTGRES_URL)
        upgrade(url)
        yield url
        drop_postgres_database(POSTGRES_URL, url)
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    yield f"sqlite+aiosqlite:///{path}"


def _empty_tables(url: str) -> None:
    load_models()
    engine = create_engine(_sync_url(url))
    with engine.begin() as connection:
        names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        connection.execute(text("INSERT INTO audit_head (id, seq, digest) VALUES (:id, 0, :digest)"), {"id": HEAD_ID, "digest": GENESIS})
    engine.dispose()


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database for one test."""
    if migrated_template.startswith("sqlite"):
        path = tmp_path / "tollhouse.db"
        shutil.copy(migrated_template.removeprefix("sqlite+aiosqlite:///"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    yield migrated_template
    _empty_tables(migrated_template)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database=DatabaseSettings(url=database_url))


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings.database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def issuer(settings: Settings) -> DevIssuer:
    return DevIssuer(settings.home, settings.auth)


class RunningLifespan:
    """Runs an app's lifespan in a task of its own, so that it enters and exits in one task
    (the MCP session manager's task group insists), whatever task the fixture tears down in."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._started = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with self.app.router.lifespan_context(self.app):
            self._started.set()
            await self._stop.wait()

    async def __aenter__(self) -> FastAPI:
        self._task = asyncio.create_task(self._run())
        started = asyncio.create_task(self._started.wait())
        await asyncio.wait({self._task, started}, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            started.cancel()
            self._task.result()
        return self.app

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The whole app with its lifespan running."""
    async with RunningLifespan(create_app(settings)) as running:
        yield running


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to the whole app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        yield http


@pytest.fixture
def auth(issuer: DevIssuer) -> AuthHeaders:
    return AuthHeaders(issuer)


class AuthHeaders:
    """``auth("alice")`` gives the Authorization header of a demo user's dev token."""

    def __init__(self, issuer: DevIssuer) -> None:
        self.issuer = issuer

    def __call__(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue_for(user)}"}
