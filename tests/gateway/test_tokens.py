"""Identity at the gateway: the token exchange, and a battery of bad tokens refused at /mcp."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import jwt
import pytest

from agents.identity import exchange_form, load_agent_key, make_assertion
from core import keys
from core.audit import recent
from core.db import make_engine, make_sessionmaker
from gateway.seed import agent_key_path
from tests.gateway.conftest import LiveGateway

pytestmark = pytest.mark.db


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def _exchange(live: LiveGateway, user_token: str, agent: str, key: Any | None = None, assertion: str | None = None) -> httpx.Response:
    key = key or load_agent_key(agent_key_path(live.settings.home, agent))
    assertion = assertion or make_assertion(agent, key, f"{live.url}/oauth/token")
    return await live.http.post("/oauth/token", data=exchange_form(user_token, assertion))


async def _audit(live: LiveGateway, kind: str) -> list[Any]:
    engine = make_engine(live.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return [r for r in await recent(session, limit=500) if r.kind == kind]
    finally:
        await engine.dispose()


async def test_the_delegated_token_names_both_and_holds_the_intersection(live: LiveGateway) -> None:
    user_token = live.user_token("alice")
    response = await _exchange(live, user_token, "ide-assistant")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    user_claims = jwt.decode(user_token, options={"verify_signature": False})
    assert claims["sub"] == "alice" and claims["act"] == {"sub": "ide-assistant"}
    assert claims["aud"] == f"{live.url}/mcp"
    assert set(claims["scope"].split()) == {"mcp:use", "demo:use", "recsys:read", "kg:read", "forecast:read"}
    assert "pricing:read" in claims["user_scope"].split()
    assert claims["exp"] <= user_claims["exp"]
    assert claims["exp"] - claims["iat"] <= 900
    jwks = (await live.http.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0]).key
    jwt.decode(body["access_token"], key, algorithms=["ES256"], audience=f"{live.url}/mcp")


async def test_shadow_and_suspended_agents_get_nothing_and_are_recorded(live: LiveGateway) -> None:
    stranger = keys.generate_private_key()
    response = await _exchange(live, live.user_token("alice"), "rogue-agent", key=stranger)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    await live.http.post("/api/v1/agents/chat-bot/suspend", json={"reason": "test"}, headers=live.auth("admin"))
    response = await _exchange(live, live.user_token("alice"), "chat-bot")
    assert response.status_code == 400
    layers = {(r.agent, r.layer) for r in await _audit(live, "token_exchange") if r.decision == "deny"}
    assert ("rogue-agent", "agent_unregistered") in layers
    assert ("chat-bot", "agent_not_active") in layers


async def test_an_assertion_signed_by_another_key_or_replayed_is_refused(live: LiveGateway) -> None:
    forged = await _exchange(live, live.user_token("alice"), "ide-assistant", key=keys.generate_private_key())
    assert forged.status_code == 400
    key = load_agent_key(agent_key_path(live.settings.home, "ide-assistant"))
    assertion = make_assertion("ide-assistant", key, f"{live.url}/oauth/token")
    assert (await _exchange(live, live.user_token("alice"), "ide-assistant", assertion=assertion)).status_code == 200
    replay = await _exchange(live, live.user_token("alice"), "ide-assistant", assertion=assertion)
    assert replay.status_code == 400
    assert "already used" in replay.json()["error_description"]


async def test_a_bad_user_token_is_refused_at_the_exchange(live: LiveGateway) -> None:
    response = await _exchange(live, "not-a-token", "ide-assistant")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    wrong_grant = await live.http.post("/oauth/token", data={"grant_type": "password"})
    assert wrong_grant.json()["error"] == "unsupported_grant_type"


def _now() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp())


def _bad_tokens(live: LiveGateway, delegated: str) -> dict[str, str]:
    gateway_key = live.settings.home / "gateway" / "signing.pem"
    private = keys.load_private_key(gateway_key)
    good = jwt.decode(delegated, options={"verify_signature": False})

    def signed(claims: dict[str, Any], headers: dict[str, Any] | None = None, key: Any = private) -> str:
        return jwt.encode(claims, key, algorithm="ES256", headers=headers or {"typ": "at+jwt"})

    def without(name: str) -> dict[str, Any]:
        return {k: v for k, v in good.items() if k != name}

    public_pem = keys.public_pem(private).encode()
    hs_input = f"{_b64({'alg': 'HS256', 'typ': 'at+jwt'})}.{_b64(good)}"
    hs_signature = base64.urlsafe_b64encode(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    downstream = signed({**good, "aud": "urn:tollhouse:tool:demo.add", "jti": uuid.uuid4().hex})
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(good)}.",
        "HS256 with the public key": f"{hs_input}.{hs_signature}",
        "wrong aud": signed({**good, "aud": "https://elsewhere.example/mcp"}),
        "wrong iss": signed({**good, "iss": "https://idp.example"}),
        "expired": signed({**good, "exp": _now() - 3600, "iat": _now() - 7200, "nbf": _now() - 7200}),
        "not yet valid": signed({**good, "nbf": _now() + 3600}),
        "missing exp": signed(without("exp")),
        "exp as a string": signed({**good, "exp": str(_now() + 600)}),
        "unknown kid": signed(good, {"typ": "at+jwt", "kid": "nope"}, key=keys.generate_private_key()),
        "1 MB token": signed({**good, "pad": "x" * 1_000_000}),
        "replayed at another audience": downstream,
        "the user's own token": live.user_token("alice"),
        "no actor": signed(without("act")),
    }


async def test_a_battery_of_bad_tokens_is_refused_with_401_and_nothing_runs(live: LiveGateway) -> None:
    delegated = await live.delegated("alice", "ide-assistant")
    before = len(await _audit(live, "tool_call.intent"))
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "demo.add", "arguments": {"a": 1, "b": 2}}}
    for why, token in _bad_tokens(live, delegated).items():
        response = await live.http.post(
            "/mcp",
            json=request,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"},
        )
        assert response.status_code == 401, why
        assert 'resource_metadata="' in response.headers["www-authenticate"], why
    assert len(await _audit(live, "tool_call.intent")) == before


async def test_unauthenticated_mcp_points_to_the_resource_metadata(live: LiveGateway) -> None:
    response = await live.http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    assert f'resource_metadata="{live.url}/.well-known/oauth-protected-resource/mcp"' in response.headers["www-authenticate"]
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        metadata = (await live.http.get(path)).json()
        assert metadata["resource"] == f"{live.url}/mcp"
        assert metadata["authorization_servers"] == [live.url]


async def test_a_token_without_mcp_use_gets_403_insufficient_scope(live: LiveGateway) -> None:
    await live.http.post("/api/v1/agents", headers=live.auth("admin"), json={
        "client_id": "narrow-bot", "name": "n", "owning_team": "analytics",
        "public_key_pem": keys.public_pem(narrow := keys.generate_private_key()), "granted_scopes": ["demo:use"],
    })
    response = await _exchange(live, live.user_token("alice"), "narrow-bot", key=narrow)
    token = response.json()["access_token"]
    result = await live.http.post(
        "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
    )
    assert result.status_code == 403
    assert "insufficient_scope" in result.headers["www-authenticate"]


async def test_foreign_host_and_origin_are_refused(live: LiveGateway) -> None:
    token = await live.delegated("alice", "ide-assistant")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    assert (await live.http.post("/mcp", json=body, headers={**headers, "Host": "evil.example"})).status_code == 421
    assert (await live.http.post("/mcp", json=body, headers={**headers, "Origin": "http://evil.example"})).status_code == 403


async def test_user_tokens_verify_against_a_jwks_url_and_unknown_kids_are_refused(live: LiveGateway) -> None:
    import asyncio

    from core.auth import InvalidToken, TokenVerifier
    from core.settings import AuthSettings

    # The gateway's own JWKS document stands in for an IdP's.
    settings = AuthSettings(issuer=live.url, audience=f"{live.url}/mcp", jwks_url=f"{live.url}/.well-known/jwks.json", accepted_typ=["at+jwt"])
    verifier = TokenVerifier(settings)
    delegated = await live.delegated("alice", "ide-assistant")
    claims = await asyncio.to_thread(verifier.verify_claims, delegated)
    assert claims["sub"] == "alice"
    stranger = jwt.encode({**claims, "jti": "x"}, keys.generate_private_key(), algorithm="ES256", headers={"typ": "at+jwt", "kid": "nope"})
    with pytest.raises(InvalidToken):
        await asyncio.to_thread(verifier.verify_claims, stranger)
