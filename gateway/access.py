"""The one decision path: every /mcp call and every pre-flight check goes through here.

It loads the facts (the approved catalogue, the agent's live status and
grants, the rate-limit counter, any human approval), asks the pure
``registry.decision.decide``, and records the decision in the audit log.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import audit
from core.audit_writer import AuditWriter
from core.canonical import digest
from core.db import session_scope
from core.errors import TollhouseError
from gateway.catalogue import Catalogue, ServedTool
from gateway.directory import AgentDirectory
from gateway.ratelimit import RateLimiter
from registry.approvals import ApprovalService
from registry.decision import CallerFacts, Decision, ToolFacts, decide, rate_limited


class UnknownTool(TollhouseError):
    code = "unknown_tool"
    status = 404


@dataclass(frozen=True)
class Caller:
    """Who is calling, from a verified delegated token."""

    user: str
    agent: str
    user_scopes: frozenset[str]
    user_groups: frozenset[str]
    # user ∩ agent (∩ requested) at the time of the exchange.
    token_scopes: frozenset[str]
    roles: frozenset[str] = frozenset()

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Caller:
        return cls(
            user=str(claims["sub"]),
            agent=str(claims["act"]["sub"]),
            user_scopes=frozenset(str(claims.get("user_scope", "")).split()),
            user_groups=frozenset(claims.get("groups") or ()),
            token_scopes=frozenset(str(claims.get("scope", "")).split()),
            roles=frozenset(claims.get("roles") or ()),
        )


@dataclass(frozen=True)
class Checked:
    decision: Decision
    tool: ServedTool | None
    facts: ToolFacts
    # The decision's record when the caller asked to commit it itself.
    record: audit.AuditEntry | None = None


class AccessService:
    def __init__(
        self,
        *,
        catalogue: Catalogue,
        directory: AgentDirectory,
        limiter: RateLimiter,
        sessionmaker: async_sessionmaker[AsyncSession],
        writer: AuditWriter,
        tracer: trace.Tracer,
        approval_ttl_seconds: int,
    ) -> None:
        self.writer = writer
        self.tracer = tracer
        self.catalogue = catalogue
        self.directory = directory
        self.limiter = limiter
        self.sessionmaker = sessionmaker
        self.approval_ttl_seconds = approval_ttl_seconds

    async def caller_facts(self, caller: Caller) -> CallerFacts:
        agent = await self.directory.get(caller.agent)
        return CallerFacts(
            user=caller.user,
            user_scopes=caller.user_scopes,
            user_groups=caller.user_groups,
            agent=caller.agent,
            agent_status=agent.status if agent is not None else None,
            # Grants are read live, and never exceed what the exchange delegated.
            agent_grants=(agent.grants & caller.token_scopes) if agent is not None else frozenset(),
        )

    async def visible(self, caller: Caller) -> list[ServedTool]:
        """The served tools this caller may call (human approval aside); spends nothing."""
        snapshot = await self.catalogue.current()
        facts = await self.caller_facts(caller)
        return [
            tool
            for tool in snapshot.served.values()
            if decide(tool.facts, facts, approval_granted=True).allowed
        ]

    async def check(
        self,
        caller: Caller,
        tool_name: str,
        arguments: Any,
        *,
        preflight: bool,
        trace_id: str | None,
        call_id: str | None = None,
        defer_record: bool = False,
    ) -> Checked:
        """Decide one call and record the decision.

        With ``defer_record`` the decision's audit record is returned unwritten
        (``Checked.record``) for the caller to commit together with what follows
        it; a call needing human approval is always recorded at once, with its
        approval request. A pre-flight check spends no rate-limit budget and
        files no approval request. Raises :class:`UnknownTool` for a name the
        registry has never seen, and ``AuditUnavailable`` if the log cannot be written.
        """
        snapshot = await self.catalogue.current()
        facts = snapshot.facts(tool_name)
        if facts is None:
            raise UnknownTool(f"unknown tool {tool_name!r}")
        served = snapshot.served.get(tool_name)
        caller_facts = await self.caller_facts(caller)
        # A tool that cannot be served has no trusted classification: redact fully.
        classification: audit.Classification = served.classification if served else "confidential"  # type: ignore[assignment]
        with self.tracer.start_as_current_span("tollhouse.decision") as span:
            span.set_attribute("tollhouse.tool", tool_name)
            needs_session = facts.human_approval and not preflight
            if needs_session:
                async with session_scope(self.sessionmaker) as session:
                    decision = await self._decide(session, caller, facts, caller_facts, arguments, classification, preflight, trace_id)
                    await audit.append(session, [self._record(decision, caller, facts, arguments, classification, preflight, trace_id, call_id)])
                entry = None
            else:
                decision = await self._decide(None, caller, facts, caller_facts, arguments, classification, preflight, trace_id)
                entry = self._record(decision, caller, facts, arguments, classification, preflight, trace_id, call_id)
                if not defer_record:
                    await self.writer.append(entry)
                    entry = None
            span.set_attribute("tollhouse.decision", "allow" if decision.allowed else "deny")
            span.set_attribute("tollhouse.layer", decision.layer)
        return Checked(decision, served, facts, entry)

    @staticmethod
    def _record(
        decision: Decision,
        caller: Caller,
        facts: ToolFacts,
        arguments: Any,
        classification: audit.Classification,
        preflight: bool,
        trace_id: str | None,
        call_id: str | None,
    ) -> audit.AuditEntry:
        return audit.make_record(
            "decision.preflight" if preflight else "decision",
            user=caller.user,
            agent=caller.agent,
            tool=facts.name,
            tool_version=facts.version,
            decision="allow" if decision.allowed else "deny",
            layer=decision.layer,
            reason=decision.reason,
            arguments=arguments if not preflight else None,
            classification=classification,
            trace_id=trace_id,
            call_id=call_id,
            detail={"approval_request_id": decision.approval_request_id} if decision.approval_request_id else None,
        )

    async def _decide(
        self,
        session: AsyncSession | None,
        caller: Caller,
        facts: ToolFacts,
        caller_facts: CallerFacts,
        arguments: Any,
        classification: audit.Classification,
        preflight: bool,
        trace_id: str | None,
    ) -> Decision:
        # Every layer before the counter and the approval.
        decision = decide(facts, caller_facts, approval_granted=True, within_rate_limit=True)
        if not decision.allowed:
            return decision
        if facts.rate_limit_per_minute is not None:
            key = (caller.user, caller.agent, facts.name)
            if preflight:
                within = await self.limiter.remaining(key, facts.rate_limit_per_minute) > 0
            else:
                within = await self.limiter.try_acquire(key, facts.rate_limit_per_minute)
            if not within:
                return rate_limited(facts)
        if not facts.human_approval:
            return decision
        needs_approval = decide(facts, caller_facts, approval_granted=False)
        if preflight or session is None:
            return needs_approval
        granted, request_id = await ApprovalService(session, ttl_seconds=self.approval_ttl_seconds).consume_or_request(
            user=caller.user,
            agent=caller.agent,
            tool=facts.name,
            tool_version=facts.version or 0,
            arguments_digest=digest(arguments),
            arguments_shown=audit.redact(arguments, classification),
            trace_id=trace_id,
        )
        if granted:
            return decision
        return dataclasses.replace(needs_approval, approval_request_id=request_id)
