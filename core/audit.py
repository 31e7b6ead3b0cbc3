"""The audit log: append-only, hash-chained records, and one entry point, :func:`record`.

Each record holds the digest of the one before it. Appends serialise on the
chain head, a single row in the database locked by the appending transaction
(``UPDATE ... RETURNING``), so writers in any number of processes can never
fork the chain. Registry changes are recorded in the same transaction as the
change. Arguments and results are redacted by the tool's data classification
before they are stored; their digests are always kept, so call chains can be
matched without the values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Float,
    Integer,
    String,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical import digest
from core.db import Base

Classification = Literal["public", "internal", "confidential"]
REDACTED = "[redacted]"
GENESIS = "sha256:" + "0" * 64
HEAD_ID = 1
# The fields a record's digest covers, in this order (canonical JSON sorts them anyway).
CHAINED_FIELDS = (
    "at", "kind", "user", "agent", "tool", "tool_version", "decision", "layer", "reason",
    "arguments", "arguments_digest", "result", "result_digest", "status", "latency_ms",
    "trace_id", "call_id", "detail",
)


class AuditRecord(Base):
    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Position in the chain: 1, 2, 3, ... with no gaps.
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_digest: Mapped[str | None] = mapped_column(String(80))
    record_digest: Mapped[str | None] = mapped_column(String(80))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # What happened: "registry.submit", "decision", "tool_call.intent", "inference", ...
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
    # Pairs a tool call's intent with its outcome.
    call_id: Mapped[str | None] = mapped_column(String(36), index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditHead(Base):
    """The chain head: one row, locked by every append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(80))


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


def canonical_time(moment: dt.datetime) -> str:
    # SQLite hands back naive datetimes; every stored time is UTC.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_of(entry: Any) -> dict[str, Any]:
    """What a record's digest covers: every field but its position and digests."""
    content = {name: getattr(entry, name) for name in CHAINED_FIELDS}
    content["at"] = canonical_time(entry.at)
    return content


def chain_digest(prev_digest: str, entry: Any) -> str:
    return digest({"prev": prev_digest, "record": content_of(entry)})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A record not yet in the chain (see :func:`make_record`); :func:`chain` gives it a place."""

    at: dt.datetime
    kind: str
    user: str | None = None
    agent: str | None = None
    tool: str | None = None
    tool_version: int | None = None
    decision: str | None = None
    layer: str | None = None
    reason: str | None = None
    arguments: Any | None = None
    arguments_digest: str | None = None
    result: Any | None = None
    result_digest: str | None = None
    status: str | None = None
    latency_ms: float | None = None
    trace_id: str | None = None
    call_id: str | None = None
    detail: dict[str, Any] | None = None


def make_record(
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
    arguments_digest: str | None = None,
    result: Any | None = None,
    classification: Classification = "internal",
    status: str | None = None,
    latency_ms: float | None = None,
    trace_id: str | None = None,
    call_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """A record not yet in the chain: values redacted, digests of the originals kept.

    ``arguments_digest`` may be passed when the caller already holds the digest of these
    same arguments (a call's intent after its decision), so they are not hashed twice.
    """
    return AuditEntry(
        # Microseconds are all the databases keep; the digest must survive the round trip.
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
        arguments_digest=arguments_digest or (digest(arguments) if arguments is not None else None),
        result=redact(result, classification),
        result_digest=digest(result) if result is not None else None,
        status=status,
        latency_ms=latency_ms,
        trace_id=trace_id,
        call_id=call_id,
        detail=detail,
    )


def chain(entries: Sequence[AuditEntry], after_seq: int, prev_digest: str) -> list[dict[str, Any]]:
    """The rows for ``entries`` appended after record ``after_seq`` whose digest is ``prev_digest``."""
    rows = []
    for seq, entry in enumerate(entries, start=after_seq + 1):
        row = {name: getattr(entry, name) for name in CHAINED_FIELDS}
        record_digest = chain_digest(prev_digest, entry)
        row.update(seq=seq, prev_digest=prev_digest, record_digest=record_digest)
        rows.append(row)
        prev_digest = record_digest
    return rows


# Claims ``count`` places and locks the head row until the transaction ends:
# appends from every process serialise here.
_CLAIM = (
    update(AuditHead)
    .where(AuditHead.id == HEAD_ID)
    .values(seq=AuditHead.seq + bindparam("count", type_=Integer))
    .returning(AuditHead.seq, AuditHead.digest)
)
_ADVANCE = update(AuditHead).where(AuditHead.id == HEAD_ID).values(digest=bindparam("head_digest", type_=String))
_INSERT = insert(AuditRecord.__table__)


async def append(session: AsyncSession, entries: Sequence[AuditEntry]) -> None:
    """Chain ``entries`` onto the head inside the session's transaction.

    The head row stays locked until that transaction ends, so appends from
    every process are serialised and the chain cannot fork.
    """
    if not entries:
        return
    row = (await session.execute(_CLAIM, {"count": len(entries)})).one()
    rows = chain(entries, int(row.seq) - len(entries), str(row.digest))
    await session.execute(_INSERT, rows)
    await session.execute(_ADVANCE, {"head_digest": rows[-1]["record_digest"]})


def append_sync(connection: Connection, entries: Sequence[AuditEntry]) -> None:
    """:func:`append` on a synchronous connection (the group-commit writer's thread)."""
    if not entries:
        return
    row = connection.execute(_CLAIM, {"count": len(entries)}).one()
    rows = chain(entries, int(row.seq) - len(entries), str(row.digest))
    connection.execute(_INSERT, rows)
    connection.execute(_ADVANCE, {"head_digest": rows[-1]["record_digest"]})


async def record(session: AsyncSession, kind: str, **fields: Any) -> None:
    """Append one audit record to the session's transaction (see :func:`make_record`).

    The caller's unit of work commits it together with whatever it records.
    """
    await append(session, [make_record(kind, **fields)])


async def recent(session: AsyncSession, *, kind_prefix: str = "", limit: int = 100) -> Sequence[AuditRecord]:
    """The newest records first, optionally only kinds starting with ``kind_prefix``."""
    statement = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
    if kind_prefix:
        statement = statement.where(AuditRecord.kind.startswith(kind_prefix))
    return (await session.scalars(statement)).all()


async def head(session: AsyncSession) -> tuple[int, str]:
    row = (await session.execute(select(AuditHead.seq, AuditHead.digest).where(AuditHead.id == HEAD_ID))).one()
    return int(row.seq), str(row.digest)
