"""``tollhouse token`` and ``tollhouse connect``: a delegated token for (user, agent), and an IDE's MCP config."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from agents.identity import DelegatedToken, ExchangeRefused, exchange, load_agent_key
from core import keys
from core.auth import DEV_USERS, DevIssuer
from core.cli_client import URL_OPTION, fail
from core.settings import get_settings


class IdeClient(StrEnum):
    claude_code = "claude-code"
    cursor = "cursor"
    vscode = "vscode"


USER = typer.Option(..., "--user", help="The user the agent acts for (a demo user in dev mode).")
AGENT = typer.Option(..., "--agent", help="The agent's client id.")
AGENT_KEY = typer.Option(None, "--agent-key", help="The agent's private key (default: .tollhouse/agents/<agent>.pem).")
USER_TOKEN = typer.Option(None, "--user-token", envvar="TOLLHOUSE_USER_TOKEN", help="The user's token (outside dev mode).")


def _delegated(url: str, user: str, agent: str, agent_key: Path | None, user_token: str | None) -> DelegatedToken:
    settings = get_settings()
    if user_token is None:
        if not settings.auth.dev_mode:
            fail("outside dev mode, pass the user's token with --user-token (or TOLLHOUSE_USER_TOKEN)")
        if user not in DEV_USERS:
            fail(f"unknown demo user {user!r} (known: {', '.join(DEV_USERS)})")
        user_token = DevIssuer(settings.home, settings.auth).issue_for(user)
    key_path = agent_key or settings.home / "agents" / f"{agent}.pem"
    try:
        key = load_agent_key(key_path)
    except FileNotFoundError:
        fail(f"no private key for agent {agent!r} at {key_path}")
    try:
        return exchange(url, user_token, agent, key)
    except ExchangeRefused as exc:
        fail(exc.message)


def _expiry_note(token: DelegatedToken, user: str, agent: str) -> str:
    return (
        f"# token for {user} through {agent}, scopes: {token.scope or '(none)'}\n"
        f"# expires {token.expires_at:%Y-%m-%d %H:%M:%S} UTC (in {token.expires_in} s); "
        f"refresh with: tollhouse token --user {user} --agent {agent}"
    )


def client_config(client: IdeClient, mcp_url: str, token: str) -> dict[str, Any]:
    """The MCP configuration each client reads, with the gateway URL and the bearer header."""
    headers = {"Authorization": f"Bearer {token}"}
    if client is IdeClient.vscode:
        return {"servers": {"tollhouse": {"type": "http", "url": mcp_url, "headers": headers}}}
    if client is IdeClient.cursor:
        return {"mcpServers": {"tollhouse": {"url": mcp_url, "headers": headers}}}
    return {"mcpServers": {"tollhouse": {"type": "http", "url": mcp_url, "headers": headers}}}


def _merge_into(path: Path, config: dict[str, Any]) -> None:
    existing: dict[str, Any] = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            fail(f"{path} exists and is not valid JSON; not overwriting it")
    for section, servers in config.items():
        existing.setdefault(section, {}).update(servers)
    # The file holds a bearer token: owner-only.
    keys.write_secret(path, (json.dumps(existing, indent=2) + "\n").encode())


def token(
    user: str = USER,
    agent: str = AGENT,
    url: str = URL_OPTION,
    agent_key: Path | None = AGENT_KEY,
    user_token: str | None = USER_TOKEN,
) -> None:
    """Exchange (user token, agent assertion) for a delegated token and print it."""
    delegated = _delegated(url, user, agent, agent_key, user_token)
    typer.echo(_expiry_note(delegated, user, agent), err=True)
    typer.echo(delegated.access_token)


def connect(
    client: IdeClient = typer.Argument(..., help="claude-code, cursor or vscode"),
    user: str = USER,
    agent: str = AGENT,
    url: str = URL_OPTION,
    agent_key: Path | None = AGENT_KEY,
    user_token: str | None = USER_TOKEN,
    write: Path | None = typer.Option(None, "--write", help="Merge the config into this file (mode 0600)."),
) -> None:
    """Print (or write) an IDE's MCP configuration for Tollhouse, with a fresh delegated token."""
    delegated = _delegated(url, user, agent, agent_key, user_token)
    config = client_config(client, f"{url.rstrip('/')}/mcp", delegated.access_token)
    typer.echo(_expiry_note(delegated, user, agent), err=True)
    if write is not None:
        _merge_into(write, config)
        typer.echo(f"wrote {client.value} config to {write}", err=True)
        return
    if client is IdeClient.claude_code:
        typer.echo(
            f"claude mcp add --transport http tollhouse {url.rstrip('/')}/mcp "
            f"--header \"Authorization: Bearer {delegated.access_token}\""
        )
        typer.echo("# or put this in .mcp.json:", err=True)
    typer.echo(json.dumps(config, indent=2))
    if os.environ.get("TOLLHOUSE_URL") is None and url.startswith("http://127.0.0.1"):
        typer.echo("# the gateway must be running (make run) for the IDE to reach it", err=True)


def chat(
    user: str = USER,
    agent: str = AGENT,
    model: str = typer.Option(..., "--model", help="A model the gateway offers at /v1/chat/completions."),
    url: str = URL_OPTION,
    agent_key: Path | None = AGENT_KEY,
    user_token: str | None = USER_TOKEN,
) -> None:
    """Talk to the LLM agent in the terminal; it uses the approved tools on your behalf."""
    import asyncio

    asyncio.run(_chat(url, user, agent, model, agent_key, user_token))


async def _chat(url: str, user: str, agent: str, model: str, agent_key: Path | None, user_token: str | None) -> None:
    from agents.client import open_session
    from agents.llm_agent import LlmAgent

    settings = get_settings()
    if user_token is None:
        if not settings.auth.dev_mode or user not in DEV_USERS:
            fail("outside dev mode (or for a user not in the demo), pass --user-token")
        user_token = DevIssuer(settings.home, settings.auth).issue_for(user)
    key = load_agent_key(agent_key or settings.home / "agents" / f"{agent}.pem")
    llm = LlmAgent(model)
    history: list[dict[str, Any]] = []
    async with open_session(url, user_token=user_token, agent_id=agent, agent_key=key) as session:
        typer.echo(f"chatting as {user} through {agent} (model {model}); an empty line or Ctrl-D ends")
        while True:
            try:
                line = input("you> ").strip()
            except EOFError:
                break
            if not line:
                break
            run = await llm.run(session, line, history)
            for call in run.calls:
                typer.echo(f"  [tool] {call['tool']}({json.dumps(call['arguments'])[:120]})")
            for denial in run.denials:
                typer.echo(f"  [denied] {denial['tool']}: {denial.get('layer')}: {denial.get('reason')}")
            typer.echo(f"agent> {run.answer}")
