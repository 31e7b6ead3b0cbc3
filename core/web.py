"""HTTP edges shared by every API: the session per request, the caller, errors.

The app factory puts ``sessionmaker`` and ``verifier`` on ``app.state``; these
dependencies read them from there.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.auth import Principal, TokenVerifier
from core.db import session_scope
from core.errors import TollhouseError, Unauthenticated

logger = logging.getLogger(__name__)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # The one place a request's unit of work commits (or rolls back).
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is
# the caller's error, not a silent loss after a 200.
DbSession = Annotated[AsyncSession, Depends(_session, scope="function")]


def bearer_token(request: Request) -> str:
    """The bearer token of the request. Raises :class:`Unauthenticated` without one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required", code="missing_token")
    return token.strip()


def _principal(request: Request) -> Principal:
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.verify(bearer_token(request))


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def _error_response(status: int, body: dict[str, object]) -> JSONResponse:
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return JSONResponse(status_code=status, content=body, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as JSON with a stable ``code`` and a human ``message``."""

    @app.exception_handler(TollhouseError)
    async def _tollhouse_error(_request: Request, exc: TollhouseError) -> JSONResponse:
        return _error_response(exc.status, exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "path": ".".join(str(part) for part in error.get("loc", ())),
                "message": error.get("msg", ""),
            }
            for error in exc.errors()
        ]
        return _error_response(
            422,
            {"code": "invalid_request", "message": "the request is not valid", "detail": {"problems": problems}},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error_response(exc.status_code, {"code": code, "message": str(exc.detail)})

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Logged with its traceback for operators; the caller gets no internals.
        logger.exception("unexpected error", exc_info=exc)
        return _error_response(500, {"code": "internal_error", "message": "internal error"})
