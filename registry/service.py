"""Registry use cases: submit, review, approve, revoke, and the agent identities.

Every change is recorded in the audit log in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, events, keys
from core.auth import Principal
from core.errors import Conflict, Forbidden, NotFound
from registry import workflow
from registry.checks import flag_injection, name_conflict, name_skeleton
from registry.diff import FieldChange, diff_manifests
from registry.manifest import check_manifest
from registry.models import Agent, Quarantine, Signoff, Tool, ToolVersion
from registry.pinning import pinned_digest
from registry.repository import AgentRepository, GatewayRepository, ToolRepository
from registry.schemas import AccessPolicy, AgentIn

PUBLISHER = "publisher"
PLATFORM_ADMIN = "platform-admin"
REGISTRY_TOPIC = "registry"
# The gateway's own identity when it files a version (a drifted definition, an
# upstream server's new tool). It never signs off.
SYSTEM = Principal(subject="system:gateway", roles=frozenset({PUBLISHER, PLATFORM_ADMIN}))


class NameConflict(Conflict):
    code = "name_conflict"


class UnchangedVersion(Conflict):
    code = "unchanged_version"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _require_any_role(principal: Principal, roles: Iterable[str], action: str) -> None:
    wanted = tuple(roles)
    if not any(principal.has_role(role) for role in wanted):
        raise Forbidden(f"{action} needs one of the roles: {', '.join(wanted)}", code="missing_role")


def _signoffs(version: ToolVersion) -> list[workflow.Signoff]:
    return [
        workflow.Signoff(kind=s.kind, reviewer=s.reviewer, verdict=s.verdict, reason=s.reason)  # type: ignore[arg-type]
        for s in version.signoffs
    ]


def missing_signoffs(version: ToolVersion) -> list[str]:
    outcome = workflow.review_outcome(frozenset(version.required_signoffs), _signoffs(version))
    return sorted(outcome.missing)


class ToolService:
    def __init__(self, session: AsyncSession, *, extra_signoff_kinds: Sequence[str] = ()) -> None:
        self.session = session
        self.tools = ToolRepository(session)
        self.extra_signoff_kinds = tuple(extra_signoff_kinds)

    async def submit(
        self,
        principal: Principal,
        manifest: Any,
        *,
        policy: AccessPolicy | None = None,
        draft: bool = False,
    ) -> ToolVersion:
        """Submit a new version of a tool (a new tool if the name is new).

        Raises ``InvalidManifest``/``HiddenCharacters`` for a flawed manifest,
        :class:`NameConflict` for a name that collides with another tool's,
        ``Forbidden`` for a caller who may not publish for the owning team, and
        :class:`UnchangedVersion` when the definition equals the latest version.
        """
        _require_any_role(principal, (PUBLISHER, PLATFORM_ADMIN), "submitting a tool")
        checked = check_manifest(manifest)
        team = checked.platform.owning_team
        if team not in principal.groups and not principal.has_role(PLATFORM_ADMIN):
            raise Forbidden(f"only members of team {team!r} may publish for it", code="not_team_member")
        tool = await self.tools.by_name(checked.name)
        if tool is None:
            conflict = name_conflict(checked.name, await self.tools.names())
            if conflict is not None:
                other, reason = conflict
                raise NameConflict(
                    f"name {checked.name!r} is too close to the existing tool {other!r} ({reason})",
                    detail={"path": "name", "existing": other, "reason": reason},
                )
            tool = Tool(
                name=checked.name,
                name_skeleton=name_skeleton(checked.name),
                owning_team=team,
                created_by=principal.subject,
            )
            self.tools.add(tool)
            await self.tools.flush()
            await self.tools.refresh_versions(tool)
        elif tool.owning_team != team:
            raise NameConflict(
                f"tool {checked.name!r} belongs to team {tool.owning_team!r}",
                detail={"path": "platform.owning_team", "existing": checked.name, "reason": "owner"},
            )
        digest = pinned_digest(checked.manifest)
        if tool.versions and tool.versions[-1].manifest == checked.manifest:
            raise UnchangedVersion(
                f"version {tool.versions[-1].version} of {tool.name!r} already has this exact manifest"
            )
        version = ToolVersion(
            tool=tool,
            version=(tool.versions[-1].version + 1) if tool.versions else 1,
            manifest=checked.manifest,
            wire_digest=digest,
            state="draft",
            risk_class=checked.platform.risk_class,
            data_classification=checked.platform.data_classification,
            required_signoffs=sorted(
                workflow.required_signoffs(
                    checked.platform.risk_class,
                    checked.platform.data_classification,
                    self.extra_signoff_kinds,
                )
            ),
            flags=[
                {"path": f.path, "code": f.code, "message": f.message, "excerpt": f.excerpt}
                for f in flag_injection(checked.manifest)
            ],
            proposed_policy=(policy or AccessPolicy()).model_dump(),
            submitted_by=principal.subject,
            signoffs=[],
        )
        self.tools.add(version)
        await self.tools.flush()
        await self._record(principal, "registry.draft", version)
        if not draft:
            await self._move(principal, version, "submit")
        return version

    async def send_to_review(self, principal: Principal, name: str, number: int) -> ToolVersion:
        version = await self.get_version(name, number, for_update=True)
        if version.submitted_by != principal.subject and not principal.has_role(PLATFORM_ADMIN):
            raise Forbidden("only the submitter may send a draft to review", code="not_submitter")
        await self._move(principal, version, "submit")
        return version

    async def sign_off(
        self,
        principal: Principal,
        name: str,
        number: int,
        *,
        kind: str,
        verdict: workflow.Verdict,
        reason: str | None = None,
        policy: AccessPolicy | None = None,
    ) -> ToolVersion:
        """Record one typed sign-off; approve or reject the version when the review is decided.

        Raises the ``workflow`` errors (four eyes, missing role, not required,
        already given, reason required, illegal state).
        """
        version = await self.get_version(name, number, for_update=True)
        given = _signoffs(version)
        workflow.check_signoff(
            state=version.state,  # type: ignore[arg-type]
            submitter=version.submitted_by,
            reviewer=principal.subject,
            reviewer_roles=principal.roles,
            kind=kind,
            verdict=verdict,
            reason=reason,
            required=frozenset(version.required_signoffs),
            given=given,
        )
        self.tools.add(
            Signoff(version_id=version.id, kind=kind, reviewer=principal.subject, verdict=verdict, reason=reason)
        )
        if policy is not None and verdict == "approve":
            version.proposed_policy = policy.model_dump()
        await self.tools.flush()
        await self.tools.refresh_signoffs(version)
        await self._record(
            principal,
            "registry.signoff",
            version,
            decision=verdict,
            reason=reason,
            detail={"kind": kind, "policy": version.proposed_policy if policy else None},
        )
        outcome = workflow.review_outcome(frozenset(version.required_signoffs), _signoffs(version))
        if outcome.state == "approved":
            await self._approve(principal, version)
        elif outcome.state == "rejected":
            rejected_by = outcome.rejected_by
            assert rejected_by is not None
            await self._move(principal, version, "reject", reason=f"{rejected_by.kind}: {rejected_by.reason}")
        return version

    async def _approve(self, principal: Principal, version: ToolVersion) -> None:
        # Re-derive the pin from the stored manifest rather than trusting the
        # digest computed at submission.
        version.pinned_digest = pinned_digest(version.manifest)
        version.approved_policy = dict(version.proposed_policy)
        version.approved_at = _now()
        await self._move(principal, version, "approve")
        # One approved version is served per tool: an earlier one steps down.
        await self.tools.refresh_versions(version.tool)
        for older in version.tool.versions:
            if older.id != version.id and older.state == "approved":
                await self._move(principal, older, "deprecate", reason=f"superseded by version {version.version}")

    async def change_state(
        self, principal: Principal, name: str, number: int, action: workflow.Action, reason: str
    ) -> ToolVersion:
        """Deprecate, retire or revoke a version. Raises ``Forbidden`` or ``IllegalTransition``."""
        version = await self.get_version(name, number, for_update=True)
        if action == "revoke":
            _require_any_role(principal, (PLATFORM_ADMIN, "reviewer:security"), "revoking a version")
        elif action in ("deprecate", "retire"):
            if not principal.has_role(PLATFORM_ADMIN) and not (
                principal.has_role(PUBLISHER) and version.tool.owning_team in principal.groups
            ):
                raise Forbidden(
                    f"{action} needs the platform-admin role or a publisher of team {version.tool.owning_team!r}",
                    code="missing_role",
                )
        else:
            raise Forbidden(f"{action} is not done through this operation", code="illegal_action")
        await self._move(principal, version, action, reason=reason)
        return version

    async def _move(
        self, principal: Principal, version: ToolVersion, action: workflow.Action, *, reason: str | None = None
    ) -> None:
        before = version.state
        version.state = workflow.transition(before, action)  # type: ignore[arg-type]
        version.state_reason = reason
        version.state_changed_at = _now()
        await self.tools.flush()
        await self._record(
            principal,
            f"registry.{action}",
            version,
            reason=reason,
            detail={"from": before, "to": version.state, "pinned_digest": version.pinned_digest},
        )

    async def _record(
        self,
        principal: Principal,
        kind: str,
        version: ToolVersion,
        *,
        decision: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        events.signal_after_commit(self.session, REGISTRY_TOPIC)
        await audit.record(
            self.session,
            kind,
            user=principal.subject,
            tool=version.tool.name,
            tool_version=version.version,
            decision=decision,
            reason=reason,
            status=version.state,
            detail={"wire_digest": version.wire_digest, **(detail or {})},
        )

    async def get_tool(self, name: str) -> Tool:
        tool = await self.tools.by_name(name)
        if tool is None:
            raise NotFound(f"no tool named {name!r}", code="tool_not_found")
        return tool

    async def get_version(self, name: str, number: int, *, for_update: bool = False) -> ToolVersion:
        version = await self.tools.version(name, number, for_update=for_update)
        if version is None:
            raise NotFound(f"tool {name!r} has no version {number}", code="version_not_found")
        return version

    async def list_tools(self) -> Sequence[Tool]:
        return await self.tools.all()

    async def review_queue(self) -> Sequence[ToolVersion]:
        return await self.tools.versions_in_state("in_review")

    async def approved_versions(self) -> Sequence[ToolVersion]:
        return await self.tools.versions_in_state("approved")

    async def served_catalogue(self) -> tuple[Sequence[ToolVersion], set[int], set[str]]:
        """What the gateway serves: approved versions, the ids of quarantined ones, and every known name."""
        approved = await self.tools.versions_in_state("approved")
        quarantined = await GatewayRepository(self.session).quarantined_version_ids()
        return approved, quarantined, set(await self.tools.names())

    async def quarantine(self, version: ToolVersion, observed_manifest: dict[str, Any]) -> Quarantine:
        """Quarantine an approved version whose served definition drifted from its pin.

        Records both digests and files the observed definition as a new
        version in review (unless that exact definition is already filed).
        """
        observed = pinned_digest(observed_manifest)
        gateway = GatewayRepository(self.session)
        entry = Quarantine(version_id=version.id, pinned_digest=version.pinned_digest or "", observed_digest=observed)
        gateway.add(entry)
        await self.tools.refresh_versions(version.tool)
        filed = next((v for v in version.tool.versions if v.manifest == observed_manifest), None)
        if filed is None:
            filed = await self.submit(SYSTEM, observed_manifest, policy=AccessPolicy(**(version.approved_policy or {})))
        entry.review_version_id = filed.id
        await gateway.flush()
        await self._record(
            SYSTEM,
            "registry.quarantine",
            version,
            reason="served definition differs from the approved pin",
            detail={"pinned_digest": version.pinned_digest, "observed_digest": observed, "review_version": filed.version},
        )
        return entry

    async def quarantines(self) -> Sequence[Quarantine]:
        return await GatewayRepository(self.session).quarantines()

    async def diff(self, name: str, old: int, new: int) -> list[FieldChange]:
        before = await self.get_version(name, old)
        after = await self.get_version(name, new)
        return diff_manifests(before.manifest, after.manifest)


class AgentService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.agents = AgentRepository(session)

    async def register(self, principal: Principal, spec: AgentIn) -> Agent:
        """Register a service identity. Raises ``Conflict`` if the client id is taken."""
        _require_any_role(principal, (PLATFORM_ADMIN,), "registering an agent")
        keys.load_public_key(spec.public_key_pem)
        if await self.agents.by_client_id(spec.client_id) is not None:
            raise Conflict(f"agent {spec.client_id!r} is already registered", code="agent_exists")
        agent = Agent(
            client_id=spec.client_id,
            name=spec.name,
            owning_team=spec.owning_team,
            public_key_pem=spec.public_key_pem.strip() + "\n",
            granted_scopes=sorted(set(spec.granted_scopes)),
            status="active",
            created_by=principal.subject,
        )
        self.agents.add(agent)
        await self.agents.flush()
        await self._record(principal, "registry.agent_register", agent)
        return agent

    async def set_status(self, principal: Principal, client_id: str, status: str, reason: str) -> Agent:
        """Suspend or reactivate an agent. Raises ``NotFound`` or ``Conflict``."""
        _require_any_role(principal, (PLATFORM_ADMIN,), "changing an agent's status")
        agent = await self.get(client_id)
        if agent.status == status:
            raise Conflict(f"agent {client_id!r} is already {status}", code="agent_status_unchanged")
        agent.status = status
        agent.status_changed_at = _now()
        await self.agents.flush()
        await self._record(principal, f"registry.agent_{'suspend' if status == 'suspended' else 'reactivate'}", agent, reason)
        return agent

    async def get(self, client_id: str) -> Agent:
        agent = await self.agents.by_client_id(client_id)
        if agent is None:
            raise NotFound(f"no agent {client_id!r}", code="agent_not_found")
        return agent

    async def list(self) -> Sequence[Agent]:
        return await self.agents.all()

    async def _record(self, principal: Principal, kind: str, agent: Agent, reason: str | None = None) -> None:
        events.signal_after_commit(self.session, REGISTRY_TOPIC)
        await audit.record(
            self.session,
            kind,
            user=principal.subject,
            agent=agent.client_id,
            reason=reason,
            status=agent.status,
            detail={"granted_scopes": agent.granted_scopes, "key_id": keys.key_id(agent.public_key_pem)},
        )
