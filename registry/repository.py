"""All registry queries. Statements in, models out; nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import (
    Agent,
    ApprovalRequest,
    Quarantine,
    Signoff,
    Tool,
    ToolVersion,
    UpstreamServer,
)


class ToolRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_name(self, name: str) -> Tool | None:
        return await self.session.scalar(select(Tool).where(Tool.name == name))

    async def all(self) -> Sequence[Tool]:
        return (await self.session.scalars(select(Tool).order_by(Tool.name))).all()

    async def names(self) -> Sequence[str]:
        return (await self.session.scalars(select(Tool.name))).all()

    async def version(self, name: str, version: int, *, for_update: bool = False) -> ToolVersion | None:
        statement = (
            select(ToolVersion)
            .join(Tool)
            .where(Tool.name == name, ToolVersion.version == version)
        )
        if for_update:
            # Serialises concurrent sign-offs on one version (PostgreSQL; SQLite
            # serialises writers on its own).
            statement = statement.with_for_update(of=ToolVersion)
        return await self.session.scalar(statement)

    async def versions_in_state(self, *states: str) -> Sequence[ToolVersion]:
        statement = (
            select(ToolVersion)
            .join(Tool)
            .where(ToolVersion.state.in_(states))
            .order_by(Tool.name, ToolVersion.version)
        )
        return (await self.session.scalars(statement)).all()

    def add(self, item: Tool | ToolVersion | Signoff) -> None:
        self.session.add(item)

    async def flush(self) -> None:
        await self.session.flush()

    async def refresh_signoffs(self, version: ToolVersion) -> None:
        await self.session.refresh(version, attribute_names=["signoffs"])

    async def refresh_versions(self, tool: Tool) -> None:
        await self.session.refresh(tool, attribute_names=["versions"])


class AgentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_client_id(self, client_id: str) -> Agent | None:
        return await self.session.scalar(select(Agent).where(Agent.client_id == client_id))

    async def all(self) -> Sequence[Agent]:
        return (await self.session.scalars(select(Agent).order_by(Agent.client_id))).all()

    def add(self, agent: Agent) -> None:
        self.session.add(agent)

    async def flush(self) -> None:
        await self.session.flush()


class GatewayRepository:
    """Queries the gateway needs: quarantines, approval requests, upstream servers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def quarantined_version_ids(self) -> set[int]:
        return set((await self.session.scalars(select(Quarantine.version_id))).all())

    async def quarantines(self) -> Sequence[Quarantine]:
        return (await self.session.scalars(select(Quarantine).order_by(Quarantine.id))).all()

    async def approval(self, request_id: str, *, for_update: bool = False) -> ApprovalRequest | None:
        statement = select(ApprovalRequest).where(ApprovalRequest.id == request_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def open_approval(
        self, user: str, agent: str, tool: str, arguments_digest: str, status: str
    ) -> ApprovalRequest | None:
        statement = (
            select(ApprovalRequest)
            .where(
                ApprovalRequest.user == user,
                ApprovalRequest.agent == agent,
                ApprovalRequest.tool == tool,
                ApprovalRequest.arguments_digest == arguments_digest,
                ApprovalRequest.status == status,
            )
            .order_by(ApprovalRequest.created_at)
            .limit(1)
            .with_for_update()
        )
        return await self.session.scalar(statement)

    async def approvals(self, status: str | None = None) -> Sequence[ApprovalRequest]:
        statement = select(ApprovalRequest).order_by(ApprovalRequest.created_at.desc()).limit(500)
        if status:
            statement = statement.where(ApprovalRequest.status == status)
        return (await self.session.scalars(statement)).all()

    async def upstream(self, name: str) -> UpstreamServer | None:
        return await self.session.scalar(select(UpstreamServer).where(UpstreamServer.name == name))

    async def upstreams(self) -> Sequence[UpstreamServer]:
        return (await self.session.scalars(select(UpstreamServer).order_by(UpstreamServer.name))).all()

    def add(self, item: Quarantine | ApprovalRequest | UpstreamServer) -> None:
        self.session.add(item)

    async def flush(self) -> None:
        await self.session.flush()
