"""A run's trajectory, read from the gateway's audit records (joined by trace id), not from the agent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpx

from evals.scorer import ActualCall, CallStatus

CALL_KINDS = {"decision", "tool_call.intent", "tool_call.outcome", "tool_call.rejected"}


def calls_from_records(records: Iterable[dict[str, Any]]) -> list[ActualCall]:
    """Group decision, intent, outcome and rejection records by call id into calls, in chain order."""
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: r["seq"]):
        if record["kind"] in CALL_KINDS and record.get("call_id"):
            grouped.setdefault(record["call_id"], {})[record["kind"]] = record
    calls: list[ActualCall] = []
    for call_id, parts in grouped.items():
        decision = parts.get("decision")
        first = decision or parts.get("tool_call.intent") or next(iter(parts.values()))
        status: CallStatus
        if decision is not None and decision.get("decision") == "deny":
            status = "denied"
        elif "tool_call.rejected" in parts:
            status = "rejected"
        elif "tool_call.outcome" in parts:
            status = "ok" if parts["tool_call.outcome"].get("status") == "ok" else "error"
        else:
            # An intent with no outcome: the call never finished.
            status = "error"
        arguments = (parts.get("tool_call.intent") or decision or {}).get("arguments") or {}
        output = parts["tool_call.outcome"].get("result") if "tool_call.outcome" in parts else None
        calls.append(ActualCall(call_id, int(first["seq"]), str(first["tool"]), dict(arguments), status, output,
                                decision.get("layer") if decision else None))
    return sorted(calls, key=lambda c: c.seq)


async def fetch_records(gateway_url: str, auditor_token: str, trace_id: str, *, settle_seconds: float = 5.0) -> list[dict[str, Any]]:
    """Every audit record of one trace, through the auditor's API.

    A call's outcome is committed just after its answer is sent, so this reads
    again (briefly) until every intent has its outcome.
    """
    deadline = asyncio.get_running_loop().time() + settle_seconds
    while True:
        records = await _fetch_once(gateway_url, auditor_token, trace_id)
        intents = {r["call_id"] for r in records if r["kind"] == "tool_call.intent"}
        outcomes = {r["call_id"] for r in records if r["kind"] == "tool_call.outcome"}
        if intents <= outcomes or asyncio.get_running_loop().time() > deadline:
            return records
        await asyncio.sleep(0.05)


async def _fetch_once(gateway_url: str, auditor_token: str, trace_id: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    after = 0
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30, headers={"Authorization": f"Bearer {auditor_token}"}) as http:
        while True:
            response = await http.get("/api/v1/audit/records", params={"trace_id": trace_id, "after": after, "limit": 1000})
            response.raise_for_status()
            page = response.json()
            records.extend(page["records"])
            if page["next_after"] is None:
                return records
            after = page["next_after"]
