"""Gateway REST routes: discovery documents, the pre-flight access check, approvals, upstream servers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from core.auth import InvalidToken
from core.errors import InvalidRequest, TollhouseError
from core.telemetry import current_trace_id
from core.web import CurrentPrincipal, DbSession, bearer_token
from gateway import federation
from gateway.access import AccessService, Caller
from gateway.mcp import MCP_SCOPE
from registry.approvals import ApprovalService
from registry.auth import PlatformAdmin, require_any_role
from registry.schemas import ApprovalDecisionIn, ApprovalOut, UpstreamIn, UpstreamOut
from registry.service import ToolService
from registry.upstream import UpstreamService

router = APIRouter()
Approver = Annotated[Any, Depends(require_any_role("platform-admin", "auditor"))]


@router.get("/.well-known/jwks.json", tags=["discovery"])
async def jwks(request: Request) -> dict[str, Any]:
    return request.app.state.tokens.jwks()  # type: ignore[no-any-return]


def _resource_metadata(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    return {
        "resource": settings.mcp_resource,
        "authorization_servers": [settings.public_url],
        "scopes_supported": [MCP_SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": "Tollhouse MCP gateway",
    }


@router.get("/.well-known/oauth-protected-resource", tags=["discovery"])
async def protected_resource(request: Request) -> dict[str, Any]:
    return _resource_metadata(request)


@router.get("/.well-known/oauth-protected-resource/mcp", tags=["discovery"])
async def protected_resource_mcp(request: Request) -> dict[str, Any]:
    return _resource_metadata(request)


@router.get("/.well-known/oauth-authorization-server", tags=["discovery"])
async def authorization_server(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    return {
        "issuer": settings.public_url,
        "token_endpoint": f"{settings.public_url}/oauth/token",
        "jwks_uri": f"{settings.public_url}/.well-known/jwks.json",
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:token-exchange"],
        "token_endpoint_auth_methods_supported": ["none"],
    }


class AccessCheckIn(BaseModel):
    tool: str = Field(min_length=1, max_length=128)
    # Needed when the bearer is a user token; ignored for a delegated token.
    agent: str | None = Field(default=None, max_length=128)
    arguments: dict[str, Any] = Field(default_factory=dict)


class AccessCheckOut(BaseModel):
    allowed: bool
    layer: str
    reason: str
    user: str
    agent: str
    tool: str
    tool_version: int | None
    missing_scopes: list[str]
    approval_request_id: str | None


async def _caller_for_check(request: Request, body: AccessCheckIn) -> Caller:
    token = bearer_token(request)
    try:
        return Caller.from_claims(request.app.state.tokens.verify_delegated(token))
    except InvalidToken:
        pass
    user = request.app.state.verifier.verify(token)
    if not body.agent:
        raise InvalidRequest("with a user token, name the agent to check through", code="agent_required")
    agent = await request.app.state.directory.get(body.agent)
    grants = agent.grants if agent is not None else frozenset()
    return Caller(user.subject, body.agent, user.scopes, user.groups, user.scopes & grants, user.roles)


@router.post("/api/v1/access/check", response_model=AccessCheckOut, tags=["access"])
async def access_check(body: AccessCheckIn, request: Request) -> AccessCheckOut:
    """May this user, through this agent, call this tool now? Spends no rate-limit budget."""
    caller = await _caller_for_check(request, body)
    access: AccessService = request.app.state.access
    checked = await access.check(caller, body.tool, body.arguments, preflight=True, trace_id=current_trace_id())
    decision = checked.decision
    return AccessCheckOut(
        allowed=decision.allowed,
        layer=decision.layer,
        reason=decision.reason,
        user=caller.user,
        agent=caller.agent,
        tool=body.tool,
        tool_version=decision.tool_version,
        missing_scopes=list(decision.missing_scopes),
        approval_request_id=decision.approval_request_id,
    )


def _approvals(request: Request, session: DbSession) -> ApprovalService:
    return ApprovalService(session, ttl_seconds=request.app.state.settings.gateway.approval_ttl_seconds)


@router.get("/api/v1/approvals", response_model=list[ApprovalOut], tags=["approvals"])
async def list_approvals(
    _: Approver, request: Request, session: DbSession, status: Annotated[str | None, Query(max_length=16)] = None
) -> list[ApprovalOut]:
    return [ApprovalOut.model_validate(a) for a in await _approvals(request, session).list(status)]


@router.post("/api/v1/approvals/{request_id}/grant", response_model=ApprovalOut, tags=["approvals"])
async def grant_approval(
    request_id: str, body: ApprovalDecisionIn, principal: CurrentPrincipal, request: Request, session: DbSession
) -> ApprovalOut:
    decided = await _approvals(request, session).decide(principal, request_id, grant=True, reason=body.reason)
    return ApprovalOut.model_validate(decided)


@router.post("/api/v1/approvals/{request_id}/refuse", response_model=ApprovalOut, tags=["approvals"])
async def refuse_approval(
    request_id: str, body: ApprovalDecisionIn, principal: CurrentPrincipal, request: Request, session: DbSession
) -> ApprovalOut:
    decided = await _approvals(request, session).decide(principal, request_id, grant=False, reason=body.reason)
    return ApprovalOut.model_validate(decided)


@router.get("/api/v1/servers", response_model=list[UpstreamOut], tags=["upstream"])
async def list_servers(_: PlatformAdmin, session: DbSession) -> list[UpstreamOut]:
    return [UpstreamOut.model_validate(s) for s in await UpstreamService(session).list()]


@router.post("/api/v1/servers", response_model=UpstreamOut, status_code=201, tags=["upstream"])
async def register_server(body: UpstreamIn, principal: PlatformAdmin, session: DbSession) -> UpstreamOut:
    return UpstreamOut.model_validate(await UpstreamService(session).register(principal, body))


@router.post("/api/v1/servers/{name}/refresh", tags=["upstream"])
async def refresh_server(name: str, _: PlatformAdmin, request: Request) -> dict[str, Any]:
    """Re-read the server's tools now: new ones are filed for review, drifted ones quarantined."""
    try:
        outcome = await federation.refresh_server(
            name, tokens=request.app.state.tokens, sessionmaker=request.app.state.sessionmaker
        )
    except TollhouseError:
        raise
    except Exception as exc:
        raise TollhouseError(
            f"upstream server {name!r} could not be listed: {type(exc).__name__}", code="upstream_unreachable", status=502
        ) from exc
    return {"server": name, "tools": outcome}


@router.get("/api/v1/quarantines", tags=["upstream"])
async def list_quarantines(_: Approver, request: Request, session: DbSession) -> list[dict[str, Any]]:
    return [
        {
            "tool": q.version.tool.name,
            "version": q.version.version,
            "pinned_digest": q.pinned_digest,
            "observed_digest": q.observed_digest,
            "at": q.at,
        }
        for q in await ToolService(session).quarantines()
    ]
