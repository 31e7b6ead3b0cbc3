"""Canonical JSON (RFC 8785) and the digests built on it.

Same object, same bytes, on every machine: the basis of tool pins and of the
argument and result digests in audit records.

Most values the platform hashes (audit records, tool arguments and results)
are plain: string keys without astral-plane characters, integers within
IEEE-754's exact range, and floats that print the same in Python and
ECMAScript. For those, the standard library's C encoder already produces the
RFC 8785 bytes and is several times faster than a general encoder; everything
else goes through the ``rfc8785`` package, which also raises for what JCS
cannot represent. Both paths give identical bytes (tested against each other).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from core.errors import InvalidRequest

DIGEST_PREFIX = "sha256:"
_INT_LIMIT = 2**53 - 1
# Python's repr and ECMAScript's Number::toString agree on non-integral floats in
# this range: the same shortest round-trip digits, and neither uses an exponent.
_FLOAT_LOW, _FLOAT_HIGH = 1e-4, 1e16
# Up to here, key order by code point equals RFC 8785's order by UTF-16 code unit.
_SAFE_KEY_MAX = "\ud7ff"
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


class NotCanonicalJson(InvalidRequest):
    code = "not_canonical_json"


class _General(Exception):
    """The value needs the general encoder."""


def _plain(value: Any) -> Any:
    """``value`` ready for the C encoder (integral floats as ints), or raise :class:`_General`."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -_INT_LIMIT <= value <= _INT_LIMIT:
            return value
        raise _General
    if kind is float:
        magnitude = abs(value)
        if value.is_integer():
            if magnitude <= _INT_LIMIT:
                return int(value)
            raise _General
        if _FLOAT_LOW <= magnitude < _FLOAT_HIGH:
            return value
        raise _General
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) <= _SAFE_KEY_MAX):
                raise _General
            out[key] = _plain(item)
        return out
    if kind is list:
        return [_plain(item) for item in value]
    raise _General


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON-like object.

    Raises :class:`NotCanonicalJson` for what JCS cannot represent: non-string
    keys, NaN or infinite floats, integers beyond 2**53-1, lone surrogates,
    non-JSON types.
    """
    try:
        return _encode(_plain(obj)).encode("utf-8")
    except (_General, UnicodeEncodeError):
        pass
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        # (rfc8785 raises UnicodeEncodeError for a lone surrogate in a key.)
        raise NotCanonicalJson(
            f"value cannot be canonicalised as JSON: {exc}", detail={"reason": str(exc)}
        ) from exc


def digest(obj: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``obj``. Raises :class:`NotCanonicalJson`."""
    return DIGEST_PREFIX + hashlib.sha256(canonical_json(obj)).hexdigest()
