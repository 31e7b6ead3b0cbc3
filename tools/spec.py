"""The contract between the platform and every tool.

A :class:`ToolSpec` is what a tool publishes: the MCP wire object (name,
title, description, inputSchema, outputSchema, annotations), the platform
metadata a review needs, and an async handler. A :class:`ToolContext` is all a
handler may know: the verified claims of the downstream token minted for this
one call (never the caller's inbound token), the trace context, a database
session factory, the settings and the data directory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings

RiskClass = Literal["low", "medium", "high"]
DataClassification = Literal["public", "internal", "confidential"]


@dataclass(frozen=True)
class ToolContext:
    user: str
    agent: str | None
    scopes: frozenset[str]
    # The claims of the downstream token minted for this call (aud = this tool).
    claims: Mapping[str, Any]
    trace_id: str | None
    settings: Settings
    # Signs those claims: see :attr:`token`.
    sign: Callable[[], str] = field(repr=False, compare=False)
    sessionmaker: async_sessionmaker[AsyncSession] | None = None
    data_dir: Path | None = None
    # Set when the call runs as a job: a key for making side effects happen once.
    job_id: str | None = None
    # The user's roles (e.g. "auditor"), from the delegated token.
    roles: frozenset[str] = frozenset()

    @cached_property
    def token(self) -> str:
        """The downstream token for this call (never the caller's inbound token).

        Signed when a tool first presents it, so a call that never leaves the
        process pays nothing for a signature nobody checks.
        """
        return self.sign()


def fixed_token(token: str) -> Callable[[], str]:
    """A ``sign`` for a context built outside the gateway (tests, benchmarks)."""
    return lambda: token


Handler = Callable[[dict[str, Any], ToolContext], Awaitable[Any]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler
    owning_team: str
    required_scopes: tuple[str, ...]
    risk_class: RiskClass = "low"
    data_classification: DataClassification = "internal"
    egress: bool = False
    long_running: bool = False
    title: str | None = None
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    version_note: str = field(default="", compare=False)

    def wire(self) -> dict[str, Any]:
        """The MCP tool object exactly as it goes on the wire (absent fields omitted)."""
        wire: dict[str, Any] = {"name": self.name}
        if self.title is not None:
            wire["title"] = self.title
        wire["description"] = self.description
        wire["inputSchema"] = self.input_schema
        if self.output_schema is not None:
            wire["outputSchema"] = self.output_schema
        if self.annotations is not None:
            wire["annotations"] = self.annotations
        return wire

    def manifest(self) -> dict[str, Any]:
        """The wire object plus platform metadata: what is submitted to the registry."""
        return {
            **self.wire(),
            "platform": {
                "owning_team": self.owning_team,
                "required_scopes": list(self.required_scopes),
                "risk_class": self.risk_class,
                "data_classification": self.data_classification,
                "egress": self.egress,
                "long_running": self.long_running,
                "runs": {"kind": "in_process", "entry_point": f"{self.handler.__module__}:{self.handler.__qualname__}"},
            },
        }
