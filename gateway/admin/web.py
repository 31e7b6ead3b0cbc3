"""The admin pages' plumbing: templates, security headers, CSRF on every POST, errors shown as pages.

Every template is rendered with autoescape on: tool manifests and audit
records are attacker-controlled text, and none of it is ever marked safe.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.auth import Principal
from core.errors import TollhouseError, Unauthenticated
from gateway.admin import csrf
from gateway.admin.auth import AUDITOR, PLATFORM_ADMIN, SESSION_COOKIE, end_session, may

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Pages show audit records and pending calls: no shared or back-button caches.
    "Cache-Control": "no-store",
}

# Outcomes a redirect may announce; only these fixed texts are shown, so a
# crafted link cannot put words on the page.
NOTICES = {
    "signed": "Sign-off recorded.",
    "granted": "Approval granted: the same call may now run once.",
    "refused": "Approval refused.",
    "suspended": "Agent suspended: its calls are refused from now on.",
    "reactivated": "Agent reactivated.",
}


def _pretty(value: Any) -> str:
    # ASCII escapes make hidden and look-alike characters visible to reviewers.
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True, default=str)


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    # SQLite hands back naive datetimes; every stored time is UTC.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # every template, whatever its file name
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["pretty"] = _pretty
    environment.filters["when"] = _when
    return environment


templates = Jinja2Templates(env=_environment())


def _nav(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None:
        return []
    links = [("/admin/reviews", "Review queue"), ("/admin/tools", "Tools")]
    if may(principal, PLATFORM_ADMIN, AUDITOR):
        links += [("/admin/approvals", "Approvals"), ("/admin/agents", "Agents")]
    if may(principal, AUDITOR):
        links += [("/admin/audit", "Audit"), ("/admin/usage", "Usage")]
    return links


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200) -> Response:
    """A page from ``template`` with the layout's context (who is signed in, the CSRF token)."""
    principal: Principal | None = getattr(request.state, "admin_principal", None)
    notice = request.query_params.get("notice", "")
    page_context = {
        "principal": principal,
        "nav": _nav(principal),
        "current_path": request.url.path,
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.token_for(request),
        "dev_mode": bool(request.app.state.settings.auth.dev_mode),
        "notice": NOTICES.get(notice, ""),
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, page_context, status_code=status)
    csrf.remember_nonce(request, response)
    return response


def redirect(path: str, notice: str | None = None) -> RedirectResponse:
    """303 to ``path`` (after a POST), announcing one of :data:`NOTICES`."""
    return RedirectResponse(f"{path}?notice={notice}" if notice else path, status_code=303)


def error_page(request: Request, status: int, message: str, *, code: str, problems: list[str] | None = None) -> Response:
    """The page shown for an expected failure, with its HTTP status and stable code."""
    return render(
        request, "error.html", {"status": status, "message": message, "code": code, "problems": problems or []},
        status=status,
    )


def _sign_in_redirect(request: Request) -> Response:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    next_path = wanted if request.method == "GET" else "/admin"
    response = RedirectResponse(f"/admin/login?next={quote(next_path, safe='')}", status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        # The token it holds is no longer good (expired, or signed by a key we no longer trust).
        end_session(request, response)
    return response


async def _respond(request: Request, handler: Callable[[Request], Coroutine[Any, Any, Response]]) -> Response:
    try:
        if request.method == "POST":
            await csrf.check(request)
        return await handler(request)
    except Unauthenticated:
        return _sign_in_redirect(request)
    except TollhouseError as exc:
        return error_page(request, exc.status, exc.message, code=exc.code)
    except RequestValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}" for error in exc.errors()
        ]
        return error_page(request, 400, "the request is not valid", code="invalid_request", problems=problems)
    except StarletteHTTPException as exc:
        return error_page(request, exc.status_code, str(exc.detail), code="http_error")


class AdminRoute(APIRoute):
    """A route whose every response carries the security headers, and whose
    every POST is CSRF-checked before its handler runs; expected failures
    become pages with their status, never JSON and never a 500."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def admin_handler(request: Request) -> Response:
            response = await _respond(request, handler)
            for name, value in SECURITY_HEADERS.items():
                response.headers[name] = value
            return response

        return admin_handler


def admin_router() -> APIRouter:
    """A router for admin pages (kept out of the OpenAPI document)."""
    return APIRouter(route_class=AdminRoute, include_in_schema=False)


def split_names(text: str) -> list[str]:
    """``"a, b c"`` -> ``["a", "b", "c"]``: how forms take lists of groups, agents or scopes."""
    return [name for name in text.replace(",", " ").split() if name]
