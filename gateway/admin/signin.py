"""Signing in to the admin pages with a user token, and (dev mode only) as a demo user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response
from fastapi.responses import RedirectResponse

from core.auth import DEV_USERS, DevIssuer, InvalidToken
from core.errors import InvalidRequest, NotFound
from core.settings import Settings
from gateway.admin.auth import (
    MAX_COOKIE_TOKEN,
    PagePrincipal,
    end_session,
    start_session,
    verify_session_token,
)
from gateway.admin.web import admin_router, render

router = admin_router()


def dev_picker_enabled(settings: Settings) -> bool:
    """The picker exists only when the built-in dev issuer is what verifies user tokens."""
    auth = settings.auth
    return auth.dev_mode and not (auth.jwks_url or auth.public_key_path)


def _safe_next(next_path: str) -> str:
    # Only our own pages: no other host, no scheme-relative "//", no backslash tricks.
    ours = next_path == "/admin" or next_path.startswith(("/admin/", "/admin?"))
    if ours and "//" not in next_path and "\\" not in next_path:
        return next_path
    return "/admin"


def _login_page(request: Request, next_path: str, *, error: str = "", status: int = 200) -> Response:
    settings: Settings = request.app.state.settings
    return render(
        request,
        "login.html",
        {
            "next_path": _safe_next(next_path),
            "error": error,
            "dev_users": list(DEV_USERS.values()) if dev_picker_enabled(settings) else [],
        },
        status=status,
    )


def _signed_in(request: Request, token: str, next_path: str) -> Response:
    if len(token) > MAX_COOKIE_TOKEN:
        return _login_page(request, next_path, error="this token is too large to keep in a browser session", status=400)
    try:
        _, claims = verify_session_token(request, token)
    except InvalidToken as exc:
        return _login_page(request, next_path, error=f"sign-in refused: {exc.message}", status=401)
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    start_session(request, response, token, claims)
    return response


@router.get("/login")
async def login_page(request: Request, next: str = "/admin") -> Response:
    return _login_page(request, next)


@router.post("/login")
async def login(
    request: Request, token: Annotated[str, Form(max_length=16_384)], next: Annotated[str, Form(max_length=2000)] = "/admin"
) -> Response:
    """Sign in with a user token pasted into the form; it is verified like a bearer token."""
    return _signed_in(request, token.strip(), next)


def _require_dev_picker(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if not dev_picker_enabled(settings):
        # Outside dev mode the picker does not exist at all.
        raise NotFound("not found", code="not_found")
    return settings


@router.get("/login/dev")
async def dev_picker(request: Request, next: str = "/admin") -> Response:
    _require_dev_picker(request)
    return _login_page(request, next)


@router.post("/login/dev")
async def dev_login(
    request: Request, user: Annotated[str, Form(max_length=64)], next: Annotated[str, Form(max_length=2000)] = "/admin"
) -> Response:
    """Dev mode: sign in as one of the demo users with a token the dev issuer mints now."""
    settings = _require_dev_picker(request)
    if user not in DEV_USERS:
        raise InvalidRequest(f"{user!r} is not a demo user", code="unknown_dev_user")
    return _signed_in(request, DevIssuer(settings.home, settings.auth).issue_for(user), next)


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/admin/login", status_code=303)
    end_session(request, response)
    return response


@router.get("")
async def home(request: Request, principal: PagePrincipal) -> Response:
    return render(request, "home.html", {"roles": sorted(principal.roles), "groups": sorted(principal.groups)})
