"""Agents as the gateway sees them on each call: status and grants, read live, cached briefly."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import events
from registry.repository import AgentRepository
from registry.service import REGISTRY_TOPIC


@dataclass(frozen=True)
class AgentFacts:
    client_id: str
    status: str
    grants: frozenset[str]
    public_key_pem: str


class AgentDirectory:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, ttl_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, int, AgentFacts | None]] = {}

    async def get(self, client_id: str) -> AgentFacts | None:
        """The agent's current facts, or None if it is not registered."""
        now = time.monotonic()
        generation = events.generation(REGISTRY_TOPIC)
        cached = self._cache.get(client_id)
        # A registry change committed in this process invalidates at once; the
        # time-to-live bounds how stale another replica's change can be.
        if cached is not None and cached[1] == generation and now - cached[0] < self._ttl:
            return cached[2]
        async with self._sessionmaker() as session:
            agent = await AgentRepository(session).by_client_id(client_id)
            facts = (
                AgentFacts(agent.client_id, agent.status, frozenset(agent.granted_scopes), agent.public_key_pem)
                if agent is not None
                else None
            )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[client_id] = (now, generation, facts)
        return facts
