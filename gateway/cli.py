"""Gateway commands: serve, access explain, approvals, upstream servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from core.cli_client import AS_OPTION, TOKEN_OPTION, URL_OPTION, call, fail, resolve_token, show
from core.settings import Settings

access_app = typer.Typer(help="Pre-flight access decisions.", no_args_is_help=True)
approvals_app = typer.Typer(help="Human approvals of single calls.", no_args_is_help=True)
servers_app = typer.Typer(help="Upstream MCP servers.", no_args_is_help=True)


def run_server(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the app on one worker until interrupted."""
    # Imported here: every other command of the CLI starts faster without the server stack.
    import uvicorn

    from gateway.app import create_app

    if port is not None:
        settings.server.port = port
    if host is not None:
        settings.server.host = host
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        log_level="info",
        # Request lines stay out of the log: less noise, and nothing sensitive
        # in a query string can leak there.
        access_log=False,
        # Open MCP sessions must not hold a shutdown hostage.
        timeout_graceful_shutdown=5,
    )


@access_app.command("explain")
def explain(
    tool: str = typer.Option(..., "--tool"),
    agent: str = typer.Option(..., "--agent"),
    user: str | None = typer.Option(None, "--user", help="Dev mode: the demo user to check for."),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
) -> None:
    """May USER, through AGENT, call TOOL now? Names the layer that decides. Spends no budget."""
    bearer = resolve_token(token, user)
    answer = call("POST", url, "/api/v1/access/check", bearer, {"tool": tool, "agent": agent})
    verdict = "ALLOWED" if answer["allowed"] else "DENIED"
    typer.echo(f"{verdict}: {answer['user']} via {answer['agent']} -> {tool} (v{answer['tool_version']})")
    typer.echo(f"  layer:  {answer['layer']}")
    typer.echo(f"  reason: {answer['reason']}")
    if answer["missing_scopes"]:
        typer.echo(f"  missing scopes: {' '.join(answer['missing_scopes'])}")
    if not answer["allowed"]:
        raise typer.Exit(2)


@approvals_app.command("list")
def list_approvals(
    status: str | None = typer.Option("pending", "--status"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Approval requests (pending by default)."""
    for item in call("GET", url, "/api/v1/approvals", resolve_token(token, as_user), params={"status": status} if status else None):
        typer.echo(f"{item['id']}  {item['status']}  {item['user']} via {item['agent']} -> {item['tool']} v{item['tool_version']}  args={item['arguments_shown']}")


def _decide(action: str, request_id: str, reason: str | None, url: str, token: str) -> None:
    result = call("POST", url, f"/api/v1/approvals/{request_id}/{action}", token, {"reason": reason})
    typer.echo(f"{result['id']}: {result['status']}")


@approvals_app.command("grant")
def grant(
    request_id: str,
    reason: str | None = typer.Option(None, "--reason"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Let exactly that call (user, agent, tool, arguments) run once, within the approval window."""
    _decide("grant", request_id, reason, url, resolve_token(token, as_user))


@approvals_app.command("refuse")
def refuse(
    request_id: str,
    reason: str | None = typer.Option(None, "--reason"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Refuse a pending approval request."""
    _decide("refuse", request_id, reason, url, resolve_token(token, as_user))


@servers_app.command("register")
def register(
    server_url: str = typer.Argument(..., metavar="URL"),
    name: str = typer.Option(..., "--name"),
    team: str = typer.Option(..., "--team"),
    scopes: str = typer.Option(..., "--scopes", help="Scopes its tools require, space- or comma-separated."),
    risk: str = typer.Option("medium", "--risk"),
    classification: str = typer.Option("internal", "--classification"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Register a remote MCP server and file its tools for review."""
    bearer = resolve_token(token, as_user)
    body = {
        "name": name, "url": server_url, "owning_team": team, "risk_class": risk,
        "data_classification": classification,
        "required_scopes": [s for s in scopes.replace(",", " ").split() if s],
    }
    show(call("POST", url, "/api/v1/servers", bearer, body))
    show(call("POST", url, f"/api/v1/servers/{name}/refresh", bearer))


@servers_app.command("list")
def list_servers(url: str = URL_OPTION, token: str | None = TOKEN_OPTION, as_user: str | None = AS_OPTION) -> None:
    """Registered upstream servers and their last refresh."""
    for server in call("GET", url, "/api/v1/servers", resolve_token(token, as_user)):
        typer.echo(f"{server['name']}  {server['url']}  refreshed={server['last_refresh_at']}  error={server['last_error']}")


@servers_app.command("refresh")
def refresh(name: str, url: str = URL_OPTION, token: str | None = TOKEN_OPTION, as_user: str | None = AS_OPTION) -> None:
    """Re-read a server's tools now (new ones filed for review, drifted ones quarantined)."""
    show(call("POST", url, f"/api/v1/servers/{name}/refresh", resolve_token(token, as_user)))





audit_app = typer.Typer(help="The audit log: verify, checkpoint, query, export, shadow agents, usage.", no_args_is_help=True)


def _local(action: str) -> dict[str, Any]:
    """Run a check against the configured database and checkpoint directory (no server needed)."""
    import asyncio

    from core.audit_verify import checkpoint_configured, verify_configured
    from core.db import make_engine, make_sessionmaker
    from core.settings import get_settings

    settings = get_settings()

    async def run() -> dict[str, Any]:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                if action == "verify":
                    return (await verify_configured(session, settings)).as_dict()
                checkpoint = await checkpoint_configured(session, settings)
                return {"seq": checkpoint.seq, "digest": checkpoint.digest, "at": checkpoint.at, "file": str(checkpoint.path)}
        finally:
            await engine.dispose()

    return asyncio.run(run())


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every link and every signed checkpoint; name the first bad record. Exit 1 if any."""
    report = _local("verify")
    if report["ok"]:
        typer.echo(f"OK: {report['records']} records, {report['checkpoints']} checkpoints, {report['seconds']} s")
    else:
        first = report["first_problem"]
        typer.echo(f"TAMPERED: first bad record {first['seq']}: {first['kind']}: {first['message']}")
        for problem in report["problems"][1:]:
            typer.echo(f"  also {problem['seq']}: {problem['kind']}: {problem['message']}")
    if report["open_intents"]:
        typer.echo(f"{len(report['open_intents'])} open intent(s): calls whose outcome was never written")
        for intent in report["open_intents"][:20]:
            typer.echo(f"  record {intent['seq']}: {intent['user']} via {intent['agent']} -> {intent['tool']} (call {intent['call_id']})")
    if not report["ok"]:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the chain head into the checkpoint directory (outside the database)."""
    show(_local("checkpoint"))


@audit_app.command("query")
def audit_query(
    user: str | None = typer.Option(None, "--user"),
    agent: str | None = typer.Option(None, "--agent"),
    tool: str | None = typer.Option(None, "--tool"),
    decision: str | None = typer.Option(None, "--decision"),
    trace_id: str | None = typer.Option(None, "--trace"),
    since: str | None = typer.Option(None, "--since", help="ISO time"),
    limit: int = typer.Option(100, "--limit"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Matching records, one JSON object a line."""
    params = {k: v for k, v in {"user": user, "agent": agent, "tool": tool, "decision": decision, "trace_id": trace_id, "since": since, "limit": limit}.items() if v is not None}
    for entry in call("GET", url, "/api/v1/audit/records", resolve_token(token, as_user), params=params)["records"]:
        typer.echo(json.dumps(entry, ensure_ascii=True))


@audit_app.command("export")
def audit_export(
    output: Path = typer.Argument(..., help="File to write."),
    format: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Stream every record to a file (JSONL or CSV)."""
    import httpx

    bearer = resolve_token(token, as_user)
    with httpx.stream("GET", f"{url.rstrip('/')}/api/v1/audit/export", params={"format": format},
                      headers={"Authorization": f"Bearer {bearer}"}, timeout=httpx.Timeout(30, read=600)) as response:
        if response.status_code != 200:
            response.read()
            fail(f"export refused: HTTP {response.status_code} {response.text[:200]}")
        with output.open("wb") as handle:
            for chunk in response.iter_bytes():
                handle.write(chunk)
    typer.echo(f"wrote {output}")


@audit_app.command("shadow")
def audit_shadow(url: str = URL_OPTION, token: str | None = TOKEN_OPTION, as_user: str | None = AS_OPTION) -> None:
    """Agents refused as unregistered or suspended, with first and last seen."""
    for row in call("GET", url, "/api/v1/audit/shadow-agents", resolve_token(token, as_user)):
        typer.echo(f"{row['agent']}  {row['why']}  attempts={row['attempts']}  users={row['users']}  first={row['first_seen']}  last={row['last_seen']}")


@audit_app.command("usage")
def audit_usage(url: str = URL_OPTION, token: str | None = TOKEN_OPTION, as_user: str | None = AS_OPTION) -> None:
    """Calls per tool per day, and denials per layer per day."""
    show(call("GET", url, "/api/v1/audit/usage", resolve_token(token, as_user)))
