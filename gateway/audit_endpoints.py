"""The auditor's API under ``/api/v1/audit``: query, export, verify, shadow agents, usage."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from core.audit_query import (
    EXPORT_FIELDS,
    AuditFilter,
    as_dict,
    query,
    shadow_agents,
    stream,
    usage,
)
from core.audit_verify import verify_configured
from core.auth import Principal
from core.web import DbSession
from registry.auth import require_any_role

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(require_any_role("auditor"))]


def _filter(
    user: Annotated[str | None, Query(max_length=255)] = None,
    agent: Annotated[str | None, Query(max_length=255)] = None,
    tool: Annotated[str | None, Query(max_length=128)] = None,
    decision: Annotated[Literal["allow", "deny", "approve", "reject"] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    trace_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> AuditFilter:
    return AuditFilter(user=user, agent=agent, tool=tool, decision=decision, kind=kind, trace_id=trace_id, since=since, until=until)


Filter = Annotated[AuditFilter, Depends(_filter)]


@router.get("/records")
async def records(
    _: Auditor,
    where: Filter,
    session: DbSession,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Matching records in chain order; pass ``next_after`` back as ``after`` for the next page."""
    found = [as_dict(entry) for entry in await query(session, where, after_seq=after, limit=limit)]
    return {"records": found, "next_after": found[-1]["seq"] if len(found) == limit else None}


def _csv_line(row: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([json.dumps(value) if isinstance(value, dict | list) else ("" if value is None else value) for value in row.values()])
    return buffer.getvalue()


@router.get("/export")
async def export(_: Auditor, where: Filter, request: Request, format: Literal["jsonl", "csv"] = "jsonl") -> StreamingResponse:
    """Every matching record, streamed: memory stays flat however many there are."""
    sessionmaker = request.app.state.sessionmaker

    async def lines() -> AsyncIterator[str]:
        async with sessionmaker() as session:
            if format == "csv":
                yield _csv_line({name: name for name in EXPORT_FIELDS})
            # One chunk per batch of rows: a send per line would cost more than the line.
            async for rows in stream(session, where):
                if format == "csv":
                    yield "".join(_csv_line(as_dict(row)) for row in rows)
                else:
                    yield "".join(json.dumps(as_dict(row), default=str) + "\n" for row in rows)

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    filename = f"tollhouse-audit.{format}"
    return StreamingResponse(lines(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/verify")
async def verify(_: Auditor, request: Request, session: DbSession) -> dict[str, Any]:
    """Check every link and every signed checkpoint; names the first bad record."""
    return (await verify_configured(session, request.app.state.settings)).as_dict()


@router.get("/shadow-agents")
async def shadow(_: Auditor, session: DbSession) -> list[dict[str, Any]]:
    return await shadow_agents(session)


@router.get("/usage")
async def usage_per_day(_: Auditor, session: DbSession, since: dt.datetime | None = None) -> dict[str, Any]:
    return await usage(session, since=since)
