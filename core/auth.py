"""User-token verification and the dev issuer.

User tokens are JWTs from the organisation's IdP (or, in dev mode, from the
built-in issuer). Verification is strict: a size cap before anything is
parsed, an algorithm allow-list, a ``typ`` check, required ``iss``, ``aud``,
``exp``, ``iat`` and ``sub``, and numeric time claims.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from core import keys
from core.errors import Unauthenticated
from core.settings import AuthSettings

_TIME_CLAIMS = ("exp", "iat", "nbf")
# Asymmetric algorithms only: an HMAC algorithm beside public keys would let a
# public key be used as a shared secret.
_ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


class InvalidToken(Unauthenticated):
    code = "invalid_token"


@dataclass(frozen=True)
class Principal:
    """A verified caller."""

    subject: str
    scopes: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    dev: bool = False
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_role(self, role: str) -> bool:
        return role in self.roles


def _as_set(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list | tuple):
        return frozenset(str(item) for item in value)
    return frozenset()


def principal_from_claims(claims: dict[str, Any], settings: AuthSettings) -> Principal:
    return Principal(
        subject=str(claims["sub"]),
        scopes=_as_set(claims.get("scope", claims.get("scp"))),
        groups=_as_set(claims.get(settings.groups_claim)),
        roles=_as_set(claims.get(settings.roles_claim)),
        dev=bool(claims.get("tollhouse_dev", False)),
        claims=claims,
    )


class TokenVerifier:
    """Verifies user tokens against one key source: a JWKS URL, a PEM file, or the dev issuer."""

    def __init__(self, settings: AuthSettings, *, public_key: Any | None = None) -> None:
        algorithms = [alg for alg in settings.algorithms if alg in _ASYMMETRIC]
        if not algorithms:
            raise ValueError("auth.algorithms must name at least one asymmetric algorithm")
        self._settings = settings
        self._algorithms = algorithms
        self._public_key = public_key
        self._jwks: jwt.PyJWKClient | None = None
        if public_key is None and settings.jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)
        elif public_key is None and settings.public_key_path:
            self._public_key = keys.load_public_key(Path(settings.public_key_path).read_bytes())
        if self._public_key is None and self._jwks is None:
            raise ValueError("no key source for user tokens")

    def verify(self, token: str) -> Principal:
        """The principal a token names. Raises :class:`InvalidToken` on any flaw."""
        return principal_from_claims(self.verify_claims(token), self._settings)

    def verify_claims(self, token: str) -> dict[str, Any]:
        """The verified claims of a token. Raises :class:`InvalidToken` on any flaw."""
        if len(token) > self._settings.max_token_bytes:
            raise InvalidToken("token is larger than the accepted size")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("token is not a well-formed JWT") from exc
        if header.get("alg") not in self._algorithms:
            raise InvalidToken("token algorithm is not accepted")
        if header.get("typ", "") not in self._settings.accepted_typ:
            raise InvalidToken("token type is not accepted")
        key = self._key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=self._algorithms,
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"token rejected: {exc}") from exc
        self._check_time_claims(claims)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("token subject must be a non-empty string")
        return claims

    def _key_for(self, token: str) -> Any:
        if self._jwks is not None:
            try:
                return self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWTError as exc:
                raise InvalidToken("no signing key for this token") from exc
        return self._public_key

    def _check_time_claims(self, claims: dict[str, Any]) -> None:
        # A strict decode has been seen to accept ``exp`` as a string, so the
        # types and the expiry are checked here again.
        for name in _TIME_CLAIMS:
            value = claims.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidToken(f"claim {name!r} must be a number")
        now = dt.datetime.now(dt.UTC).timestamp()
        if claims["exp"] + self._settings.leeway_seconds < now:
            raise InvalidToken("token has expired")
        if claims["iat"] - self._settings.leeway_seconds > now:
            raise InvalidToken("token was issued in the future")


@dataclass(frozen=True)
class DevUser:
    subject: str
    name: str
    roles: tuple[str, ...]
    groups: tuple[str, ...]
    scopes: tuple[str, ...]


_ANALYTIC_SCOPES = ("mcp:use", "demo:use", "recsys:read", "forecast:read", "kg:read", "pricing:read", "metrics:read")

DEV_USERS: dict[str, DevUser] = {
    user.subject: user
    for user in (
        DevUser("alice", "Alice (analyst)", ("analyst",), ("analytics",), _ANALYTIC_SCOPES),
        DevUser("bob", "Bob (publisher)", ("publisher",), ("platform-tools", "analytics"), ("mcp:use", "demo:use")),
        DevUser("carol", "Carol (security reviewer)", ("reviewer:security",), ("security",), ("mcp:use",)),
        DevUser("dave", "Dave (privacy reviewer)", ("reviewer:privacy",), ("privacy",), ("mcp:use",)),
        DevUser("erin", "Erin (auditor)", ("auditor",), ("security",), ("mcp:use", "audit:read")),
        DevUser("admin", "Admin (platform admin)", ("platform-admin",), ("platform",), ("mcp:use", "demo:use")),
    )
}


class DevIssuer:
    """The built-in issuer of dev mode: an ES256 key pair kept under ``home/dev-issuer``.

    Every token it issues carries ``tollhouse_dev: true`` so nothing can take
    one for a production identity.
    """

    def __init__(self, home: Path, settings: AuthSettings) -> None:
        self._settings = settings
        directory = home / "dev-issuer"
        private_path = directory / "private.pem"
        if not private_path.exists():
            keys.write_secret(private_path, keys.private_pem(keys.generate_private_key()))
        self._private_key = keys.load_private_key(private_path)
        self.public_key = self._private_key.public_key()
        self.kid = keys.key_id(keys.public_pem(self.public_key))

    def issue(
        self,
        subject: str,
        *,
        scopes: tuple[str, ...] | list[str] = (),
        roles: tuple[str, ...] | list[str] = (),
        groups: tuple[str, ...] | list[str] = (),
        ttl_seconds: int | None = None,
    ) -> str:
        now = int(dt.datetime.now(dt.UTC).timestamp())
        claims = {
            "iss": self._settings.issuer,
            "aud": self._settings.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + (ttl_seconds or self._settings.dev_token_ttl_seconds),
            "jti": uuid.uuid4().hex,
            "scope": " ".join(scopes),
            self._settings.roles_claim: list(roles),
            self._settings.groups_claim: list(groups),
            "tollhouse_dev": True,
        }
        return jwt.encode(
            claims, self._private_key, algorithm="ES256", headers={"typ": "at+jwt", "kid": self.kid}
        )

    def issue_for(self, user: str) -> str:
        """A token for one of the demo users. Raises ``KeyError`` for an unknown user."""
        dev_user = DEV_USERS[user]
        return self.issue(
            dev_user.subject, scopes=dev_user.scopes, roles=dev_user.roles, groups=dev_user.groups
        )

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self._settings, public_key=self.public_key)


def build_verifier(settings: AuthSettings, home: Path) -> TokenVerifier:
    """The verifier the settings ask for: the dev issuer's key in dev mode, else JWKS or PEM."""
    if settings.dev_mode and not (settings.jwks_url or settings.public_key_path):
        return DevIssuer(home, settings).verifier()
    return TokenVerifier(settings)
