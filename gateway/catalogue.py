"""The approved catalogue, held in memory: what /mcp lists, validates against and calls.

Reloaded at once when a registry change commits in this process. Changes made
by other replicas are picked up every ``catalogue_ttl_seconds``: that reload
runs in the background while calls are served from the current snapshot
(never from one older than three intervals). On each load the definition of
every in-process tool in the running code is re-hashed and compared with its
approved pin; drift quarantines the tool at once. Loading reads without the
write lock; only a quarantine writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import mcp_types

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
    # The wire object as the SDK's model, built once: tools/list hands out the same one each time.
    listed: mcp_types.Tool = field(compare=False)


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
    def __init__(
        self,
        sessionmaker: Any,
        tools: Mapping[str, ToolSpec],
        *,
        ttl_seconds: float,
        read_sessionmaker: Any = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._read_sessionmaker = read_sessionmaker or sessionmaker
        self._tools = tools
        self._ttl = ttl_seconds
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None
        # Served tools by version id: a version never changes, so what was built for it stays valid.
        self._built: dict[int, ServedTool] = {}

    @property
    def in_process(self) -> Mapping[str, ToolSpec]:
        return self._tools

    async def current(self) -> Snapshot:
        """The catalogue: reloaded first after a change here, refreshed in the background when only old."""
        snapshot = self._snapshot
        if snapshot is not None and snapshot.generation == events.generation(REGISTRY_TOPIC):
            age = time.monotonic() - snapshot.loaded_at
            if age < self._ttl:
                return snapshot
            if age < 3 * self._ttl:
                self._refresh_soon()
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

    def _refresh_soon(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh(), name="catalogue-refresh")

    async def _refresh(self) -> None:
        try:
            async with self._lock:
                snapshot = self._snapshot
                if snapshot is None or self._stale(snapshot):
                    self._snapshot = await self._load()
        except Exception:
            # The next call tries again; past three intervals calls wait for a reload (and fail with it).
            logger.exception("background catalogue refresh failed")

    def input_schema(self, name: str) -> dict[str, Any] | None:
        """The approved inputSchema from memory (no query): for the SDK's per-call header checks."""
        snapshot = self._snapshot
        tool = snapshot.served.get(name) if snapshot is not None else None
        return tool.wire.get("inputSchema") if tool is not None else None

    async def _load(self) -> Snapshot:
        generation = events.generation(REGISTRY_TOPIC)
        async with session_scope(self._read_sessionmaker) as session:
            approved, quarantined, names = await ToolService(session).served_catalogue()
        withheld: set[int] = set(quarantined)
        drifted: dict[int, dict[str, Any]] = {}
        for version in approved:
            if version.id in withheld:
                continue
            drift = self._drift(version)
            if drift is not None:
                withheld.add(version.id)
                if drift:
                    drifted[version.id] = drift
        if drifted:
            await self._quarantine(drifted)
        served: dict[str, ServedTool] = {}
        blocked: dict[str, ToolFacts] = {name: ToolFacts(name=name, approved=False) for name in names}
        for version in approved:
            name = version.tool.name
            if version.id in withheld:
                blocked[name] = _facts(version, quarantined=True)
                continue
            blocked.pop(name, None)
            served[name] = self._built.get(version.id) or self._build(version)
        live = {version.id for version in approved}
        self._built = {version_id: tool for version_id, tool in self._built.items() if version_id in live}
        return Snapshot(served=served, blocked=blocked, loaded_at=time.monotonic(), generation=generation)

    def _build(self, version: ToolVersion) -> ServedTool:
        wire = wire_object(version.manifest)
        tool = ServedTool(
            name=version.tool.name,
            version=version.version,
            wire=wire,
            pinned_digest=version.pinned_digest or "",
            facts=_facts(version, quarantined=False),
            classification=version.data_classification,
            runs=version.manifest["platform"]["runs"],
            long_running=bool(version.manifest["platform"].get("long_running", False)),
            validator=jsonschema.Draft202012Validator(wire["inputSchema"]),
            listed=mcp_types.Tool.model_validate(wire),
        )
        self._built[version.id] = tool
        return tool

    def _drift(self, version: ToolVersion) -> dict[str, Any] | None:
        """None if the version may be served as far as the running code goes; else the code's
        own definition when it differs from the pin, or ``{}`` when this build lacks the tool."""
        if version.manifest["platform"]["runs"].get("kind") != "in_process":
            return None
        spec = self._tools.get(version.tool.name)
        if spec is None:
            logger.warning("approved in-process tool %s is not in this build; not served", version.tool.name)
            return {}
        manifest = spec.manifest()
        return None if pinned_digest(manifest) == version.pinned_digest else manifest

    async def _quarantine(self, drifted: dict[int, dict[str, Any]]) -> None:
        async with session_scope(self._sessionmaker) as session:
            service = ToolService(session)
            for version_id, observed in drifted.items():
                version = await session.get(ToolVersion, version_id)
                if version is not None:
                    logger.warning("tool %s drifted from its pin; quarantining", version.tool.name)
                    await service.quarantine(version, observed)
