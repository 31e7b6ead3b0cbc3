"""CSRF protection for every admin form.

A form carries ``csrf_token``: an HMAC, under a key made when the app starts,
of a random per-browser nonce (its own cookie) and the session cookie. A POST
whose token does not match what this browser's cookies give is refused with
403 before any handler runs. The nonce cookie exists so that the sign-in form,
posted before there is a session, is protected too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from core.errors import Forbidden
from gateway.admin.auth import COOKIE_PATH, SESSION_COOKIE, secure_cookies

NONCE_COOKIE = "tollhouse_admin_csrf"
FIELD = "csrf_token"


class CsrfRefused(Forbidden):
    code = "csrf_refused"


def _key(request: Request) -> bytes:
    # One key per app, made on first use and never written anywhere: restarting
    # the process invalidates open forms, which is the safe direction.
    key: bytes | None = getattr(request.app.state, "admin_csrf_key", None)
    if key is None:
        key = secrets.token_bytes(32)
        request.app.state.admin_csrf_key = key
    return key


def _expected(request: Request, nonce: str) -> str:
    binding = f"{nonce}\n{request.cookies.get(SESSION_COOKIE, '')}".encode()
    return hmac.new(_key(request), binding, hashlib.sha256).hexdigest()


def token_for(request: Request) -> str:
    """The token this browser's forms must send back; makes a nonce if it has none yet."""
    nonce = request.cookies.get(NONCE_COOKIE) or getattr(request.state, "new_csrf_nonce", None)
    if not nonce:
        nonce = secrets.token_urlsafe(32)
        request.state.new_csrf_nonce = nonce
    return _expected(request, nonce)


def remember_nonce(request: Request, response: Response) -> None:
    """Set the nonce cookie on ``response`` when :func:`token_for` just made one."""
    nonce = getattr(request.state, "new_csrf_nonce", None)
    if nonce:
        response.set_cookie(
            NONCE_COOKIE, nonce, path=COOKIE_PATH, httponly=True, samesite="strict",
            secure=secure_cookies(request),
        )


async def check(request: Request) -> None:
    """Refuse a POST without the right token. Raises :class:`CsrfRefused`."""
    nonce = request.cookies.get(NONCE_COOKIE)
    form = await request.form()
    sent = form.get(FIELD)
    if not nonce or not isinstance(sent, str) or not hmac.compare_digest(sent, _expected(request, nonce)):
        raise CsrfRefused("this form's CSRF token is missing or out of date: reload the page and try again")
