"""Tools (versions, states, pins, quarantines), agents (grants, status), and human approvals."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from core import keys
from core.auth import Principal
from core.web import DbSession
from gateway.admin.auth import (
    AUDITOR,
    PLATFORM_ADMIN,
    AdminOrAuditorPage,
    PagePrincipal,
    PlatformAdminPage,
    may,
)
from gateway.admin.web import admin_router, redirect, render
from registry.approvals import ApprovalService
from registry.service import AgentService, ToolService

router = admin_router()
APPROVAL_STATUSES = ("pending", "granted", "refused", "used")


@router.get("/tools")
async def tools_page(request: Request, principal: PagePrincipal, session: DbSession) -> Response:
    service = ToolService(session)
    tools = await service.list_tools()
    # Quarantines are shown to the roles that may read them on the API.
    show_quarantines = may(principal, PLATFORM_ADMIN, AUDITOR)
    quarantines = await service.quarantines() if show_quarantines else []
    review_versions = {v.id: v for tool in tools for v in tool.versions}
    rows = [
        {"entry": q, "review": review_versions.get(q.review_version_id) if q.review_version_id else None}
        for q in quarantines
    ]
    return render(request, "tools.html", {"tools": tools, "show_quarantines": show_quarantines, "quarantines": rows})


@router.get("/agents")
async def agents_page(request: Request, principal: AdminOrAuditorPage, session: DbSession) -> Response:
    agents = await AgentService(session).list()
    rows = [{"agent": agent, "key_id": keys.key_id(agent.public_key_pem)} for agent in agents]
    return render(request, "agents.html", {"rows": rows, "can_change": may(principal, PLATFORM_ADMIN)})


async def _set_agent_status(principal: Principal, session: AsyncSession, client_id: str, status: str, reason: str) -> None:
    await AgentService(session).set_status(principal, client_id, status, reason.strip())


@router.post("/agents/{client_id}/suspend")
async def suspend_agent(
    client_id: str, principal: PlatformAdminPage, session: DbSession, reason: Annotated[str, Form(min_length=1, max_length=4000)]
) -> Response:
    await _set_agent_status(principal, session, client_id, "suspended", reason)
    return redirect("/admin/agents", "suspended")


@router.post("/agents/{client_id}/reactivate")
async def reactivate_agent(
    client_id: str, principal: PlatformAdminPage, session: DbSession, reason: Annotated[str, Form(min_length=1, max_length=4000)]
) -> Response:
    await _set_agent_status(principal, session, client_id, "active", reason)
    return redirect("/admin/agents", "reactivated")


def _approvals(request: Request, session: DbSession) -> ApprovalService:
    return ApprovalService(session, ttl_seconds=request.app.state.settings.gateway.approval_ttl_seconds)


@router.get("/approvals")
async def approvals_page(
    request: Request,
    principal: AdminOrAuditorPage,
    session: DbSession,
    status: Annotated[str, Query(max_length=16)] = "pending",
) -> Response:
    wanted = status if status in APPROVAL_STATUSES else None
    requests = await _approvals(request, session).list(wanted)
    return render(
        request,
        "approvals.html",
        {
            "requests": requests,
            "status": wanted or "all",
            "statuses": APPROVAL_STATUSES,
            "can_decide": may(principal, PLATFORM_ADMIN),
        },
    )


async def _decide(request: Request, session: AsyncSession, principal: Principal, request_id: str, *, grant: bool, reason: str) -> Response:
    # The approval service checks the role (platform-admin) and four eyes, as for the API.
    await _approvals(request, session).decide(principal, request_id, grant=grant, reason=reason.strip() or None)
    return redirect("/admin/approvals", "granted" if grant else "refused")


@router.post("/approvals/{request_id}/grant")
async def grant_approval(
    request_id: str, request: Request, principal: PagePrincipal, session: DbSession,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    return await _decide(request, session, principal, request_id, grant=True, reason=reason)


@router.post("/approvals/{request_id}/refuse")
async def refuse_approval(
    request_id: str, request: Request, principal: PagePrincipal, session: DbSession,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    return await _decide(request, session, principal, request_id, grant=False, reason=reason)
