"""The review queue and a version's page: flags, the diff against the last approved version,
sign-offs, and the sign-off form (which also sets the review policy)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response
from pydantic import ValidationError

from core.auth import Principal
from core.errors import InvalidRequest, NotFound
from core.web import DbSession
from gateway.admin.auth import PagePrincipal
from gateway.admin.web import admin_router, redirect, render, split_names
from registry.diff import diff_manifests
from registry.models import Tool, ToolVersion
from registry.schemas import AccessPolicy
from registry.service import ToolService, missing_signoffs
from registry.workflow import Verdict, role_for_signoff

router = admin_router()


def _tools(request: Request, session: DbSession) -> ToolService:
    return ToolService(session, extra_signoff_kinds=request.app.state.settings.registry.extra_signoff_kinds)


def version_path(name: str, number: int) -> str:
    """Where a version's page lives (tool names are limited to ``[A-Za-z0-9_.-]``)."""
    return f"/admin/tools/{name}/versions/{number}"


@router.get("/reviews")
async def review_queue(request: Request, _: PagePrincipal, session: DbSession) -> Response:
    queue = await _tools(request, session).review_queue()
    rows = [{"version": v, "missing": missing_signoffs(v), "path": version_path(v.tool.name, v.version)} for v in queue]
    return render(request, "reviews.html", {"rows": rows})


def _last_approved_before(tool: Tool, version: ToolVersion) -> ToolVersion | None:
    # "Last approved" is the newest earlier version that was ever approved, even
    # if it has since been deprecated: that is what users were served.
    earlier = [v for v in tool.versions if v.version < version.version and v.approved_at is not None]
    return earlier[-1] if earlier else None


def signable_kinds(principal: Principal, version: ToolVersion) -> list[str]:
    """The missing sign-offs this person may give: none for the submitter (four eyes)."""
    if version.state != "in_review" or version.submitted_by == principal.subject:
        return []
    return [kind for kind in missing_signoffs(version) if role_for_signoff(kind) in principal.roles]


@router.get("/tools/{name}/versions/{number}")
async def version_page(name: str, number: int, request: Request, principal: PagePrincipal, session: DbSession) -> Response:
    service = _tools(request, session)
    # Through the tool, so that its other versions (the diff's baseline) are loaded too.
    tool = await service.get_tool(name)
    version = next((v for v in tool.versions if v.version == number), None)
    if version is None:
        raise NotFound(f"tool {name!r} has no version {number}", code="version_not_found")
    baseline = _last_approved_before(tool, version)
    changes = diff_manifests(baseline.manifest, version.manifest) if baseline is not None else []
    policy = version.proposed_policy or {}
    return render(
        request,
        "version.html",
        {
            "version": version,
            "tool": tool,
            "baseline": baseline,
            "changes": changes,
            "missing": missing_signoffs(version) if version.state == "in_review" else [],
            "signable": signable_kinds(principal, version),
            "is_submitter": version.submitted_by == principal.subject,
            "form_policy": {
                "groups": ", ".join(policy.get("allowed_groups", ["*"])),
                "agents": ", ".join(policy.get("allowed_agents", ["*"])),
                "rate": policy.get("rate_limit_per_minute") or "",
                "human_approval": bool(policy.get("human_approval")),
            },
            "action": version_path(name, number) + "/signoff",
        },
    )


def review_policy(groups: str, agents: str, rate: str, human_approval: bool) -> AccessPolicy:
    """The access policy as the form states it. Raises ``InvalidRequest`` for a bad value."""
    allowed_groups, allowed_agents = split_names(groups), split_names(agents)
    if not allowed_groups or not allowed_agents:
        # An empty list would let nobody in; make the reviewer say "*" or name someone.
        raise InvalidRequest("allowed groups and agents may not be empty: write * for any", code="invalid_policy")
    try:
        return AccessPolicy(
            allowed_groups=allowed_groups,
            allowed_agents=allowed_agents,
            rate_limit_per_minute=int(rate) if rate.strip() else None,
            human_approval=human_approval,
        )
    except (ValidationError, ValueError) as exc:
        raise InvalidRequest(f"the review policy is not valid: {exc}", code="invalid_policy") from exc


@router.post("/tools/{name}/versions/{number}/signoff")
async def sign_off(
    name: str,
    number: int,
    request: Request,
    principal: PagePrincipal,
    session: DbSession,
    kind: Annotated[str, Form(min_length=1, max_length=64)],
    verdict: Annotated[Verdict, Form()],
    reason: Annotated[str, Form(max_length=4000)] = "",
    # No "*" default: FastAPI treats a cleared field as absent, and a cleared
    # field must not quietly mean "anyone".
    allowed_groups: Annotated[str, Form(max_length=4000)] = "",
    allowed_agents: Annotated[str, Form(max_length=4000)] = "",
    rate_limit_per_minute: Annotated[str, Form(max_length=16)] = "",
    human_approval: Annotated[bool, Form()] = False,
) -> Response:
    """One typed sign-off through the same service (and the same four-eyes and role rules) as the API."""
    policy = None
    if verdict == "approve":
        policy = review_policy(allowed_groups, allowed_agents, rate_limit_per_minute, human_approval)
    await _tools(request, session).sign_off(
        principal, name, number, kind=kind, verdict=verdict, reason=reason.strip() or None, policy=policy
    )
    return redirect(version_path(name, number), "signed")
