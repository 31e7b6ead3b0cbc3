"""The audit log: one append-only table and one entry point, :func:`record`.

Registry changes are recorded in the same transaction as the change, so a
change and its record commit or roll back together. Arguments and results are
redacted by the tool's data classification before they are stored; their
digests are always kept, so a call chain can be matched without the values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import JSON, DateTime, Float, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical import digest
from core.db import Base

Classification = Literal["public", "internal", "confidential"]
REDACTED = "[redacted]"


class AuditRecord(Base):
    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # What happened: "registry.submit", "registry.signoff", "decision", "tool_call.intent", ...
    kind: Mapped[str] = mapped_column(String(64), index=True)
    user: Mapped[str | None] = mapped_column(String(255), index=True)
    agent: Mapped[str | None] = mapped_column(String(255), index=True)
    tool: Mapped[str | None] = mapped_column(String(128), index=True)
    tool_version: Mapped[int | None] = mapped_column(Integer)
    decision: Mapped[str | None] = mapped_column(String(16))
    layer: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(1000))
    arguments: Mapped[Any | None] = mapped_column(JSON)
    arguments_digest: Mapped[str | None] = mapped_column(String(80))
    result: Mapped[Any | None] = mapped_column(JSON)
    result_digest: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str | None] = mapped_column(String(32))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    trace_id: Mapped[str | None] = mapped_column(String(32), index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def redact(value: Any, classification: Classification) -> Any:
    """The value as it may be stored for a tool of this data classification.

    Confidential values keep their shape (keys, list lengths) but no content:
    an auditor sees that an argument was passed, not what it was.
    """
    if classification != "confidential" or value is None:
        return value
    if isinstance(value, dict):
        return {key: redact(item, classification) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, classification) for item in value]
    return REDACTED


async def record(
    session: AsyncSession,
    kind: str,
    *,
    user: str | None = None,
    agent: str | None = None,
    tool: str | None = None,
    tool_version: int | None = None,
    decision: str | None = None,
    layer: str | None = None,
    reason: str | None = None,
    arguments: Any | None = None,
    result: Any | None = None,
    classification: Classification = "internal",
    status: str | None = None,
    latency_ms: float | None = None,
    trace_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one audit record to the session's transaction.

    The caller's unit of work commits it together with whatever it records.
    """
    entry = AuditRecord(
        at=dt.datetime.now(dt.UTC),
        kind=kind,
        user=user,
        agent=agent,
        tool=tool,
        tool_version=tool_version,
        decision=decision,
        layer=layer,
        reason=reason[:1000] if reason else reason,
        arguments=redact(arguments, classification),
        arguments_digest=digest(arguments) if arguments is not None else None,
        result=redact(result, classification),
        result_digest=digest(result) if result is not None else None,
        status=status,
        latency_ms=latency_ms,
        trace_id=trace_id,
        detail=detail,
    )
    session.add(entry)
    await session.flush()
    return entry


async def recent(session: AsyncSession, *, kind_prefix: str = "", limit: int = 100) -> Sequence[AuditRecord]:
    """The newest records first, optionally only kinds starting with ``kind_prefix``."""
    statement = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
    if kind_prefix:
        statement = statement.where(AuditRecord.kind.startswith(kind_prefix))
    return (await session.scalars(statement)).all()
