"""Tokens the gateway mints and checks: delegated tokens for /mcp, per-call
downstream tokens for tools, and the agents' signed assertions.

One ES256 key signs what the gateway issues; its public half is served at
``/.well-known/jwks.json``. The inbound token never leaves the gateway.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from jwt.algorithms import ECAlgorithm

from core import keys
from core.auth import InvalidToken, TokenVerifier
from core.settings import AuthSettings, Settings

TOOL_AUDIENCE_PREFIX = "urn:tollhouse:tool:"
ASSERTION_ALGORITHMS = ["ES256", "RS256", "EdDSA"]


def tool_audience(tool: str) -> str:
    return f"{TOOL_AUDIENCE_PREFIX}{tool}"


def _now() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp())


class ReplayCache:
    """Remembers assertion ids until they expire, so one assertion is used once (per process)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, key: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            for stale in [k for k, exp in self._seen.items() if exp < now]:
                del self._seen[stale]
            if key in self._seen:
                return False
            self._seen[key] = expires_at
            return True


class GatewayTokens:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.public_url
        self.mcp_audience = settings.mcp_resource
        self.token_endpoint = f"{settings.public_url}/oauth/token"
        path = Path(settings.gateway.signing_key_path) if settings.gateway.signing_key_path else settings.home / "gateway" / "signing.pem"
        if not path.exists():
            if settings.gateway.signing_key_path:
                raise FileNotFoundError(f"gateway signing key {path} does not exist")
            keys.write_secret(path, keys.private_pem(keys.generate_private_key()))
        self._private_key = keys.load_private_key(path)
        self.public_key = self._private_key.public_key()
        self.kid = keys.key_id(keys.public_pem(self.public_key))
        self._delegated = TokenVerifier(
            AuthSettings(issuer=self.issuer, audience=self.mcp_audience, algorithms=["ES256"], accepted_typ=["at+jwt"]),
            public_key=self.public_key,
        )
        self._replays = ReplayCache()

    def jwks(self) -> dict[str, Any]:
        jwk = ECAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        """Sign claims as an access token of this gateway (ES256, typ at+jwt)."""
        return jwt.encode(claims, self._private_key, algorithm="ES256", headers={"typ": "at+jwt", "kid": self.kid})

    def mint_delegated(
        self,
        *,
        user_claims: dict[str, Any],
        user_scopes: frozenset[str],
        user_groups: frozenset[str],
        agent: str,
        user_roles: frozenset[str] = frozenset(),
        agent_grants: frozenset[str],
        requested: frozenset[str] | None = None,
    ) -> tuple[str, int, frozenset[str]]:
        """A delegated token for /mcp: user scopes ∩ agent grants, no longer-lived than the user's token."""
        now = _now()
        effective = user_scopes & agent_grants
        if requested is not None:
            effective &= requested
        exp = min(int(user_claims["exp"]), now + self.settings.gateway.delegated_token_ttl_seconds)
        claims = {
            "iss": self.issuer,
            "aud": self.mcp_audience,
            "sub": user_claims["sub"],
            "act": {"sub": agent},
            "client_id": agent,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "jti": uuid.uuid4().hex,
            "scope": " ".join(sorted(effective)),
            "user_scope": " ".join(sorted(user_scopes)),
            "groups": sorted(user_groups),
            "roles": sorted(user_roles),
            "user_iss": user_claims.get("iss"),
        }
        return self.sign(claims), max(exp - now, 0), effective

    def verify_delegated(self, token: str) -> dict[str, Any]:
        """Claims of a delegated token. Raises :class:`InvalidToken` unless it is one of ours, for /mcp."""
        claims = self._delegated.verify_claims(token)
        act = claims.get("act")
        if not isinstance(act, dict) or not isinstance(act.get("sub"), str):
            raise InvalidToken("not a delegated token: no actor")
        return claims

    def mint_downstream(
        self, *, user: str, agent: str, audience: str, scopes: frozenset[str], trace_id: str | None,
        roles: frozenset[str] = frozenset(),
    ) -> str:
        return self.sign(
            self.downstream_claims(user=user, agent=agent, audience=audience, scopes=scopes, trace_id=trace_id, roles=roles)
        )

    def downstream_claims(
        self, *, user: str, agent: str, audience: str, scopes: frozenset[str], trace_id: str | None,
        roles: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """The claims of a token for one tool call: its own audience, about a minute of life, a fresh jti."""
        now = _now()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience,
            "sub": user,
            "act": {"sub": agent},
            "iat": now,
            "nbf": now,
            "exp": now + self.settings.gateway.downstream_token_ttl_seconds,
            "jti": uuid.uuid4().hex,
            "scope": " ".join(sorted(scopes)),
        }
        if roles:
            claims["roles"] = sorted(roles)
        if trace_id:
            claims["trace_id"] = trace_id
        return claims

    def verify_downstream(self, token: str, audience: str) -> dict[str, Any]:
        """Claims of a downstream token for ``audience``. Raises :class:`InvalidToken`."""
        verifier = TokenVerifier(
            AuthSettings(issuer=self.issuer, audience=audience, algorithms=["ES256"], accepted_typ=["at+jwt"]),
            public_key=self.public_key,
        )
        return verifier.verify_claims(token)

    def verify_agent_assertion(self, assertion: str, *, client_id: str, public_key_pem: str) -> dict[str, Any]:
        """Check an agent's RFC 7523-style assertion: iss = sub = client id, aud = our token endpoint,
        short-lived, signed by the registered key, used once. Raises :class:`InvalidToken`."""
        verifier = TokenVerifier(
            AuthSettings(
                issuer=client_id,
                audience=self.token_endpoint,
                algorithms=ASSERTION_ALGORITHMS,
                accepted_typ=["JWT", ""],
            ),
            public_key=keys.load_public_key(public_key_pem),
        )
        claims = verifier.verify_claims(assertion)
        if claims["sub"] != client_id:
            raise InvalidToken("assertion subject must be the agent's client id")
        if claims["exp"] - claims["iat"] > self.settings.gateway.agent_assertion_max_age_seconds:
            raise InvalidToken("assertion lives too long")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise InvalidToken("assertion needs a jti")
        if not self._replays.first_use(f"{client_id}:{jti}", float(claims["exp"]) + 60):
            raise InvalidToken("assertion was already used")
        return claims
