"""The embedded default's demo world: agents with keys, and the shipped tools
submitted and approved through the real workflow. Safe to run on every start."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import keys
from core.auth import DEV_USERS, Principal
from core.db import session_scope
from core.settings import Settings
from registry.schemas import AccessPolicy, AgentIn
from registry.service import AgentService, ToolService
from registry.workflow import role_for_signoff
from tools.catalogue import in_process_tools
from tools.spec import ToolSpec

DEMO_AGENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # client id: (owning team, granted scopes). The two differ on purpose.
    "ide-assistant": ("platform-tools", ("mcp:use", "demo:use", "recsys:read", "kg:read", "forecast:read")),
    "chat-bot": ("analytics", ("mcp:use", "pricing:read", "metrics:read")),
}
# Which demo user signs off each kind; the submitter (bob) never does.
REVIEWERS = {"security": "carol", "privacy": "dave", "platform": "admin"}


def dev_principal(user: str) -> Principal:
    dev_user = DEV_USERS[user]
    return Principal(
        subject=dev_user.subject,
        scopes=frozenset(dev_user.scopes),
        groups=frozenset(dev_user.groups),
        roles=frozenset(dev_user.roles),
        dev=True,
    )


def agent_key_path(home: Path, client_id: str) -> Path:
    return home / "agents" / f"{client_id}.pem"


async def _seed_agents(session: AsyncSession, home: Path) -> None:
    service = AgentService(session)
    existing = {agent.client_id for agent in await service.list()}
    for client_id, (team, scopes) in DEMO_AGENTS.items():
        if client_id in existing:
            continue
        path = agent_key_path(home, client_id)
        if path.exists():
            private = keys.load_private_key(path)
        else:
            private = keys.generate_private_key()
            keys.write_secret(path, keys.private_pem(private))
        spec = AgentIn(
            client_id=client_id,
            name=f"{client_id} (dev)",
            owning_team=team,
            public_key_pem=keys.public_pem(private),
            granted_scopes=list(scopes),
        )
        await service.register(dev_principal("admin"), spec)


async def seed_tools(
    session: AsyncSession,
    settings: Settings,
    specs: Mapping[str, ToolSpec],
    policies: Mapping[str, AccessPolicy | Mapping[str, object]] | None = None,
) -> None:
    """Submit each spec as bob and give it every sign-off it needs from the demo reviewers."""
    service = ToolService(session, extra_signoff_kinds=settings.registry.extra_signoff_kinds)
    for name, spec in specs.items():
        tool = await service.tools.by_name(name)
        if tool is not None and any(v.manifest == spec.manifest() for v in tool.versions):
            continue
        policy = AccessPolicy.model_validate((policies or {}).get(name, AccessPolicy()))
        version = await service.submit(dev_principal("bob"), spec.manifest(), policy=policy)
        for kind in version.required_signoffs:
            reviewer = dev_principal(REVIEWERS.get(kind, "admin"))
            if role_for_signoff(kind) not in reviewer.roles:
                # A configured extra kind no demo user holds: leave it in review.
                continue
            await service.sign_off(
                reviewer, name, version.version, kind=kind, verdict="approve", reason="demo seed"
            )


async def seed_demo(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    policies: Mapping[str, AccessPolicy | Mapping[str, object]] | None = None,
) -> None:
    """Register the demo agents and approve the shipped tools (with these review policies), once."""
    async with session_scope(sessionmaker) as session:
        await _seed_agents(session, settings.home)
        await seed_tools(session, settings, in_process_tools(settings.extra_tool_modules), policies)
