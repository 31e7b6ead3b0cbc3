"""The auditor's pages: filter the log, open a trace, the chain's integrity, shadow agents, usage charts."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Query, Request, Response

from core.audit_query import AuditFilter, query, shadow_agents, usage
from core.audit_verify import verify_configured
from core.checkpoints import Checkpoint, read_checkpoints
from core.errors import InvalidRequest
from core.settings import Settings
from core.web import DbSession
from gateway.admin import charts
from gateway.admin.auth import AuditorPage
from gateway.admin.web import admin_router, render

router = admin_router()
PAGE_SIZE = 100
TRACE_LIMIT = 1000
DECISIONS = ("allow", "deny", "approve", "reject")
FILTER_FIELDS = ("user", "agent", "tool", "decision", "kind", "trace_id", "since", "until")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
Text = Annotated[str, Query(max_length=255)]


def _moment(name: str, value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name} is not a date and time (YYYY-MM-DDTHH:MM)", code="invalid_filter") from exc
    # A time typed without a zone is read as UTC, the zone every record is kept in.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def audit_filter(typed: dict[str, str]) -> AuditFilter:
    """The query an auditor typed into the form (blank fields ignored). Raises ``InvalidRequest``."""
    decision = typed["decision"] or None
    if decision is not None and decision not in DECISIONS:
        raise InvalidRequest(f"decision must be one of {', '.join(DECISIONS)}", code="invalid_filter")
    trace_id = typed["trace_id"] or None
    if trace_id is not None and not _TRACE_ID.fullmatch(trace_id):
        raise InvalidRequest("a trace id is 32 lowercase hex digits", code="invalid_filter")
    return AuditFilter(
        user=typed["user"] or None,
        agent=typed["agent"] or None,
        tool=typed["tool"] or None,
        decision=decision,
        kind=typed["kind"] or None,
        trace_id=trace_id,
        since=_moment("since", typed["since"]),
        until=_moment("until", typed["until"]),
    )


def last_checkpoint(settings: Settings) -> tuple[Checkpoint | None, str]:
    """The newest signed checkpoint, or why it cannot be read."""
    try:
        found = read_checkpoints(settings.checkpoint_dir)
    except ValueError as exc:
        return None, str(exc)
    return (found[-1], "") if found else (None, "no checkpoint has been signed yet")


@router.get("/audit")
async def audit_page(
    request: Request,
    _: AuditorPage,
    session: DbSession,
    user: Text = "",
    agent: Text = "",
    tool: Text = "",
    decision: Text = "",
    kind: Text = "",
    trace_id: Text = "",
    since: Text = "",
    until: Text = "",
    after: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    typed = {"user": user, "agent": agent, "tool": tool, "decision": decision, "kind": kind,
             "trace_id": trace_id, "since": since, "until": until}
    typed = {name: value.strip() for name, value in typed.items()}
    records = await query(session, audit_filter(typed), after_seq=after, limit=PAGE_SIZE)
    next_link = None
    if len(records) == PAGE_SIZE:
        kept = {name: value for name, value in typed.items() if value}
        next_link = "/admin/audit?" + urlencode({**kept, "after": records[-1].seq})
    checkpoint, checkpoint_note = last_checkpoint(request.app.state.settings)
    return render(
        request,
        "audit.html",
        {
            "records": records,
            "typed": typed,
            "decisions": DECISIONS,
            "next_link": next_link,
            "checkpoint": checkpoint,
            "checkpoint_note": checkpoint_note,
        },
    )


@router.get("/audit/traces/{trace_id}")
async def trace_page(
    request: Request, _: AuditorPage, session: DbSession, trace_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
) -> Response:
    """Every record of one trace in chain order: inferences, decisions, tool calls."""
    records = await query(session, AuditFilter(trace_id=trace_id), limit=TRACE_LIMIT)
    return render(request, "trace.html", {"trace_id": trace_id, "records": records, "truncated": len(records) == TRACE_LIMIT})


@router.get("/audit/integrity")
async def integrity_page(request: Request, _: AuditorPage, session: DbSession) -> Response:
    """Verify the whole chain and every checkpoint now, as ``tollhouse audit verify`` does."""
    settings: Settings = request.app.state.settings
    report: dict[str, Any] | None = None
    failure = ""
    try:
        report = (await verify_configured(session, settings)).as_dict()
    except ValueError as exc:
        # An unreadable checkpoint file or key: say so rather than claim a verdict.
        failure = str(exc)
    checkpoint, checkpoint_note = last_checkpoint(settings)
    return render(
        request,
        "integrity.html",
        {"report": report, "failure": failure, "checkpoint": checkpoint, "checkpoint_note": checkpoint_note},
    )


@router.get("/audit/shadow-agents")
async def shadow_page(request: Request, _: AuditorPage, session: DbSession) -> Response:
    return render(request, "shadow.html", {"rows": await shadow_agents(session)})


Days = Annotated[int, Query(ge=1, le=366)]


def _since(days: int) -> dt.datetime:
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=days - 1)


def _period(days: int) -> list[str]:
    first = _since(days).date()
    return [(first + dt.timedelta(days=offset)).isoformat() for offset in range(days)]


@router.get("/usage")
async def usage_page(request: Request, _: AuditorPage, session: DbSession, days: Days = 30) -> Response:
    found = await usage(session, since=_since(days))
    return render(request, "usage.html", {"days": days, "calls": found["calls"], "denials": found["denials"]})


def _png(content: bytes) -> Response:
    return Response(content, media_type="image/png")


@router.get("/usage/calls.png")
async def calls_chart(_: AuditorPage, session: DbSession, days: Days = 30) -> Response:
    rows = (await usage(session, since=_since(days)))["calls"]
    # Drawing is CPU work: off the event loop.
    return _png(await asyncio.to_thread(
        charts.stacked_bars, rows, period=_period(days), series="tool", value="calls", title="Calls per tool per day"
    ))


@router.get("/usage/denials.png")
async def denials_chart(_: AuditorPage, session: DbSession, days: Days = 30) -> Response:
    rows = (await usage(session, since=_since(days)))["denials"]
    return _png(await asyncio.to_thread(
        charts.stacked_bars, rows, period=_period(days), series="layer", value="denials", title="Denials by layer per day"
    ))
