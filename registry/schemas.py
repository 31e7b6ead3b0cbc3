"""Shapes of what the registry takes in and gives out."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCOPE_PATTERN = r"^[A-Za-z0-9:_.\-/]{1,128}$"
TEAM_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{0,127}$"
CLIENT_ID_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{0,127}$"


def check_scopes(scopes: list[str]) -> None:
    for scope in scopes:
        if not re.fullmatch(SCOPE_PATTERN, scope):
            raise ValueError(f"scope {scope!r} is not well formed")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Runs(Strict):
    kind: Literal["in_process", "upstream"]
    entry_point: str | None = Field(default=None, max_length=300)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    # The tool's own name on the upstream server (its registry name is prefixed).
    remote_name: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _one_target(self) -> Runs:
        if self.kind == "in_process" and not self.entry_point:
            raise ValueError("an in-process tool needs runs.entry_point")
        if self.kind == "upstream" and not self.url:
            raise ValueError("an upstream tool needs runs.url")
        return self


class Platform(Strict):
    owning_team: str = Field(pattern=TEAM_PATTERN)
    required_scopes: list[str] = Field(min_length=1, max_length=32)
    risk_class: Literal["low", "medium", "high"]
    data_classification: Literal["public", "internal", "confidential"]
    egress: bool = False
    long_running: bool = False
    runs: Runs

    @model_validator(mode="after")
    def _scopes_well_formed(self) -> Platform:
        check_scopes(self.required_scopes)
        return self


class AccessPolicy(Strict):
    """The policy agreed in review and enforced by the gateway. ``"*"`` means any."""

    allowed_groups: list[str] = Field(default_factory=lambda: ["*"], max_length=256)
    allowed_agents: list[str] = Field(default_factory=lambda: ["*"], max_length=256)
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    human_approval: bool = False


class SubmitIn(Strict):
    manifest: dict[str, Any]
    policy: AccessPolicy | None = None
    # Keep the version a draft instead of sending it to review at once.
    draft: bool = False


class SignoffIn(Strict):
    kind: str = Field(min_length=1, max_length=64)
    verdict: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=4000)
    # A reviewer may amend the access policy; the last amendment before approval holds.
    policy: AccessPolicy | None = None


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=4000)


class SignoffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    reviewer: str
    verdict: str
    reason: str | None
    at: dt.datetime


class VersionOut(BaseModel):
    name: str
    version: int
    state: str
    state_reason: str | None
    manifest: dict[str, Any]
    wire_digest: str
    pinned_digest: str | None
    risk_class: str
    data_classification: str
    required_signoffs: list[str]
    missing_signoffs: list[str]
    signoffs: list[SignoffOut]
    flags: list[dict[str, Any]]
    proposed_policy: dict[str, Any]
    approved_policy: dict[str, Any] | None
    submitted_by: str
    submitted_at: dt.datetime
    approved_at: dt.datetime | None


class ToolOut(BaseModel):
    name: str
    owning_team: str
    latest_version: int
    approved_version: int | None
    states: dict[int, str]


class ChangeOut(BaseModel):
    path: str
    change: str
    old: Any
    new: Any
    describes_model_text: bool


class DiffOut(BaseModel):
    name: str
    from_version: int
    to_version: int
    changes: list[ChangeOut]
    text: str


class AgentIn(Strict):
    client_id: str = Field(pattern=CLIENT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=255)
    owning_team: str = Field(pattern=TEAM_PATTERN)
    public_key_pem: str = Field(min_length=1, max_length=10_000)
    granted_scopes: list[str] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _scopes_well_formed(self) -> AgentIn:
        check_scopes(self.granted_scopes)
        return self


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    owning_team: str
    public_key_pem: str
    granted_scopes: list[str]
    status: str
    created_by: str
    created_at: dt.datetime


class UpstreamIn(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    url: str = Field(max_length=2000, pattern=r"^https?://")
    owning_team: str = Field(pattern=TEAM_PATTERN)
    risk_class: Literal["low", "medium", "high"] = "medium"
    data_classification: Literal["public", "internal", "confidential"] = "internal"
    required_scopes: list[str] = Field(min_length=1, max_length=32)

    @model_validator(mode="after")
    def _scopes_well_formed(self) -> UpstreamIn:
        check_scopes(self.required_scopes)
        return self


class UpstreamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    url: str
    owning_team: str
    risk_class: str
    data_classification: str
    required_scopes: list[str]
    registered_by: str
    registered_at: dt.datetime
    last_refresh_at: dt.datetime | None
    last_error: str | None


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    user: str
    agent: str
    tool: str
    tool_version: int
    arguments_digest: str
    arguments_shown: Any
    status: str
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str | None
    expires_at: dt.datetime | None
    used_at: dt.datetime | None


class ApprovalDecisionIn(Strict):
    reason: str | None = Field(default=None, max_length=4000)
