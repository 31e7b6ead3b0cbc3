"""The one error base of Tollhouse: a stable code, an HTTP status, a human message."""

from __future__ import annotations

from typing import Any


class TollhouseError(Exception):
    """Base of every expected failure.

    ``code`` is stable and machine-readable; ``message`` is for people;
    ``status`` is the HTTP status an API answers with; ``detail`` carries
    structured context (for example the path of an offending field).
    """

    code: str = "error"
    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.detail = detail or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


class InvalidRequest(TollhouseError):
    code = "invalid_request"
    status = 400


class Unauthenticated(TollhouseError):
    code = "unauthenticated"
    status = 401


class Forbidden(TollhouseError):
    code = "forbidden"
    status = 403


class NotFound(TollhouseError):
    code = "not_found"
    status = 404


class Conflict(TollhouseError):
    code = "conflict"
    status = 409


class PolicyDenied(TollhouseError):
    """A refusal by policy inside a tool (for example, another user's job), with the layer that refused."""

    code = "POLICY_DENIED"
    status = 403

    def __init__(self, message: str, *, layer: str) -> None:
        super().__init__(message, detail={"layer": layer})
        self.layer = layer

    def to_dict(self) -> dict[str, Any]:
        # The same shape as the gateway's own denials.
        return {"code": self.code, "layer": self.layer, "reason": self.message}
