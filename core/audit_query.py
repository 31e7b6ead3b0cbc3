"""Queries over the audit log for auditors: filter, stream, shadow agents, usage. Read-only."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import AuditRecord, canonical_time

EXPORT_FIELDS = (
    "seq", "at", "kind", "user", "agent", "tool", "tool_version", "decision", "layer", "reason",
    "arguments", "arguments_digest", "result", "result_digest", "status", "latency_ms", "trace_id",
    "call_id", "detail", "prev_digest", "record_digest",
)


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None
    agent: str | None = None
    tool: str | None = None
    decision: str | None = None
    kind: str | None = None
    trace_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def apply(self, statement: Select[Any]) -> Select[Any]:
        conditions = [
            column == value
            for column, value in (
                (AuditRecord.user, self.user),
                (AuditRecord.agent, self.agent),
                (AuditRecord.tool, self.tool),
                (AuditRecord.decision, self.decision),
                (AuditRecord.trace_id, self.trace_id),
            )
            if value is not None
        ]
        if self.kind is not None:
            conditions.append(AuditRecord.kind.startswith(self.kind))
        if self.since is not None:
            conditions.append(AuditRecord.at >= self.since)
        if self.until is not None:
            conditions.append(AuditRecord.at < self.until)
        return statement.where(and_(*conditions)) if conditions else statement


def as_dict(entry: Any) -> dict[str, Any]:
    """A record as plain JSON-ready data."""
    row = {name: getattr(entry, name) for name in EXPORT_FIELDS}
    row["at"] = canonical_time(entry.at)
    return row


async def query(session: AsyncSession, where: AuditFilter, *, after_seq: int = 0, limit: int = 100) -> Sequence[AuditRecord]:
    """Records matching ``where`` in chain order, after ``after_seq`` (a cursor), at most ``limit``."""
    statement = where.apply(select(AuditRecord)).where(AuditRecord.seq > after_seq).order_by(AuditRecord.seq).limit(limit)
    return (await session.scalars(statement)).all()


RECORD_COLUMNS = tuple(getattr(AuditRecord, name) for name in EXPORT_FIELDS)


async def stream(session: AsyncSession, where: AuditFilter, *, batch: int = 1000) -> AsyncIterator[list[Any]]:
    """Every matching record in chain order, as rows (attribute access by field name),
    ``batch`` at a time: plain rows, no ORM objects, so memory stays flat."""
    statement = where.apply(select(*RECORD_COLUMNS)).order_by(AuditRecord.seq).execution_options(yield_per=batch)
    result = await session.stream(statement)
    async for rows in result.partitions(batch):
        yield list(rows)


SHADOW_LAYERS = ("agent_unregistered", "agent_not_active")


async def shadow_agents(session: AsyncSession) -> list[dict[str, Any]]:
    """Refused exchanges and calls from unregistered or suspended agents, by client id."""
    statement = (
        select(
            AuditRecord.agent,
            AuditRecord.layer,
            func.count().label("attempts"),
            func.min(AuditRecord.at).label("first_seen"),
            func.max(AuditRecord.at).label("last_seen"),
            func.count(func.distinct(AuditRecord.user)).label("users"),
        )
        .where(AuditRecord.decision == "deny", AuditRecord.layer.in_(SHADOW_LAYERS))
        .where(or_(AuditRecord.kind == "token_exchange", AuditRecord.kind.startswith("decision"), AuditRecord.kind == "inference"))
        .group_by(AuditRecord.agent, AuditRecord.layer)
        .order_by(func.max(AuditRecord.at).desc())
    )
    rows = (await session.execute(statement)).all()
    return [
        {
            "agent": row.agent,
            "why": "unregistered" if row.layer == "agent_unregistered" else "not active (suspended)",
            "attempts": int(row.attempts),
            "users": int(row.users),
            "first_seen": canonical_time(row.first_seen),
            "last_seen": canonical_time(row.last_seen),
        }
        for row in rows
    ]


async def usage(session: AsyncSession, *, since: dt.datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """Calls per tool per day (intents written) and denials per layer per day."""
    day = func.date(AuditRecord.at)
    calls = select(day.label("day"), AuditRecord.tool, func.count().label("calls")).where(AuditRecord.kind == "tool_call.intent")
    denials = select(day.label("day"), AuditRecord.layer, func.count().label("denials")).where(
        AuditRecord.kind == "decision", AuditRecord.decision == "deny"
    )
    if since is not None:
        calls = calls.where(AuditRecord.at >= since)
        denials = denials.where(AuditRecord.at >= since)
    call_rows = (await session.execute(calls.group_by(day, AuditRecord.tool).order_by(day, AuditRecord.tool))).all()
    denial_rows = (await session.execute(denials.group_by(day, AuditRecord.layer).order_by(day, AuditRecord.layer))).all()
    return {
        "calls": [{"day": str(r.day), "tool": r.tool, "calls": int(r.calls)} for r in call_rows],
        "denials": [{"day": str(r.day), "layer": r.layer, "denials": int(r.denials)} for r in denial_rows],
    }
