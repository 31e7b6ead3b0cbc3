"""``tollhouse tools ...`` and ``tollhouse agents ...``: the registry from the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from core import keys
from core.cli_client import AS_OPTION, TOKEN_OPTION, URL_OPTION, call, fail, resolve_token, show

tools_app = typer.Typer(help="Publish, review and approve tools.", no_args_is_help=True)
agents_app = typer.Typer(help="Register and manage agent identities.", no_args_is_help=True)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"no such file: {path}")
    except json.JSONDecodeError as exc:
        fail(f"{path} is not valid JSON: {exc}")


def _policy(groups: str | None, agents: str | None, rate: int | None, human: bool | None) -> dict[str, Any] | None:
    if groups is None and agents is None and rate is None and human is None:
        return None
    policy: dict[str, Any] = {}
    if groups is not None:
        policy["allowed_groups"] = groups.split(",") if groups else []
    if agents is not None:
        policy["allowed_agents"] = agents.split(",") if agents else []
    if rate is not None:
        policy["rate_limit_per_minute"] = rate
    if human is not None:
        policy["human_approval"] = human
    return policy


GROUPS = typer.Option(None, "--groups", help="Allowed user groups, comma-separated ('*' = any).")
AGENTS = typer.Option(None, "--agents", help="Allowed agents, comma-separated ('*' = any).")
RATE = typer.Option(None, "--rate-limit", help="Calls per minute per user.")
HUMAN = typer.Option(None, "--human-approval/--no-human-approval", help="Every call needs a human approval.")


@tools_app.command("submit")
def submit(
    manifest: Path = typer.Argument(..., help="JSON file: the MCP tool object plus 'platform'."),
    draft: bool = typer.Option(False, help="Keep the version a draft."),
    groups: str | None = GROUPS,
    agents: str | None = AGENTS,
    rate: int | None = RATE,
    human: bool | None = HUMAN,
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Submit a new tool version for review."""
    body = {"manifest": _read_json(manifest), "draft": draft, "policy": _policy(groups, agents, rate, human)}
    show(call("POST", url, "/api/v1/tools", resolve_token(token, as_user), body))


@tools_app.command("list")
def list_tools(url: str = URL_OPTION, token: str | None = TOKEN_OPTION, as_user: str | None = AS_OPTION) -> None:
    """Every tool with its versions and their states."""
    tools = call("GET", url, "/api/v1/tools", resolve_token(token, as_user))
    if not tools:
        typer.echo("no tools")
    for tool in tools:
        states = ", ".join(f"v{number}:{state}" for number, state in tool["states"].items())
        typer.echo(f"{tool['name']}  team={tool['owning_team']}  approved=v{tool['approved_version']}  [{states}]")


@tools_app.command("show")
def show_tool(
    name: str,
    version: int | None = typer.Option(None, "--version", "-v"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """One tool's versions (or one version) in full."""
    path = f"/api/v1/tools/{name}" + (f"/versions/{version}" if version else "")
    show(call("GET", url, path, resolve_token(token, as_user)))


@tools_app.command("diff")
def diff(
    name: str,
    from_version: int = typer.Argument(..., metavar="FROM"),
    to_version: int = typer.Argument(..., metavar="TO"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """What changed between two versions, field by field ('!' marks text the model reads)."""
    result = call(
        "GET", url, f"/api/v1/tools/{name}/diff", resolve_token(token, as_user),
        params={"from": from_version, "to": to_version},
    )
    typer.echo(result["text"])


@tools_app.command("review")
def review(url: str = URL_OPTION, token: str | None = TOKEN_OPTION, as_user: str | None = AS_OPTION) -> None:
    """The review queue: versions in review, their flags and missing sign-offs."""
    queue = call("GET", url, "/api/v1/reviews", resolve_token(token, as_user))
    if not queue:
        typer.echo("nothing in review")
    for item in queue:
        typer.echo(
            f"{item['name']} v{item['version']}  by {item['submitted_by']}  "
            f"needs: {', '.join(item['missing_signoffs']) or '-'}  flags: {len(item['flags'])}"
        )
        for flag in item["flags"]:
            typer.echo(f"    ! {flag['path']}: {flag['message']}")


def _sign(name: str, version: int, kind: str, verdict: str, reason: str | None, policy: dict[str, Any] | None, url: str, token: str) -> None:
    body = {"kind": kind, "verdict": verdict, "reason": reason, "policy": policy}
    result = call("POST", url, f"/api/v1/tools/{name}/versions/{version}/signoffs", token, body)
    missing = ", ".join(result["missing_signoffs"]) or "none"
    typer.echo(f"{name} v{version}: {result['state']} (missing sign-offs: {missing})")


@tools_app.command("approve")
def approve(
    name: str,
    version: int = typer.Argument(...),
    kind: str = typer.Option(..., "--as-kind", "--kind", help="Sign-off kind: security, privacy, platform, ..."),
    reason: str | None = typer.Option(None, "--reason"),
    groups: str | None = GROUPS,
    agents: str | None = AGENTS,
    rate: int | None = RATE,
    human: bool | None = HUMAN,
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Give an approving sign-off of one kind (and optionally set the access policy)."""
    _sign(name, version, kind, "approve", reason, _policy(groups, agents, rate, human), url, resolve_token(token, as_user))


@tools_app.command("reject")
def reject(
    name: str,
    version: int = typer.Argument(...),
    kind: str = typer.Option(..., "--as-kind", "--kind"),
    reason: str = typer.Option(..., "--reason"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Reject a version in review (a reason is required)."""
    _sign(name, version, kind, "reject", reason, None, url, resolve_token(token, as_user))


@tools_app.command("revoke")
def revoke(
    name: str,
    version: int = typer.Argument(...),
    reason: str = typer.Option(..., "--reason"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Emergency revocation of an approved version."""
    result = call("POST", url, f"/api/v1/tools/{name}/versions/{version}/revoke", resolve_token(token, as_user), {"reason": reason})
    typer.echo(f"{name} v{version}: {result['state']}")


@agents_app.command("register")
def register(
    client_id: str,
    team: str = typer.Option(..., "--team"),
    scopes: str = typer.Option("", "--scopes", help="Granted scopes, space- or comma-separated."),
    name: str | None = typer.Option(None, "--name"),
    public_key: Path | None = typer.Option(None, "--public-key", help="PEM file of the agent's public key."),
    generate_key: Path | None = typer.Option(None, "--generate-key", help="Write a new private key here (mode 0600)."),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Register an agent (service identity) with its public key and grants."""
    if (public_key is None) == (generate_key is None):
        fail("give exactly one of --public-key and --generate-key")
    if generate_key is not None:
        if generate_key.exists():
            fail(f"{generate_key} exists; not overwriting a key")
        private = keys.generate_private_key()
        keys.write_secret(generate_key, keys.private_pem(private))
        pem = keys.public_pem(private)
    else:
        assert public_key is not None
        pem = public_key.read_text(encoding="utf-8")
    body = {
        "client_id": client_id,
        "name": name or client_id,
        "owning_team": team,
        "public_key_pem": pem,
        "granted_scopes": [s for s in scopes.replace(",", " ").split() if s],
    }
    show(call("POST", url, "/api/v1/agents", resolve_token(token, as_user), body))


@agents_app.command("list")
def list_agents(url: str = URL_OPTION, token: str | None = TOKEN_OPTION, as_user: str | None = AS_OPTION) -> None:
    """Registered agents, their grants and status."""
    for agent in call("GET", url, "/api/v1/agents", resolve_token(token, as_user)):
        typer.echo(f"{agent['client_id']}  {agent['status']}  team={agent['owning_team']}  scopes={' '.join(agent['granted_scopes'])}")


def _set_status(client_id: str, action: str, reason: str, url: str, token: str) -> None:
    agent = call("POST", url, f"/api/v1/agents/{client_id}/{action}", token, {"reason": reason})
    typer.echo(f"{agent['client_id']}: {agent['status']}")


@agents_app.command("suspend")
def suspend(
    client_id: str,
    reason: str = typer.Option(..., "--reason"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Suspend an agent: its calls stop at once."""
    _set_status(client_id, "suspend", reason, url, resolve_token(token, as_user))


@agents_app.command("reactivate")
def reactivate(
    client_id: str,
    reason: str = typer.Option(..., "--reason"),
    url: str = URL_OPTION,
    token: str | None = TOKEN_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Reactivate a suspended agent."""
    _set_status(client_id, "reactivate", reason, url, resolve_token(token, as_user))
