"""``POST /oauth/token``: RFC 8693 token exchange of (user token, agent assertion) for a delegated token.

Every attempt is recorded, refused ones included; an attempt by an agent that
is not registered, or not active, is what the shadow-agent report lists.
"""

from __future__ import annotations

from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from core import audit
from core.auth import InvalidToken
from core.telemetry import current_trace_id
from gateway.directory import AgentDirectory
from gateway.tokens import GatewayTokens

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
SUBJECT_TYPES = {"urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:jwt"}
ACTOR_TYPE = "urn:ietf:params:oauth:token-type:jwt"

router = APIRouter()


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": error, "error_description": description},
        headers={"Cache-Control": "no-store"},
    )


async def _record(request: Request, *, user: str | None, agent: str | None, allowed: bool, layer: str, reason: str, detail: dict[str, Any] | None = None) -> None:
    """Record the attempt; if the log cannot hold it, the exchange fails (AuditUnavailable, 503)."""
    await request.app.state.audit_writer.append(
        audit.make_record(
            "token_exchange",
            user=user,
            agent=agent,
            decision="allow" if allowed else "deny",
            layer=layer,
            reason=reason,
            trace_id=current_trace_id(),
            detail=detail,
        )
    )


def _claimed_agent(actor_token: str) -> str | None:
    # Only to find whose key to verify with; nothing is trusted before that.
    try:
        claims = jwt.decode(actor_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) and 0 < len(issuer) <= 128 else None


@router.post("/oauth/token", tags=["oauth"])
async def token_exchange(
    request: Request,
    grant_type: Annotated[str, Form()],
    subject_token: Annotated[str | None, Form()] = None,
    subject_token_type: Annotated[str | None, Form()] = None,
    actor_token: Annotated[str | None, Form()] = None,
    actor_token_type: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
    resource: Annotated[str | None, Form()] = None,
    audience: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    tokens: GatewayTokens = request.app.state.tokens
    directory: AgentDirectory = request.app.state.directory
    if grant_type != TOKEN_EXCHANGE:
        return _oauth_error("unsupported_grant_type", "only token exchange (RFC 8693) is supported")
    if not subject_token or subject_token_type not in SUBJECT_TYPES:
        return _oauth_error("invalid_request", "subject_token of type access_token or jwt is required")
    if not actor_token or actor_token_type != ACTOR_TYPE:
        return _oauth_error("invalid_request", "actor_token (the agent's signed assertion, type jwt) is required")
    for target in (resource, audience):
        if target and target.rstrip("/") not in (tokens.mcp_audience, tokens.issuer):
            return _oauth_error("invalid_target", "delegated tokens are issued for this gateway only")

    try:
        user = request.app.state.verifier.verify(subject_token)
    except InvalidToken as exc:
        await _record(request, user=None, agent=_claimed_agent(actor_token), allowed=False, layer="subject_token", reason=exc.message)
        return _oauth_error("invalid_grant", f"subject token refused: {exc.message}")

    client_id = _claimed_agent(actor_token)
    agent = await directory.get(client_id) if client_id else None
    if agent is None or agent.status != "active":
        layer = "agent_unregistered" if agent is None else "agent_not_active"
        reason = f"agent {client_id!r} is {'not registered' if agent is None else agent.status}"
        await _record(request, user=user.subject, agent=client_id, allowed=False, layer=layer, reason=reason)
        return _oauth_error("invalid_grant", reason)
    try:
        tokens.verify_agent_assertion(actor_token, client_id=agent.client_id, public_key_pem=agent.public_key_pem)
    except InvalidToken as exc:
        await _record(request, user=user.subject, agent=client_id, allowed=False, layer="actor_token", reason=exc.message)
        return _oauth_error("invalid_grant", f"actor token refused: {exc.message}")

    requested = frozenset(scope.split()) if scope else None
    token, expires_in, effective = tokens.mint_delegated(
        user_claims=user.claims,
        user_scopes=user.scopes,
        user_groups=user.groups,
        user_roles=user.roles,
        agent=agent.client_id,
        agent_grants=agent.grants,
        requested=requested,
    )
    await _record(
        request, user=user.subject, agent=agent.client_id, allowed=True, layer="allow",
        reason="delegated token issued", detail={"scope": sorted(effective), "expires_in": expires_in},
    )
    return JSONResponse(
        {
            "access_token": token,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": " ".join(sorted(effective)),
        },
        headers={"Cache-Control": "no-store"},
    )
