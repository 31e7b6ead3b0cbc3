"""Who may call which registry route: visible in every route signature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends

from core.auth import Principal
from core.errors import Forbidden
from core.web import CurrentPrincipal


def require_any_role(*roles: str) -> Callable[[Principal], Principal]:
    def dependency(principal: CurrentPrincipal) -> Principal:
        if not any(principal.has_role(role) for role in roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}", code="missing_role")
        return principal

    return dependency


Authenticated = CurrentPrincipal
Publisher = Annotated[Principal, Depends(require_any_role("publisher", "platform-admin"))]
Reviewer = Annotated[
    Principal,
    Depends(require_any_role("reviewer:security", "reviewer:privacy", "platform-admin")),
]
PlatformAdmin = Annotated[Principal, Depends(require_any_role("platform-admin"))]
AgentReader = Annotated[Principal, Depends(require_any_role("platform-admin", "auditor"))]
