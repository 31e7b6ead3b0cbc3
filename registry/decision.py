"""The access decision: may this user, through this agent, call this tool now? Pure.

Callers load the facts and pass them in; :func:`decide` names the layer that
allowed or denied and why. Layers are checked in a fixed order so the answer
is the first reason a call cannot run. Human approval comes last, so that a
granted approval is consumed only by a call that will run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Layer = Literal[
    "allow",
    "tool_not_approved",
    "tool_definition_changed",
    "agent_not_active",
    "user_scope",
    "agent_scope",
    "policy_group",
    "policy_agent",
    "rate_limit",
    "approval_required",
]
ANY = "*"


@dataclass(frozen=True)
class ToolFacts:
    name: str
    approved: bool
    quarantined: bool = False
    version: int | None = None
    required_scopes: frozenset[str] = frozenset()
    allowed_groups: frozenset[str] = frozenset()
    allowed_agents: frozenset[str] = frozenset()
    rate_limit_per_minute: int | None = None
    human_approval: bool = False


@dataclass(frozen=True)
class CallerFacts:
    user: str
    user_scopes: frozenset[str]
    user_groups: frozenset[str]
    agent: str
    # None: the agent is not registered at all.
    agent_status: str | None
    agent_grants: frozenset[str]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    layer: Layer
    reason: str
    tool_version: int | None = None
    approval_request_id: str | None = None
    missing_scopes: tuple[str, ...] = field(default=())

    def as_error(self) -> dict[str, object]:
        """The structured content of a denial, as the caller receives it."""
        body: dict[str, object] = {"code": "POLICY_DENIED", "layer": self.layer, "reason": self.reason}
        if self.approval_request_id:
            body["approval_request_id"] = self.approval_request_id
        if self.missing_scopes:
            body["missing_scopes"] = list(self.missing_scopes)
        return body


def _deny(layer: Layer, reason: str, tool: ToolFacts, missing: Iterable[str] = ()) -> Decision:
    return Decision(False, layer, reason, tool.version, missing_scopes=tuple(sorted(missing)))


def _allows(allowed: frozenset[str], *candidates: str) -> bool:
    return ANY in allowed or any(candidate in allowed for candidate in candidates)


def decide(
    tool: ToolFacts,
    caller: CallerFacts,
    *,
    approval_granted: bool = False,
    within_rate_limit: bool = True,
) -> Decision:
    """Decide one call from both principals. Never raises."""
    if not tool.approved:
        return _deny("tool_not_approved", f"tool {tool.name!r} has no approved version", tool)
    if tool.quarantined:
        return _deny(
            "tool_definition_changed",
            f"the served definition of {tool.name!r} differs from the approved one; it is quarantined until reviewed",
            tool,
        )
    if caller.agent_status != "active":
        state = "not registered" if caller.agent_status is None else caller.agent_status
        return _deny("agent_not_active", f"agent {caller.agent!r} is {state}", tool)
    missing_user = tool.required_scopes - caller.user_scopes
    if missing_user:
        return _deny(
            "user_scope",
            f"user {caller.user!r} lacks the scope(s) {', '.join(sorted(missing_user))}",
            tool,
            missing_user,
        )
    missing_agent = tool.required_scopes - caller.agent_grants
    if missing_agent:
        return _deny(
            "agent_scope",
            f"agent {caller.agent!r} is not granted the scope(s) {', '.join(sorted(missing_agent))}",
            tool,
            missing_agent,
        )
    if not _allows(tool.allowed_groups, *caller.user_groups):
        return _deny("policy_group", f"the review policy of {tool.name!r} allows none of the user's groups", tool)
    if not _allows(tool.allowed_agents, caller.agent):
        return _deny("policy_agent", f"the review policy of {tool.name!r} does not allow agent {caller.agent!r}", tool)
    if tool.rate_limit_per_minute is not None and not within_rate_limit:
        return rate_limited(tool)
    if tool.human_approval and not approval_granted:
        return _deny("approval_required", f"each call of {tool.name!r} needs a human approval", tool)
    return Decision(True, "allow", "approved tool, scopes held by user and agent, policy satisfied", tool.version)


def rate_limited(tool: ToolFacts) -> Decision:
    """The denial for a call the rate-limit counter refuses."""
    return _deny(
        "rate_limit",
        f"rate limit of {tool.rate_limit_per_minute} calls per minute reached for this user, agent and tool",
        tool,
    )
