"""Registry tables: tools, their immutable versions, sign-offs, agents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Tool(Base):
    __tablename__ = "tools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # Case- and confusable-folded name: two tools may not share one.
    name_skeleton: Mapped[str] = mapped_column(String(256), index=True)
    owning_team: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    versions: Mapped[list[ToolVersion]] = relationship(
        back_populates="tool", order_by="ToolVersion.version", lazy="selectin"
    )


class ToolVersion(Base):
    __tablename__ = "tool_versions"
    __table_args__ = (UniqueConstraint("tool_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("tools.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # The full manifest as submitted: the MCP wire object plus "platform".
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Digest of the wire object, computed at submission; ``pinned_digest`` is
    # set from it at approval and is what the gateway compares against.
    wire_digest: Mapped[str] = mapped_column(String(80))
    pinned_digest: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(16), index=True)
    state_reason: Mapped[str | None] = mapped_column(Text)
    state_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    risk_class: Mapped[str] = mapped_column(String(16))
    data_classification: Mapped[str] = mapped_column(String(16))
    required_signoffs: Mapped[list[str]] = mapped_column(JSON)
    # Reviewer-facing flags from the static checks (never refusals).
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The access policy under review; frozen into ``approved_policy`` at approval.
    proposed_policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    approved_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_by: Mapped[str] = mapped_column(String(255))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    tool: Mapped[Tool] = relationship(back_populates="versions", lazy="joined")
    signoffs: Mapped[list[Signoff]] = relationship(
        back_populates="version", order_by="Signoff.id", lazy="selectin"
    )


class Signoff(Base):
    __tablename__ = "signoffs"
    __table_args__ = (UniqueConstraint("version_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("tool_versions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(255))
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    version: Mapped[ToolVersion] = relationship(back_populates="signoffs")


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    owning_team: Mapped[str] = mapped_column(String(128))
    public_key_pem: Mapped[str] = mapped_column(Text)
    granted_scopes: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Quarantine(Base):
    """A served definition that no longer matches its approved pin."""

    __tablename__ = "quarantines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("tool_versions.id", ondelete="CASCADE"), index=True)
    pinned_digest: Mapped[str] = mapped_column(String(80))
    observed_digest: Mapped[str] = mapped_column(String(80))
    # The version filed for review with the observed definition.
    review_version_id: Mapped[int | None] = mapped_column(ForeignKey("tool_versions.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    version: Mapped[ToolVersion] = relationship(foreign_keys=[version_id], lazy="joined")


class ApprovalRequest(Base):
    """A human approval for one call: same user, agent, tool and argument digest, once."""

    __tablename__ = "approval_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user: Mapped[str] = mapped_column(String(255), index=True)
    agent: Mapped[str] = mapped_column(String(128))
    tool: Mapped[str] = mapped_column(String(128))
    tool_version: Mapped[int] = mapped_column(Integer)
    arguments_digest: Mapped[str] = mapped_column(String(80))
    # The arguments as the tool's data classification allows them to be shown.
    arguments_shown: Mapped[Any | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UpstreamServer(Base):
    """A remote MCP server whose tools enter review and, once approved, are proxied."""

    __tablename__ = "upstream_servers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    owning_team: Mapped[str] = mapped_column(String(128))
    risk_class: Mapped[str] = mapped_column(String(16))
    data_classification: Mapped[str] = mapped_column(String(16))
    required_scopes: Mapped[list[str]] = mapped_column(JSON)
    registered_by: Mapped[str] = mapped_column(String(255))
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_refresh_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
