"""The registry's REST API under ``/api/v1``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from core.web import DbSession
from registry.auth import AgentReader, Authenticated, PlatformAdmin, Publisher
from registry.diff import render_diff
from registry.models import Agent, Tool, ToolVersion
from registry.schemas import (
    AgentIn,
    AgentOut,
    ChangeOut,
    DiffOut,
    ReasonIn,
    SignoffIn,
    SignoffOut,
    SubmitIn,
    ToolOut,
    VersionOut,
)
from registry.service import AgentService, ToolService, missing_signoffs

router = APIRouter(prefix="/api/v1")


def _tool_service(request: Request, session: DbSession) -> ToolService:
    return ToolService(session, extra_signoff_kinds=request.app.state.settings.registry.extra_signoff_kinds)


def version_out(version: ToolVersion) -> VersionOut:
    return VersionOut(
        name=version.tool.name,
        version=version.version,
        state=version.state,
        state_reason=version.state_reason,
        manifest=version.manifest,
        wire_digest=version.wire_digest,
        pinned_digest=version.pinned_digest,
        risk_class=version.risk_class,
        data_classification=version.data_classification,
        required_signoffs=version.required_signoffs,
        missing_signoffs=missing_signoffs(version) if version.state == "in_review" else [],
        signoffs=[SignoffOut.model_validate(s) for s in version.signoffs],
        flags=version.flags,
        proposed_policy=version.proposed_policy,
        approved_policy=version.approved_policy,
        submitted_by=version.submitted_by,
        submitted_at=version.submitted_at,
        approved_at=version.approved_at,
    )


def tool_out(tool: Tool) -> ToolOut:
    approved = [v.version for v in tool.versions if v.state == "approved"]
    return ToolOut(
        name=tool.name,
        owning_team=tool.owning_team,
        latest_version=tool.versions[-1].version if tool.versions else 0,
        approved_version=approved[-1] if approved else None,
        states={v.version: v.state for v in tool.versions},
    )


@router.get("/tools", response_model=list[ToolOut])
async def list_tools(_: Authenticated, request: Request, session: DbSession) -> list[ToolOut]:
    return [tool_out(tool) for tool in await _tool_service(request, session).list_tools()]


@router.post("/tools", response_model=VersionOut, status_code=status.HTTP_201_CREATED)
async def submit_tool(body: SubmitIn, principal: Publisher, request: Request, session: DbSession) -> VersionOut:
    service = _tool_service(request, session)
    version = await service.submit(principal, body.manifest, policy=body.policy, draft=body.draft)
    return version_out(version)


@router.get("/reviews", response_model=list[VersionOut])
async def review_queue(_: Authenticated, request: Request, session: DbSession) -> list[VersionOut]:
    return [version_out(v) for v in await _tool_service(request, session).review_queue()]


@router.get("/tools/{name}", response_model=list[VersionOut])
async def tool_versions(name: str, _: Authenticated, request: Request, session: DbSession) -> list[VersionOut]:
    tool = await _tool_service(request, session).get_tool(name)
    return [version_out(v) for v in tool.versions]


@router.get("/tools/{name}/versions/{number}", response_model=VersionOut)
async def tool_version(name: str, number: int, _: Authenticated, request: Request, session: DbSession) -> VersionOut:
    return version_out(await _tool_service(request, session).get_version(name, number))


@router.get("/tools/{name}/diff", response_model=DiffOut)
async def diff_versions(
    name: str,
    _: Authenticated,
    request: Request,
    session: DbSession,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    changes = await _tool_service(request, session).diff(name, from_version, to_version)
    return DiffOut(
        name=name,
        from_version=from_version,
        to_version=to_version,
        changes=[ChangeOut(**vars(change)) for change in changes],
        text=render_diff(changes),
    )


@router.post("/tools/{name}/versions/{number}/submit", response_model=VersionOut)
async def send_to_review(name: str, number: int, principal: Publisher, request: Request, session: DbSession) -> VersionOut:
    return version_out(await _tool_service(request, session).send_to_review(principal, name, number))


@router.post("/tools/{name}/versions/{number}/signoffs", response_model=VersionOut)
async def sign_off(
    name: str, number: int, body: SignoffIn, principal: Authenticated, request: Request, session: DbSession
) -> VersionOut:
    version = await _tool_service(request, session).sign_off(
        principal, name, number, kind=body.kind, verdict=body.verdict, reason=body.reason, policy=body.policy
    )
    return version_out(version)


async def _change_state(
    action: str, name: str, number: int, body: ReasonIn, principal: Authenticated, request: Request, session: DbSession
) -> VersionOut:
    version = await _tool_service(request, session).change_state(principal, name, number, action, body.reason)  # type: ignore[arg-type]
    return version_out(version)


@router.post("/tools/{name}/versions/{number}/revoke", response_model=VersionOut)
async def revoke(name: str, number: int, body: ReasonIn, principal: Authenticated, request: Request, session: DbSession) -> VersionOut:
    return await _change_state("revoke", name, number, body, principal, request, session)


@router.post("/tools/{name}/versions/{number}/deprecate", response_model=VersionOut)
async def deprecate(name: str, number: int, body: ReasonIn, principal: Authenticated, request: Request, session: DbSession) -> VersionOut:
    return await _change_state("deprecate", name, number, body, principal, request, session)


@router.post("/tools/{name}/versions/{number}/retire", response_model=VersionOut)
async def retire(name: str, number: int, body: ReasonIn, principal: Authenticated, request: Request, session: DbSession) -> VersionOut:
    return await _change_state("retire", name, number, body, principal, request, session)


def _agents_out(agents: Sequence[Agent]) -> list[AgentOut]:
    return [AgentOut.model_validate(agent) for agent in agents]


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(_: AgentReader, session: DbSession) -> list[AgentOut]:
    return _agents_out(await AgentService(session).list())


@router.post("/agents", response_model=AgentOut, status_code=status.HTTP_201_CREATED)
async def register_agent(body: AgentIn, principal: PlatformAdmin, session: DbSession) -> AgentOut:
    return AgentOut.model_validate(await AgentService(session).register(principal, body))


@router.post("/agents/{client_id}/suspend", response_model=AgentOut)
async def suspend_agent(client_id: str, body: ReasonIn, principal: PlatformAdmin, session: DbSession) -> AgentOut:
    return AgentOut.model_validate(await AgentService(session).set_status(principal, client_id, "suspended", body.reason))


@router.post("/agents/{client_id}/reactivate", response_model=AgentOut)
async def reactivate_agent(client_id: str, body: ReasonIn, principal: PlatformAdmin, session: DbSession) -> AgentOut:
    return AgentOut.model_validate(await AgentService(session).set_status(principal, client_id, "active", body.reason))
