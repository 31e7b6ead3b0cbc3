"""Server-rendered admin and audit pages under ``/admin``, for people rather than programs.

They call the same services with the same role checks as the REST API; sign-in
is by user token (kept in an HttpOnly cookie), every form is CSRF-protected,
and every response carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import APIRouter, Request, Response

from core.errors import NotFound
from gateway.admin import audit_pages, registry_pages, review_pages, signin
from gateway.admin.web import admin_router, redirect

_STYLESHEET = Path(__file__).parent / "static" / "admin.css"

_assets = admin_router()


@functools.cache
def _stylesheet() -> bytes:
    return _STYLESHEET.read_bytes()


@_assets.get("/static/admin.css")
async def stylesheet() -> Response:
    # Read on first use, not at import: an install without the file serves
    # unstyled pages rather than failing to start the gateway.
    try:
        content = _stylesheet()
    except FileNotFoundError as exc:
        raise NotFound("the admin stylesheet is not installed", code="not_found") from exc
    return Response(content, media_type="text/css")


_fallback = admin_router()


@_fallback.api_route("/{rest:path}", methods=["GET", "POST"])
async def not_found(rest: str, request: Request) -> Response:
    # Without this, an unknown /admin path would fall through to the MCP app's JSON 404.
    if not rest:
        return redirect("/admin")
    raise NotFound(f"no admin page at {request.url.path}", code="not_found")


router = APIRouter(include_in_schema=False)
# The catch-all goes last so that every real page matches first.
for _pages in (signin.router, review_pages.router, registry_pages.router, audit_pages.router, _assets, _fallback):
    router.include_router(_pages, prefix="/admin")

__all__ = ["router"]
