"""What every CLI command that talks to a running Tollhouse shares: URL, token, errors."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import httpx
import typer

from core.auth import DEV_USERS, DevIssuer
from core.settings import get_settings

URL_OPTION = typer.Option("http://127.0.0.1:8000", "--url", envvar="TOLLHOUSE_URL", help="Base URL of Tollhouse.")
TOKEN_OPTION = typer.Option(
    None, "--token", envvar="TOLLHOUSE_TOKEN", help="Bearer token of the caller.", show_default=False
)
AS_OPTION = typer.Option(
    None, "--as", help="Dev mode only: act as this demo user (a dev token is minted locally)."
)


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def resolve_token(token: str | None, as_user: str | None) -> str:
    """The bearer token to send. Never printed."""
    if token:
        return token
    if as_user:
        settings = get_settings()
        if not settings.auth.dev_mode:
            fail("--as works only in dev mode; pass --token")
        if as_user not in DEV_USERS:
            fail(f"unknown demo user {as_user!r} (known: {', '.join(DEV_USERS)})")
        return DevIssuer(settings.home, settings.auth).issue_for(as_user)
    fail("no credentials: pass --token (or TOLLHOUSE_TOKEN), or --as USER in dev mode")


def call(method: str, url: str, path: str, token: str, body: Any | None = None, params: dict[str, Any] | None = None) -> Any:
    """Call the API; on an error answer print its code and message and exit 1."""
    try:
        response = httpx.request(
            method,
            url.rstrip("/") + path,
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach Tollhouse at {url}: {exc}")
    if response.status_code >= 400:
        try:
            error = response.json()
            detail = error.get("detail")
            suffix = f" {json.dumps(detail)}" if detail else ""
            fail(f"[{error.get('code', response.status_code)}] {error.get('message', '')}{suffix}")
        except ValueError:
            fail(f"HTTP {response.status_code}")
    return response.json()


def show(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=True, default=str)
    sys.stdout.write("\n")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
