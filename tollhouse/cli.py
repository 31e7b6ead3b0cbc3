"""The ``tollhouse`` command: one root assembling each package's subcommands."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys

import typer

from agents.cli import chat, connect, token
from core.auth import DEV_USERS, DevIssuer
from core.cli_client import fail
from core.settings import get_settings
from evals.cli import build_eval_app
from gateway.cli import access_app, approvals_app, audit_app, run_server, servers_app
from registry.cli import agents_app, tools_app

app = typer.Typer(help="Tollhouse: governed MCP tools, agents and audit.", no_args_is_help=True)
db_app = typer.Typer(help="The platform database.", no_args_is_help=True)
dev_app = typer.Typer(help="Dev-mode helpers (the built-in issuer).", no_args_is_help=True)
app.add_typer(tools_app, name="tools")
app.add_typer(agents_app, name="agents")
app.add_typer(db_app, name="db")
app.add_typer(dev_app, name="dev")
app.add_typer(access_app, name="access")
app.add_typer(approvals_app, name="approvals")
app.add_typer(servers_app, name="servers")
app.add_typer(audit_app, name="audit")
app.command("token")(token)


def _migrate(url: str) -> None:
    from migrations import upgrade

    upgrade(url)


app.add_typer(build_eval_app(_migrate), name="eval")
app.command("connect")(connect)
app.command("chat")(chat)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the platform database up (to head by default)."""
    from migrations import upgrade

    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(...)) -> None:
    """Migrate the platform database down to REVISION ('base' empties it)."""
    from migrations import downgrade

    downgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@dev_app.command("token")
def dev_token(user: str = typer.Option(..., "--user", help=f"One of: {', '.join(DEV_USERS)}")) -> None:
    """Print a DEV token for a demo user (dev mode only)."""
    settings = get_settings()
    if not settings.auth.dev_mode:
        fail("dev tokens exist only in dev mode")
    if user not in DEV_USERS:
        fail(f"unknown demo user {user!r} (known: {', '.join(DEV_USERS)})")
    typer.echo(DevIssuer(settings.home, settings.auth).issue_for(user))


async def _seed() -> None:
    from core.db import make_engine, make_sessionmaker
    from gateway.seed import seed_demo

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        await seed_demo(make_sessionmaker(engine), settings)
    finally:
        await engine.dispose()


TASK_MODULES = ("gateway.tasks",)


@app.command("worker")
def worker(
    beat: bool = typer.Option(False, "--beat", help="Also run the schedule (checkpoints, index rebuilds, reaping)."),
    concurrency: int | None = typer.Option(None, "--concurrency"),
) -> None:
    """Run a Celery worker for long-running tool jobs."""
    from core.jobs import make_celery

    _exit_with_parent()
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    celery = make_celery(settings, include=TASK_MODULES)
    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency or settings.jobs.worker_concurrency}",
            f"--hostname=tollhouse-{os.getpid()}@%h"]
    if beat:
        argv += ["--beat", f"--schedule={settings.home / 'celerybeat-schedule'}"]
    celery.worker_main(argv)


EMBEDDED_PARENT_ENV = "TOLLHOUSE_EMBEDDED_WORKER_PARENT"
PR_SET_PDEATHSIG = 1


def _exit_with_parent() -> None:
    """An embedded worker ends with the gateway that started it, even one killed outright.

    Linux delivers SIGTERM to this process when its parent dies (a warm Celery
    shutdown that stops the pool too); elsewhere the parent's clean exit stops it.
    """
    parent = os.environ.get(EMBEDDED_PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):
        # The gateway died before the request above took effect.
        raise SystemExit(0)


def _start_embedded_worker() -> subprocess.Popen[bytes]:
    # A child process beside the gateway: the embedded default needs no other command.
    env = {**os.environ, EMBEDDED_PARENT_ENV: str(os.getpid())}
    return subprocess.Popen([sys.executable, "-m", "tollhouse", "worker", "--beat"], env=env)


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, "--host"),
    port: int | None = typer.Option(None, "--port"),
    migrate: bool = typer.Option(True, help="Migrate the database to head first."),
    worker_too: bool = typer.Option(True, "--worker/--no-worker", help="Start the embedded job worker (when configured)."),
) -> None:
    """Migrate, seed the demo world (dev mode), and serve the gateway."""
    from migrations import upgrade

    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    if migrate:
        upgrade(settings.database_url)
    if settings.auth.dev_mode and settings.seed_demo:
        asyncio.run(_seed())
        typer.echo("DEV MODE: built-in issuer; demo users and agents seeded (`tollhouse dev token --user alice`)")
    embedded = _start_embedded_worker() if settings.jobs.embedded_worker and worker_too else None
    try:
        run_server(settings, host=host, port=port)
    finally:
        if embedded is not None:
            embedded.terminate()
            try:
                embedded.wait(timeout=20)
            except subprocess.TimeoutExpired:
                embedded.kill()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app()
