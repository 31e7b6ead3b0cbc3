"""An agent's identity on the client side: its signed assertion and the token exchange.

The agent signs a short assertion with its own private key and trades it,
with the user's token, for a delegated token at the gateway's
``/oauth/token`` (RFC 8693). That delegated token is the only bearer token
the agent presents on ``/mcp``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

from core import keys
from core.errors import TollhouseError

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"


class ExchangeRefused(TollhouseError):
    code = "token_exchange_refused"
    status = 400


@dataclass(frozen=True)
class DelegatedToken:
    access_token: str
    expires_in: int
    scope: str

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.expires_in)


def make_assertion(client_id: str, private_key: Any, token_endpoint: str, *, lifetime_seconds: int = 120) -> str:
    """A one-use assertion (iss = sub = client id, aud = the token endpoint) signed with the agent's key."""
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": now,
        "exp": now + lifetime_seconds,
        "jti": uuid.uuid4().hex,
    }
    algorithm = "ES256" if hasattr(private_key, "curve") else "RS256"
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"typ": "JWT"})


def load_agent_key(path: Path) -> Any:
    """The agent's private key from a PEM file. Raises ``FileNotFoundError``."""
    return keys.load_private_key(path)


def exchange_form(user_token: str, assertion: str, scope: str | None = None) -> dict[str, str]:
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": user_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "actor_token": assertion,
        "actor_token_type": JWT_TOKEN_TYPE,
    }
    if scope:
        form["scope"] = scope
    return form


def parse_exchange_response(response: httpx.Response) -> DelegatedToken:
    """The delegated token of a token-endpoint answer. Raises :class:`ExchangeRefused`."""
    if response.status_code != 200:
        try:
            body = response.json()
            message = f"{body.get('error', 'error')}: {body.get('error_description', '')}"
        except ValueError:
            message = f"HTTP {response.status_code}"
        raise ExchangeRefused(f"token exchange refused ({message})")
    body = response.json()
    return DelegatedToken(body["access_token"], int(body["expires_in"]), body.get("scope", ""))


def exchange(gateway_url: str, user_token: str, client_id: str, private_key: Any, *, scope: str | None = None) -> DelegatedToken:
    """Trade the user's token and the agent's assertion for a delegated token (blocking)."""
    endpoint = f"{gateway_url.rstrip('/')}/oauth/token"
    assertion = make_assertion(client_id, private_key, endpoint)
    try:
        response = httpx.post(endpoint, data=exchange_form(user_token, assertion, scope), timeout=30)
    except httpx.HTTPError as exc:
        raise ExchangeRefused(f"cannot reach {endpoint}: {exc}") from exc
    return parse_exchange_response(response)


async def exchange_async(
    client: httpx.AsyncClient, gateway_url: str, user_token: str, client_id: str, private_key: Any, *, scope: str | None = None
) -> DelegatedToken:
    """The same exchange over an async client."""
    endpoint = f"{gateway_url.rstrip('/')}/oauth/token"
    assertion = make_assertion(client_id, private_key, endpoint)
    response = await client.post(endpoint, data=exchange_form(user_token, assertion, scope))
    return parse_exchange_response(response)
