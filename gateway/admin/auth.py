"""Who is looking at an admin page: the user token kept in a session cookie, and the roles a page needs.

The cookie holds the user's own token (from the IdP, or the dev issuer) and
nothing else; it is verified on every request exactly as a bearer token is on
the REST API, so an expired or revoked token signs the person out. The roles
mirror the REST API's (``registry.auth``, ``gateway.endpoints``,
``gateway.audit_endpoints``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from core.auth import Principal, TokenVerifier, principal_from_claims
from core.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "tollhouse_admin_session"
# The cookie goes to the admin pages only; the REST API reads bearer headers, never cookies.
COOKIE_PATH = "/admin"
# Browsers drop cookies above about 4 KB; a larger token cannot be a session.
MAX_COOKIE_TOKEN = 3800


class SignInRequired(Unauthenticated):
    code = "sign_in_required"


def secure_cookies(request: Request) -> bool:
    """Cookies are ``Secure`` whenever the gateway's public URL is https."""
    return bool(request.app.state.settings.public_url.startswith("https://"))


def verify_session_token(request: Request, token: str) -> tuple[Principal, dict[str, Any]]:
    """The principal and claims of a user token. Raises ``InvalidToken``."""
    verifier: TokenVerifier = request.app.state.verifier
    claims = verifier.verify_claims(token)
    return principal_from_claims(claims, request.app.state.settings.auth), claims


def start_session(request: Request, response: Response, token: str, claims: dict[str, Any]) -> None:
    """Keep ``token`` in the session cookie until the token itself expires."""
    seconds_left = int(claims["exp"] - dt.datetime.now(dt.UTC).timestamp())
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max(seconds_left, 1), path=COOKIE_PATH,
        httponly=True, samesite="strict", secure=secure_cookies(request),
    )


def end_session(request: Request, response: Response) -> None:
    """Make the browser forget the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure_cookies(request)
    )


def _page_principal(request: Request) -> Principal:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired("sign in to see this page")
    principal: Principal = request.app.state.verifier.verify(token)
    # The layout shows who is signed in, error pages included.
    request.state.admin_principal = principal
    return principal


PagePrincipal = Annotated[Principal, Depends(_page_principal)]


def require_page_role(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency refusing (403) a signed-in person who holds none of ``roles``."""

    def dependency(principal: PagePrincipal) -> Principal:
        if not any(principal.has_role(role) for role in roles):
            raise Forbidden(f"this page needs one of the roles: {', '.join(roles)}", code="missing_role")
        return principal

    return dependency


PLATFORM_ADMIN = "platform-admin"
AUDITOR = "auditor"
PlatformAdminPage = Annotated[Principal, Depends(require_page_role(PLATFORM_ADMIN))]
# As on the REST API: agents, approvals and quarantines are read by admins and auditors.
AdminOrAuditorPage = Annotated[Principal, Depends(require_page_role(PLATFORM_ADMIN, AUDITOR))]
AuditorPage = Annotated[Principal, Depends(require_page_role(AUDITOR))]


def may(principal: Principal | None, *roles: str) -> bool:
    """Whether ``principal`` holds one of ``roles`` (for showing links and buttons)."""
    return principal is not None and any(principal.has_role(role) for role in roles)
