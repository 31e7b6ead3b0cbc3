"""The approved catalogue, held in memory: what /mcp lists, validates against and calls.

Reloaded when a registry change commits in this process, and at least every
``catalogue_ttl_seconds`` (changes made by other replicas). On each load the
definition of every in-process tool in the running code is re-hashed and
compared with its approved pin; drift quarantines the tool at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from core import events
from core.db import session_scope
from registry.decision import ToolFacts
from registry.models import ToolVersion
from registry.pinning import pinned_digest, wire_object
from registry.service import REGISTRY_TOPIC, ToolService
from tools.spec import ToolSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedTool:
    name: str
    version: int
    wire: dict[str, Any]
    pinned_digest: str
    facts: ToolFacts
    classification: str
    runs: dict[str, Any]
    long_running: bool
    validator: jsonschema.protocols.Validator = field(compare=False)


@dataclass(frozen=True)
class Snapshot:
    served: dict[str, ServedTool]
    # Names the registry knows that cannot be served now, with why.
    blocked: dict[str, ToolFacts]
    loaded_at: float
    generation: int

    def facts(self, name: str) -> ToolFacts | None:
        served = self.served.get(name)
        return served.facts if served is not None else self.blocked.get(name)


def _facts(version: ToolVersion, *, quarantined: bool) -> ToolFacts:
    policy = version.approved_policy or {}
    return ToolFacts(
        name=version.tool.name,
        approved=True,
        quarantined=quarantined,
        version=version.version,
        required_scopes=frozenset(version.manifest["platform"]["required_scopes"]),
        allowed_groups=frozenset(policy.get("allowed_groups", [])),
        allowed_agents=frozenset(policy.get("allowed_agents", [])),
        rate_limit_per_minute=policy.get("rate_limit_per_minute"),
        human_approval=bool(policy.get("human_approval", False)),
    )


class Catalogue:
    def __init__(self, sessionmaker: Any, tools: Mapping[str, ToolSpec], *, ttl_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._tools = tools
        self._ttl = ttl_seconds
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()

    @property
    def in_process(self) -> Mapping[str, ToolSpec]:
        return self._tools

    async def current(self) -> Snapshot:
        """The catalogue, reloaded first if it may be stale."""
        snapshot = self._snapshot
        if snapshot is not None and not self._stale(snapshot):
            return snapshot
        async with self._lock:
            snapshot = self._snapshot
            if snapshot is None or self._stale(snapshot):
                snapshot = await self._load()
                self._snapshot = snapshot
            return snapshot

    def _stale(self, snapshot: Snapshot) -> bool:
        return (
            snapshot.generation != events.generation(REGISTRY_TOPIC)
            or time.monotonic() - snapshot.loaded_at >= self._ttl
        )

    def input_schema(self, name: str) -> dict[str, Any] | None:
        """The approved inputSchema from memory (no query): for the SDK's per-call header checks."""
        snapshot = self._snapshot
        tool = snapshot.served.get(name) if snapshot is not None else None
        return tool.wire.get("inputSchema") if tool is not None else None

    async def _load(self) -> Snapshot:
        generation = events.generation(REGISTRY_TOPIC)
        async with session_scope(self._sessionmaker) as session:
            service = ToolService(session)
            approved, quarantined, names = await service.served_catalogue()
            served: dict[str, ServedTool] = {}
            blocked: dict[str, ToolFacts] = {
                name: ToolFacts(name=name, approved=False) for name in names
            }
            for version in approved:
                name = version.tool.name
                is_quarantined = version.id in quarantined or await self._drifted(service, version)
                facts = _facts(version, quarantined=is_quarantined)
                if is_quarantined:
                    blocked[name] = facts
                    continue
                blocked.pop(name, None)
                wire = wire_object(version.manifest)
                served[name] = ServedTool(
                    name=name,
                    version=version.version,
                    wire=wire,
                    pinned_digest=version.pinned_digest or "",
                    facts=facts,
                    classification=version.data_classification,
                    runs=version.manifest["platform"]["runs"],
                    long_running=bool(version.manifest["platform"].get("long_running", False)),
                    validator=jsonschema.Draft202012Validator(wire["inputSchema"]),
                )
        return Snapshot(served=served, blocked=blocked, loaded_at=time.monotonic(), generation=generation)

    async def _drifted(self, service: ToolService, version: ToolVersion) -> bool:
        """Re-hash an in-process tool as the running code defines it; quarantine it on drift."""
        runs = version.manifest["platform"]["runs"]
        if runs.get("kind") != "in_process":
            return False
        spec = self._tools.get(version.tool.name)
        if spec is None:
            logger.warning("approved in-process tool %s is not in this build; not served", version.tool.name)
            return True
        if pinned_digest(spec.manifest()) == version.pinned_digest:
            return False
        logger.warning("tool %s drifted from its pin; quarantining", version.tool.name)
        await service.quarantine(version, spec.manifest())
        return True
