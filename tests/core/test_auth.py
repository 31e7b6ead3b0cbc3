"""User-token verification refuses every malformed, mis-signed or mis-addressed token."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import jwt
import pytest

from core import keys
from core.auth import DevIssuer, InvalidToken, TokenVerifier
from core.settings import AuthSettings

SETTINGS = AuthSettings()


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path, SETTINGS)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims: dict[str, object] = {"iss": SETTINGS.issuer, "aud": SETTINGS.audience, "sub": "alice", "iat": now, "exp": now + 300, "scope": "demo:use"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(issuer: DevIssuer, claims: dict[str, object], headers: dict[str, object] | None = None) -> str:
    return jwt.encode(claims, issuer._private_key, algorithm="ES256", headers=headers or {"typ": "at+jwt"})


def test_a_dev_token_verifies_to_its_user(issuer: DevIssuer) -> None:
    principal = issuer.verifier().verify(issuer.issue_for("alice"))
    assert principal.subject == "alice"
    assert "demo:use" in principal.scopes
    assert principal.roles == {"analyst"}
    assert principal.dev is True


def test_dev_keys_are_owner_only_and_reused(tmp_path: Path) -> None:
    first = DevIssuer(tmp_path, SETTINGS)
    assert (tmp_path / "dev-issuer" / "private.pem").stat().st_mode & 0o777 == 0o600
    second = DevIssuer(tmp_path, SETTINGS)
    assert second.verifier().verify(first.issue_for("bob")).subject == "bob"


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        (_claims(exp=int(dt.datetime.now(dt.UTC).timestamp()) - 3600), "expired"),
        (_claims(aud="someone-else"), "audience"),
        (_claims(iss="https://evil.example"), "issuer"),
        (_claims(iat=None), "iat missing"),
        (_claims(exp=None), "exp missing"),
        (_claims(sub=None), "sub missing"),
        (_claims(exp="9999999999"), "exp as string"),
        (_claims(iat=int(dt.datetime.now(dt.UTC).timestamp()) + 3600), "issued in the future"),
    ],
)
def test_flawed_claims_are_refused(issuer: DevIssuer, claims: dict[str, object], why: str) -> None:
    with pytest.raises(InvalidToken):
        issuer.verifier().verify(_sign(issuer, claims))


def test_wrong_typ_is_refused(issuer: DevIssuer) -> None:
    with pytest.raises(InvalidToken, match="type"):
        issuer.verifier().verify(_sign(issuer, _claims(), {"typ": "id+jwt"}))


def test_a_token_signed_by_another_key_is_refused(issuer: DevIssuer) -> None:
    other = keys.generate_private_key()
    token = jwt.encode(_claims(), other, algorithm="ES256", headers={"typ": "at+jwt"})
    with pytest.raises(InvalidToken):
        issuer.verifier().verify(token)


def test_alg_none_and_hmac_with_the_public_key_are_refused(issuer: DevIssuer) -> None:
    def b64(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(_claims())}."
    with pytest.raises(InvalidToken, match="algorithm"):
        issuer.verifier().verify(unsigned)
    public = keys.public_pem(issuer.public_key).encode()
    forged = f"{b64({'alg': 'HS256', 'typ': 'at+jwt'})}.{b64(_claims())}"
    import hashlib
    import hmac

    signature = base64.urlsafe_b64encode(hmac.new(public, forged.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken, match="algorithm"):
        issuer.verifier().verify(f"{forged}.{signature}")


def test_oversized_tokens_are_refused_before_decoding(issuer: DevIssuer) -> None:
    huge = _sign(issuer, _claims(padding="x" * 20_000))
    with pytest.raises(InvalidToken, match="larger"):
        issuer.verifier().verify(huge)


def test_hmac_only_algorithm_lists_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier(AuthSettings(algorithms=["HS256"]), public_key=keys.generate_private_key().public_key())


def test_production_settings_need_a_key_source() -> None:
    from core.settings import Settings

    with pytest.raises(ValueError, match="jwks_url"):
        Settings(auth=AuthSettings(dev_mode=False))
