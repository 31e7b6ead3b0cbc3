"""Gateway commands: serve, access explain, approvals, upstream servers."""

from __future__ import annotations

import typer

from core.cli_client import AS_OPTION, TOKEN_OPTION, URL_OPTION, call, resolve_token, show
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



