"""Human approval of single calls: requested by a denied call, granted by an admin, used once."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.auth import Principal
from core.errors import Conflict, Forbidden, NotFound
from registry.models import ApprovalRequest
from registry.repository import GatewayRepository

APPROVER_ROLE = "platform-admin"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class ApprovalService:
    def __init__(self, session: AsyncSession, *, ttl_seconds: int = 900) -> None:
        self.session = session
        self.repository = GatewayRepository(session)
        self.ttl = dt.timedelta(seconds=ttl_seconds)

    async def consume_or_request(
        self,
        *,
        user: str,
        agent: str,
        tool: str,
        tool_version: int,
        arguments_digest: str,
        arguments_shown: Any,
        trace_id: str | None,
    ) -> tuple[bool, str]:
        """Use a granted approval for exactly this call, or file (or reuse) a pending request.

        Returns ``(True, id)`` when a grant was consumed (it cannot be used again),
        else ``(False, id)`` of the pending request.
        """
        granted = await self.repository.open_approval(user, agent, tool, arguments_digest, "granted")
        if granted is not None and granted.expires_at and _aware(granted.expires_at) > _now():
            granted.status = "used"
            granted.used_at = _now()
            await self.repository.flush()
            await self._record("approval.used", granted, user, trace_id=trace_id)
            return True, granted.id
        pending = await self.repository.open_approval(user, agent, tool, arguments_digest, "pending")
        if pending is None:
            pending = ApprovalRequest(
                id=str(uuid.uuid4()),
                user=user,
                agent=agent,
                tool=tool,
                tool_version=tool_version,
                arguments_digest=arguments_digest,
                arguments_shown=arguments_shown,
                status="pending",
            )
            self.repository.add(pending)
            await self.repository.flush()
            await self._record("approval.requested", pending, user, trace_id=trace_id)
        return False, pending.id

    async def decide(self, principal: Principal, request_id: str, *, grant: bool, reason: str | None) -> ApprovalRequest:
        """Grant or refuse a pending request. Raises ``Forbidden``, ``NotFound`` or ``Conflict``."""
        if not principal.has_role(APPROVER_ROLE):
            raise Forbidden("approving calls needs the platform-admin role", code="missing_role")
        request = await self.repository.approval(request_id, for_update=True)
        if request is None:
            raise NotFound(f"no approval request {request_id!r}", code="approval_not_found")
        if request.status != "pending":
            raise Conflict(f"approval request is {request.status}, not pending", code="approval_not_pending")
        if request.user == principal.subject:
            raise Forbidden("nobody approves their own call", code="four_eyes")
        request.status = "granted" if grant else "refused"
        request.decided_by = principal.subject
        request.decided_at = _now()
        request.reason = reason
        if grant:
            request.expires_at = _now() + self.ttl
        await self.repository.flush()
        await self._record(f"approval.{request.status}", request, principal.subject, reason=reason)
        return request

    async def list(self, status: str | None = None) -> Sequence[ApprovalRequest]:
        return await self.repository.approvals(status)

    async def _record(
        self, kind: str, request: ApprovalRequest, user: str, *, reason: str | None = None, trace_id: str | None = None
    ) -> None:
        await audit.record(
            self.session,
            kind,
            user=user,
            agent=request.agent,
            tool=request.tool,
            tool_version=request.tool_version,
            reason=reason,
            status=request.status,
            trace_id=trace_id,
            detail={"approval_request_id": request.id, "arguments_digest": request.arguments_digest, "for_user": request.user},
        )
