"""The approval state machine and the review rules of registry.workflow."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from core.errors import Conflict, Forbidden, InvalidRequest, TollhouseError
from registry.workflow import (
    ACTIONS,
    STATES,
    TRANSITIONS,
    FourEyesViolation,
    IllegalTransition,
    InvalidSignoffKind,
    InvalidVerdict,
    MissingRole,
    NoSignoffsRequired,
    ReasonRequired,
    ReviewOutcome,
    Signoff,
    SignoffAlreadyGiven,
    SignoffNotRequired,
    check_signoff,
    required_signoffs,
    review_outcome,
    role_for_signoff,
    transition,
)

# Written out by hand, independently of the module, so a typo in either shows.
ALL_STATES = ("draft", "in_review", "approved", "rejected", "deprecated", "retired", "revoked")
ALL_ACTIONS = ("submit", "approve", "reject", "deprecate", "retire", "revoke")
EXPECTED: dict[tuple[str, str], str] = {
    ("draft", "submit"): "in_review",
    ("in_review", "approve"): "approved",
    ("in_review", "reject"): "rejected",
    ("approved", "deprecate"): "deprecated",
    ("deprecated", "retire"): "retired",
    ("approved", "revoke"): "revoked",
    ("deprecated", "revoke"): "revoked",
}
ALL_PAIRS = list(itertools.product(ALL_STATES, ALL_ACTIONS))


# --- the state machine -------------------------------------------------------


def test_enumerations_match_the_documented_sets() -> None:
    assert STATES == ALL_STATES
    assert ACTIONS == ALL_ACTIONS


def test_transition_table_is_exactly_the_documented_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED


def test_transition_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[("rejected", "submit")] = "in_review"  # type: ignore[index]


@pytest.mark.parametrize(("state", "action"), ALL_PAIRS, ids=[f"{s}-{a}" for s, a in ALL_PAIRS])
def test_every_state_action_pair(state: Any, action: Any) -> None:
    expected = EXPECTED.get((state, action))
    if expected is not None:
        assert transition(state, action) == expected
    else:
        with pytest.raises(IllegalTransition) as info:
            transition(state, action)
        err = info.value
        assert err.code == "illegal_transition"
        assert err.status == 409
        assert err.message == f"cannot {action} a version that is {state}"
        assert err.detail == {"state": state, "action": action}


def test_illegal_transition_example_message() -> None:
    with pytest.raises(IllegalTransition, match=r"^cannot approve a version that is rejected$"):
        transition("rejected", "approve")


def test_illegal_transition_is_a_conflict() -> None:
    assert issubclass(IllegalTransition, Conflict)
    assert issubclass(IllegalTransition, TollhouseError)


@pytest.mark.parametrize(("state", "action"), [("nonsense", "submit"), ("draft", "publish")])
def test_unknown_state_or_action_is_illegal(state: Any, action: Any) -> None:
    with pytest.raises(IllegalTransition):
        transition(state, action)


@pytest.mark.parametrize("state", ["rejected", "retired", "revoked"])
def test_terminal_states_have_no_way_out(state: Any) -> None:
    for action in ALL_ACTIONS:
        with pytest.raises(IllegalTransition):
            transition(state, action)  # type: ignore[arg-type]


def test_full_lifecycle_paths() -> None:
    state: Any = "draft"
    for action in ("submit", "approve", "deprecate", "retire"):
        state = transition(state, action)
    assert state == "retired"
    assert transition(transition(transition("draft", "submit"), "approve"), "revoke") == "revoked"


# --- required sign-offs ------------------------------------------------------

RISKS = ("low", "medium", "high")
CLASSIFICATIONS = ("public", "internal", "confidential")


def _expected_signoffs(risk: str, classification: str, extra: tuple[str, ...] = ()) -> set[str]:
    kinds = {"security", *extra}
    if classification == "confidential":
        kinds.add("privacy")
    if risk == "high":
        kinds.add("platform")
    return kinds


@pytest.mark.parametrize(
    ("risk", "classification"), list(itertools.product(RISKS, CLASSIFICATIONS))
)
def test_required_signoffs_for_every_combination(risk: Any, classification: Any) -> None:
    got = required_signoffs(risk, classification)
    assert isinstance(got, frozenset)
    assert got == _expected_signoffs(risk, classification)
    assert "security" in got


@pytest.mark.parametrize(
    ("risk", "classification"), list(itertools.product(RISKS, CLASSIFICATIONS))
)
def test_required_signoffs_with_extras(risk: Any, classification: Any) -> None:
    extra = ("legal", "accessibility")
    assert required_signoffs(risk, classification, extra) == _expected_signoffs(
        risk, classification, extra
    )


@pytest.mark.parametrize(
    ("risk", "classification", "expected"),
    [
        ("low", "public", {"security"}),
        ("medium", "internal", {"security"}),
        ("low", "confidential", {"security", "privacy"}),
        ("high", "public", {"security", "platform"}),
        ("high", "confidential", {"security", "privacy", "platform"}),
    ],
)
def test_required_signoffs_spot_values(risk: Any, classification: Any, expected: set[str]) -> None:
    assert required_signoffs(risk, classification) == expected


def test_extras_may_be_a_generator_and_may_repeat_builtin_kinds() -> None:
    got = required_signoffs(
        "low", "public", (k for k in ["platform", "security", "legal", "legal"])
    )
    assert got == {"security", "platform", "legal"}


@pytest.mark.parametrize("bad", ["", "   ", " legal", "legal ", None, 3])
def test_blank_or_non_string_extra_kind_is_refused(bad: Any) -> None:
    with pytest.raises(InvalidSignoffKind) as info:
        required_signoffs("low", "public", [bad])
    assert info.value.code == "invalid_signoff_kind"
    assert info.value.status == 400


@pytest.mark.parametrize(("risk", "classification"), [("extreme", "public"), ("low", "secret")])
def test_unknown_risk_or_classification_is_refused(risk: Any, classification: Any) -> None:
    with pytest.raises(InvalidRequest):
        required_signoffs(risk, classification)


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        ("platform", "platform-admin"),
        ("security", "reviewer:security"),
        ("privacy", "reviewer:privacy"),
        ("legal", "reviewer:legal"),
    ],
)
def test_role_for_signoff(kind: str, role: str) -> None:
    assert role_for_signoff(kind) == role


@pytest.mark.parametrize("bad", ["", "  "])
def test_role_for_blank_kind_is_refused(bad: str) -> None:
    with pytest.raises(InvalidSignoffKind):
        role_for_signoff(bad)


# --- check_signoff -----------------------------------------------------------

ALL_ROLES = ("reviewer:security", "reviewer:privacy", "platform-admin", "reviewer:legal")
REQUIRED = frozenset({"security", "privacy", "platform"})


def _check(**overrides: Any) -> None:
    args: dict[str, Any] = {
        "state": "in_review",
        "submitter": "alice",
        "reviewer": "bob",
        "reviewer_roles": ["reviewer:security"],
        "kind": "security",
        "verdict": "approve",
        "reason": None,
        "required": REQUIRED,
        "given": [],
    }
    args.update(overrides)
    check_signoff(**args)


def test_valid_approval_passes() -> None:
    assert _check() is None  # type: ignore[func-returns-value]


def test_valid_rejection_with_reason_passes() -> None:
    _check(verdict="reject", reason="exfiltrates tokens")


@pytest.mark.parametrize("state", [s for s in ALL_STATES if s != "in_review"])
def test_signoff_outside_review_is_refused(state: str) -> None:
    with pytest.raises(IllegalTransition) as info:
        _check(state=state)
    assert info.value.message == (
        f"sign-offs are only taken while a version is in review; it is {state}"
    )
    assert info.value.code == "illegal_transition"


def test_four_eyes_submitter_cannot_sign_off() -> None:
    with pytest.raises(FourEyesViolation) as info:
        _check(submitter="bob", reviewer="bob")
    assert info.value.code == "four_eyes"
    assert info.value.status == 403
    assert isinstance(info.value, Forbidden)


@pytest.mark.parametrize("kind", sorted(REQUIRED))
def test_four_eyes_holds_even_with_every_role(kind: str) -> None:
    with pytest.raises(FourEyesViolation):
        _check(submitter="root", reviewer="root", reviewer_roles=ALL_ROLES, kind=kind)


def test_four_eyes_is_checked_before_anything_but_state() -> None:
    # A submitter probing an unrequired kind without the role still learns only "four eyes".
    with pytest.raises(FourEyesViolation):
        _check(
            submitter="bob",
            reviewer="bob",
            reviewer_roles=[],
            kind="legal",
            verdict="reject",
            reason="",
        )


def test_unrequired_kind_is_refused() -> None:
    with pytest.raises(SignoffNotRequired) as info:
        _check(kind="legal", reviewer_roles=ALL_ROLES)
    assert info.value.code == "signoff_not_required"
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("kind", "roles"),
    [
        ("security", []),
        ("security", ["reviewer:privacy", "platform-admin"]),
        ("privacy", ["reviewer:security"]),
        ("platform", ["reviewer:platform"]),
        ("platform", ["reviewer:security", "reviewer:privacy"]),
    ],
)
def test_missing_role_is_refused(kind: str, roles: list[str]) -> None:
    with pytest.raises(MissingRole) as info:
        _check(kind=kind, reviewer_roles=roles)
    assert info.value.code == "missing_role"
    assert info.value.status == 403
    assert info.value.detail["role"] == role_for_signoff(kind)


def test_roles_may_be_a_one_shot_iterator() -> None:
    _check(reviewer_roles=iter(["reviewer:privacy", "reviewer:security"]))


@pytest.mark.parametrize("earlier_verdict", ["approve", "reject"])
def test_second_signoff_of_a_kind_is_refused(earlier_verdict: Any) -> None:
    given = [Signoff("security", "carol", earlier_verdict, "x")]
    with pytest.raises(SignoffAlreadyGiven) as info:
        _check(given=given)
    assert info.value.code == "signoff_already_given"
    assert info.value.status == 409


def test_same_reviewer_cannot_repeat_a_kind() -> None:
    with pytest.raises(SignoffAlreadyGiven):
        _check(given=[Signoff("security", "bob", "approve")])


def test_one_reviewer_may_give_two_kinds_with_both_roles() -> None:
    roles = ["reviewer:security", "platform-admin"]
    _check(kind="security", reviewer_roles=roles)
    _check(kind="platform", reviewer_roles=roles, given=[Signoff("security", "bob", "approve")])


def test_other_kinds_given_do_not_block() -> None:
    _check(given=[Signoff("privacy", "carol", "approve"), Signoff("platform", "dave", "approve")])


@pytest.mark.parametrize("reason", [None, "", " ", "\t\n  "])
def test_rejection_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(ReasonRequired) as info:
        _check(verdict="reject", reason=reason)
    assert info.value.code == "reason_required"
    assert info.value.status == 400


@pytest.mark.parametrize("reason", [None, ""])
def test_approval_needs_no_reason(reason: str | None) -> None:
    _check(verdict="approve", reason=reason)


def test_unknown_verdict_is_refused() -> None:
    with pytest.raises(InvalidVerdict):
        _check(verdict="maybe")


@pytest.mark.parametrize(
    ("exc", "base", "code", "status"),
    [
        (IllegalTransition, Conflict, "illegal_transition", 409),
        (FourEyesViolation, Forbidden, "four_eyes", 403),
        (SignoffNotRequired, InvalidRequest, "signoff_not_required", 400),
        (SignoffAlreadyGiven, Conflict, "signoff_already_given", 409),
        (MissingRole, Forbidden, "missing_role", 403),
        (ReasonRequired, InvalidRequest, "reason_required", 400),
    ],
)
def test_error_classes(exc: type[TollhouseError], base: type, code: str, status: int) -> None:
    assert issubclass(exc, base)
    err = exc("m")
    assert (err.code, err.status) == (code, status)
    assert err.to_dict() == {"code": code, "message": "m"}


# --- review_outcome ----------------------------------------------------------

SEC_OK = Signoff("security", "bob", "approve")
PRIV_OK = Signoff("privacy", "carol", "approve")
PLAT_OK = Signoff("platform", "dave", "approve")
PRIV_NO = Signoff("privacy", "carol", "reject", "sends PII to a third party")
PLAT_NO = Signoff("platform", "dave", "reject", "no rate limit")


def test_nothing_given_is_in_review_with_everything_missing() -> None:
    assert review_outcome(REQUIRED, []) == ReviewOutcome("in_review", REQUIRED, None)


def test_partial_is_in_review_with_the_rest_missing() -> None:
    out = review_outcome(REQUIRED, [SEC_OK])
    assert out.state == "in_review"
    assert out.missing == {"privacy", "platform"}
    assert out.rejected_by is None


def test_complete_is_approved() -> None:
    assert review_outcome(REQUIRED, [SEC_OK, PRIV_OK, PLAT_OK]) == ReviewOutcome(
        "approved", frozenset(), None
    )


@pytest.mark.parametrize("order", list(itertools.permutations([SEC_OK, PRIV_OK, PLAT_OK])))
def test_approval_is_independent_of_order(order: tuple[Signoff, ...]) -> None:
    assert review_outcome(REQUIRED, list(order)).state == "approved"


@pytest.mark.parametrize("order", list(itertools.permutations([SEC_OK, PRIV_OK])))
def test_partial_is_independent_of_order(order: tuple[Signoff, ...]) -> None:
    assert review_outcome(REQUIRED, list(order)) == ReviewOutcome(
        "in_review", frozenset({"platform"}), None
    )


def test_one_reject_among_approvals_rejects_and_keeps_the_reason() -> None:
    out = review_outcome(REQUIRED, [SEC_OK, PRIV_NO, PLAT_OK])
    assert out.state == "rejected"
    assert out.rejected_by == PRIV_NO
    assert out.rejected_by is not None
    assert out.rejected_by.reason == "sends PII to a third party"
    assert out.missing == frozenset()


def test_reject_before_the_rest_lists_what_is_still_missing() -> None:
    out = review_outcome(REQUIRED, [PRIV_NO])
    assert out.state == "rejected"
    assert out.missing == {"security", "platform"}


@pytest.mark.parametrize(
    ("given", "first"),
    [([PRIV_NO, SEC_OK, PLAT_NO], PRIV_NO), ([PLAT_NO, PRIV_NO], PLAT_NO)],
)
def test_first_reject_is_kept(given: list[Signoff], first: Signoff) -> None:
    assert review_outcome(REQUIRED, given).rejected_by == first


def test_unrequired_approval_does_not_count() -> None:
    out = review_outcome(frozenset({"security", "privacy"}), [SEC_OK, PLAT_OK])
    assert out.state == "in_review"
    assert out.missing == {"privacy"}


def test_single_required_kind() -> None:
    assert review_outcome(frozenset({"security"}), [SEC_OK]).state == "approved"


def test_empty_requirement_is_refused_rather_than_approved() -> None:
    with pytest.raises(NoSignoffsRequired):
        review_outcome(frozenset(), [])


def test_check_then_outcome_round_trip() -> None:
    required = required_signoffs("high", "confidential")
    given: list[Signoff] = []
    for kind, reviewer in (("security", "bob"), ("privacy", "carol"), ("platform", "bob")):
        assert review_outcome(required, given).state == "in_review"
        check_signoff(
            state="in_review",
            submitter="alice",
            reviewer=reviewer,
            reviewer_roles=ALL_ROLES,
            kind=kind,
            verdict="approve",
            reason=None,
            required=required,
            given=given,
        )
        given.append(Signoff(kind, reviewer, "approve"))
    outcome = review_outcome(required, given)
    assert outcome.state == "approved"
    assert transition("in_review", "approve") == outcome.state


def test_signoff_is_frozen() -> None:
    with pytest.raises(AttributeError):
        SEC_OK.verdict = "reject"  # type: ignore[misc]
