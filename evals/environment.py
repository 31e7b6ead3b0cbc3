"""An in-process gateway for eval runs: a fresh database, the demo world, every shipped tool approved."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from core.auth import DevIssuer
from core.db import make_engine, make_sessionmaker
from core.settings import DatabaseSettings, LlmModel, Settings
from gateway.app import create_app
from gateway.seed import seed_demo

# The policy cases the scenarios rely on, agreed "in review" for the eval world.
EVAL_POLICIES: Mapping[str, Mapping[str, object]] = {
    "pricing.conversion": {"human_approval": True},
}


@dataclass(frozen=True)
class EvalGateway:
    url: str
    settings: Settings
    issuer: DevIssuer

    @property
    def agents_dir(self) -> Path:
        return self.settings.home / "agents"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def in_process_gateway(
    data_dir: Path | None,
    *,
    migrate: Callable[[str], None],
    llm_base_url: str | None = None,
    model: str = "fake-model",
) -> AsyncIterator[EvalGateway]:
    """Serve a fresh gateway on a loopback port in this event loop until the block ends.

    ``migrate`` brings a database URL to the current schema (the composition root owns migrations).
    """
    home = Path(tempfile.mkdtemp(prefix="tollhouse-eval-"))
    port = _free_port()
    settings = Settings(home=home, database=DatabaseSettings(url=f"sqlite+aiosqlite:///{home / 'eval.db'}"))
    settings.data_dir = str(data_dir) if data_dir else ""
    settings.server.port = port
    settings.gateway.public_url = f"http://127.0.0.1:{port}"
    settings.gateway.upstream_refresh_seconds = 0
    settings.audit.checkpoint_interval_seconds = 0
    if llm_base_url:
        settings.llm.models = {model: LlmModel(litellm_model=f"openai/{model}", api_base=llm_base_url)}
        settings.llm.agent_models = {"ide-assistant": ["*"], "chat-bot": ["*"]}
    await asyncio.to_thread(migrate, settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        await seed_demo(sessionmaker, settings, EVAL_POLICIES)
    finally:
        await engine.dispose()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if task.done():
        task.result()
    try:
        yield EvalGateway(settings.public_url, settings, DevIssuer(settings.home, settings.auth))
    finally:
        server.should_exit = True
        await task
