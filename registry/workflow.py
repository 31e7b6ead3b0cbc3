"""The approval state machine of a tool version and the rules for reviewer sign-offs.

Pure functions over plain values: the storage layer decides where states and
sign-offs live; this module decides which moves are legal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, get_args

from core.errors import Conflict, Forbidden, InvalidRequest

__all__ = [
    "ACTIONS",
    "STATES",
    "TRANSITIONS",
    "Action",
    "DataClassification",
    "FourEyesViolation",
    "IllegalTransition",
    "InvalidSignoffKind",
    "InvalidVerdict",
    "MissingRole",
    "NoSignoffsRequired",
    "ReasonRequired",
    "ReviewOutcome",
    "RiskClass",
    "Signoff",
    "SignoffAlreadyGiven",
    "SignoffKind",
    "SignoffNotRequired",
    "Verdict",
    "VersionState",
    "check_signoff",
    "required_signoffs",
    "review_outcome",
    "role_for_signoff",
    "transition",
]

VersionState = Literal[
    "draft", "in_review", "approved", "rejected", "deprecated", "retired", "revoked"
]
Action = Literal["submit", "approve", "reject", "deprecate", "retire", "revoke"]
RiskClass = Literal["low", "medium", "high"]
DataClassification = Literal["public", "internal", "confidential"]
Verdict = Literal["approve", "reject"]
SignoffKind = str
"""``"security"``, ``"privacy"``, ``"platform"``, or an extra kind from configuration."""

STATES: Final[tuple[VersionState, ...]] = get_args(VersionState)
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)

# Read-only so no caller can widen the state machine at run time.
TRANSITIONS: Final[Mapping[tuple[VersionState, Action], VersionState]] = MappingProxyType(
    {
        ("draft", "submit"): "in_review",
        ("in_review", "approve"): "approved",
        ("in_review", "reject"): "rejected",
        ("approved", "deprecate"): "deprecated",
        ("deprecated", "retire"): "retired",
        ("approved", "revoke"): "revoked",
        # A deprecated version is still served until it is retired, so an
        # emergency revocation must remain possible.
        ("deprecated", "revoke"): "revoked",
    }
)

_VERDICTS: Final[frozenset[str]] = frozenset(get_args(Verdict))


class IllegalTransition(Conflict):
    code = "illegal_transition"


class FourEyesViolation(Forbidden):
    code = "four_eyes"


class SignoffNotRequired(InvalidRequest):
    code = "signoff_not_required"


class SignoffAlreadyGiven(Conflict):
    code = "signoff_already_given"


class MissingRole(Forbidden):
    code = "missing_role"


class ReasonRequired(InvalidRequest):
    code = "reason_required"


class InvalidSignoffKind(InvalidRequest):
    code = "invalid_signoff_kind"


class InvalidVerdict(InvalidRequest):
    code = "invalid_verdict"


class NoSignoffsRequired(InvalidRequest):
    code = "no_signoffs_required"


def transition(state: VersionState, action: Action) -> VersionState:
    """Return the state a version moves to when ``action`` is applied in ``state``.

    Raises:
        IllegalTransition: the pair is not in :data:`TRANSITIONS` (including
            unknown states or actions).
    """
    target = TRANSITIONS.get((state, action))
    if target is None:
        raise IllegalTransition(
            f"cannot {action} a version that is {state}",
            detail={"state": state, "action": action},
        )
    return target


def _check_kind(kind: object) -> str:
    if not isinstance(kind, str) or not kind.strip() or kind != kind.strip():
        raise InvalidSignoffKind(
            f"sign-off kind must be a non-blank string without surrounding spaces, got {kind!r}",
            detail={"kind": repr(kind)},
        )
    return kind


def required_signoffs(
    risk: RiskClass,
    classification: DataClassification,
    extra: Iterable[str] = (),
) -> frozenset[str]:
    """The sign-off kinds a version with this risk class and data classification needs.

    Security always; privacy for confidential data; platform for high risk;
    plus every configured ``extra`` kind.

    Raises:
        InvalidRequest: ``risk`` or ``classification`` is not a known value.
        InvalidSignoffKind: an ``extra`` kind is blank or not a string.
    """
    # Unknown values must not silently drop a sign-off (fail closed, loudly).
    if risk not in get_args(RiskClass):
        raise InvalidRequest(f"unknown risk class {risk!r}", detail={"risk": repr(risk)})
    if classification not in get_args(DataClassification):
        raise InvalidRequest(
            f"unknown data classification {classification!r}",
            detail={"classification": repr(classification)},
        )
    kinds = {"security"}
    if classification == "confidential":
        kinds.add("privacy")
    if risk == "high":
        kinds.add("platform")
    kinds.update(_check_kind(k) for k in extra)
    return frozenset(kinds)


def role_for_signoff(kind: str) -> str:
    """The role a reviewer must hold to give a sign-off of ``kind``.

    ``"platform"`` needs ``"platform-admin"``; any other kind ``k`` needs
    ``"reviewer:k"``.

    Raises:
        InvalidSignoffKind: ``kind`` is blank or not a string.
    """
    kind = _check_kind(kind)
    if kind == "platform":
        return "platform-admin"
    return f"reviewer:{kind}"


@dataclass(frozen=True)
class Signoff:
    kind: str
    reviewer: str
    """The user subject of the reviewer."""
    verdict: Verdict
    reason: str | None = None


def check_signoff(
    *,
    state: VersionState,
    submitter: str,
    reviewer: str,
    reviewer_roles: Iterable[str],
    kind: str,
    verdict: Verdict,
    reason: str | None,
    required: frozenset[str],
    given: Sequence[Signoff],
) -> None:
    """Refuse a sign-off that may not be recorded; return ``None`` when it may.

    One reviewer may give several different kinds when they hold each role.

    Raises (checked in this order):
        IllegalTransition: the version is not in review.
        FourEyesViolation: the reviewer submitted the version, whatever roles they hold.
        SignoffNotRequired: ``kind`` is not among the ``required`` kinds.
        MissingRole: the reviewer lacks :func:`role_for_signoff` of ``kind``.
        SignoffAlreadyGiven: a sign-off of ``kind`` is already in ``given``.
        InvalidVerdict: ``verdict`` is neither ``"approve"`` nor ``"reject"``.
        ReasonRequired: a rejection without a reason (blank counts as missing).
    """
    if state != "in_review":
        raise IllegalTransition(
            f"sign-offs are only taken while a version is in review; it is {state}",
            detail={"state": state},
        )
    if reviewer == submitter:
        raise FourEyesViolation(
            "the submitter of a version may not sign it off",
            detail={"reviewer": reviewer},
        )
    if kind not in required:
        raise SignoffNotRequired(
            f"a {kind} sign-off is not required for this version",
            detail={"kind": kind, "required": sorted(required)},
        )
    role = role_for_signoff(kind)
    # A one-shot iterator must be read once only.
    if role not in set(reviewer_roles):
        raise MissingRole(
            f"a {kind} sign-off needs the role {role}",
            detail={"kind": kind, "role": role},
        )
    if any(s.kind == kind for s in given):
        raise SignoffAlreadyGiven(
            f"a {kind} sign-off has already been given",
            detail={"kind": kind},
        )
    if verdict not in _VERDICTS:
        raise InvalidVerdict(
            f"verdict must be approve or reject, got {verdict!r}",
            detail={"verdict": repr(verdict)},
        )
    if verdict == "reject" and (reason is None or not reason.strip()):
        raise ReasonRequired("a rejection needs a reason", detail={"kind": kind})


@dataclass(frozen=True)
class ReviewOutcome:
    state: VersionState
    """``"in_review"``, ``"approved"`` or ``"rejected"``."""
    missing: frozenset[str]
    """Required kinds with no sign-off yet."""
    rejected_by: Signoff | None
    """The first rejecting sign-off, if any."""


def review_outcome(required: frozenset[str], given: Sequence[Signoff]) -> ReviewOutcome:
    """Where a review stands given the sign-offs recorded so far.

    Any rejection rejects (the first one in ``given`` is kept); every required
    kind approved approves; otherwise the version stays in review.

    Raises:
        NoSignoffsRequired: ``required`` is empty; approving with no sign-off
            at all would bypass review, so this is refused rather than approved.
    """
    if not required:
        raise NoSignoffsRequired("a review needs at least one required sign-off kind")
    missing = frozenset(required - {s.kind for s in given})
    first_reject = next((s for s in given if s.verdict == "reject"), None)
    if first_reject is not None:
        return ReviewOutcome(state="rejected", missing=missing, rejected_by=first_reject)
    approved = {s.kind for s in given if s.verdict == "approve"}
    if required <= approved:
        return ReviewOutcome(state="approved", missing=frozenset(), rejected_by=None)
    return ReviewOutcome(state="in_review", missing=missing, rejected_by=None)
