"""Upstream MCP servers: registered by admins; their tools enter review like any other."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.auth import Principal
from core.errors import Conflict, Forbidden, NotFound, TollhouseError
from registry.models import UpstreamServer
from registry.pinning import pinned_digest
from registry.repository import GatewayRepository, ToolRepository
from registry.schemas import UpstreamIn
from registry.service import PLATFORM_ADMIN, SYSTEM, ToolService

logger = logging.getLogger(__name__)


def registry_name(server: str, remote_name: str) -> str:
    return f"{server}.{remote_name}"


def upstream_manifest(server: UpstreamServer, observed: dict[str, Any]) -> dict[str, Any]:
    """The manifest a remote tool gets here: its wire object under our name, plus our metadata."""
    manifest = {**observed, "name": registry_name(server.name, observed["name"])}
    manifest["platform"] = {
        "owning_team": server.owning_team,
        "required_scopes": list(server.required_scopes),
        "risk_class": server.risk_class,
        "data_classification": server.data_classification,
        "egress": True,
        "long_running": False,
        "runs": {"kind": "upstream", "url": server.url, "remote_name": observed["name"]},
    }
    return manifest


class UpstreamService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = GatewayRepository(session)

    async def register(self, principal: Principal, spec: UpstreamIn) -> UpstreamServer:
        """Register a server. Raises ``Forbidden`` (not an admin) or ``Conflict`` (name taken)."""
        if not principal.has_role(PLATFORM_ADMIN):
            raise Forbidden("registering an upstream server needs the platform-admin role", code="missing_role")
        if await self.repository.upstream(spec.name) is not None:
            raise Conflict(f"upstream server {spec.name!r} is already registered", code="upstream_exists")
        server = UpstreamServer(**spec.model_dump(), registered_by=principal.subject)
        self.repository.add(server)
        await self.repository.flush()
        await audit.record(self.session, "registry.upstream_register", user=principal.subject, detail={"server": spec.name, "url": spec.url})
        return server

    async def get(self, name: str) -> UpstreamServer:
        server = await self.repository.upstream(name)
        if server is None:
            raise NotFound(f"no upstream server {name!r}", code="upstream_not_found")
        return server

    async def list(self) -> Sequence[UpstreamServer]:
        return await self.repository.upstreams()

    async def sync(self, server: UpstreamServer, observed_tools: Sequence[dict[str, Any]]) -> dict[str, str]:
        """Compare what the server advertises with the registry.

        New tools are filed for review; an approved tool whose definition
        drifted is quarantined (and its new definition filed). Returns what
        happened to each tool, by registry name.
        """
        tools = ToolService(self.session)
        repository = ToolRepository(self.session)
        outcome: dict[str, str] = {}
        for observed in observed_tools:
            manifest = upstream_manifest(server, observed)
            name = manifest["name"]
            tool = await repository.by_name(name)
            if tool is None:
                try:
                    await tools.submit(SYSTEM, manifest)
                    outcome[name] = "filed for review"
                except TollhouseError as exc:
                    # One unacceptable tool (hidden characters, a bad schema) must not stop the rest.
                    logger.warning("upstream tool %s refused: %s", name, exc.message)
                    await audit.record(self.session, "registry.upstream_refused", user=SYSTEM.subject, tool=name, reason=exc.message)
                    outcome[name] = f"refused: {exc.code}"
                continue
            approved = [v for v in tool.versions if v.state == "approved"]
            if approved and approved[-1].pinned_digest != pinned_digest(manifest):
                quarantined = await self.repository.quarantined_version_ids()
                if approved[-1].id not in quarantined:
                    await tools.quarantine(approved[-1], manifest)
                outcome[name] = "quarantined"
            elif any(v.manifest == manifest for v in tool.versions):
                outcome[name] = "unchanged"
            else:
                await tools.submit(SYSTEM, manifest)
                outcome[name] = "new version filed for review"
        server.last_refresh_at = dt.datetime.now(dt.UTC)
        server.last_error = None
        await self.repository.flush()
        return outcome

    async def record_failure(self, server: UpstreamServer, error: str) -> None:
        server.last_error = error[:2000]
        await self.repository.flush()
