"""Canonical JSON (RFC 8785) and the digests built on it.

Same object, same bytes, on every machine: the basis of tool pins and of the
argument and result digests in audit records.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from core.errors import InvalidRequest

DIGEST_PREFIX = "sha256:"


class NotCanonicalJson(InvalidRequest):
    code = "not_canonical_json"


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON-like object.

    Raises :class:`NotCanonicalJson` for what JCS cannot represent: non-string
    keys, NaN or infinite floats, integers beyond 2**53-1, lone surrogates,
    non-JSON types.
    """
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise NotCanonicalJson(
            f"value cannot be canonicalised as JSON: {exc}", detail={"reason": str(exc)}
        ) from exc


def digest(obj: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``obj``. Raises :class:`NotCanonicalJson`."""
    return DIGEST_PREFIX + hashlib.sha256(canonical_json(obj)).hexdigest()
