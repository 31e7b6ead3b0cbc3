"""The fast canonical encoder gives exactly the bytes of the general RFC 8785 encoder."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
import rfc8785

from core.canonical import NotCanonicalJson, canonical_json

TRICKY_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 0.1, 1e-4, 9.999999999999999e-05, 1e-6, 1e-7, 1e15, 1e16, 1e21, 1e22,
    123456789012345.67, 2.0**53, 2.0**53 + 2, -(2.0**53), 5e-324, 1.7976931348623157e308, 0.30000000000000004,
]
TRICKY_INTS = [0, 1, -1, 2**53 - 1, -(2**53 - 1), 2**53, -(2**53), 10**20]
# ASCII, controls, quote/backslash, Latin, the U+E000+ range, astral characters, U+2028.
ALPHABET = "ab\"\\/\n\t\x00\x1f\x7féü\u2028\ue000\uffff\U0001f600\U00010000"


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.2:
        return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    if depth < 3 and roll < 0.3:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    choice = rng.randint(0, 6)
    if choice == 0:
        return rng.choice(TRICKY_FLOATS)
    if choice == 1:
        # Any finite double, from random bits.
        number = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        return number if number == number and abs(number) != float("inf") else 0.5
    if choice == 2:
        return rng.uniform(-1e6, 1e6)
    if choice == 3:
        return rng.choice([*TRICKY_INTS, rng.randint(-1000, 1000)])
    if choice == 4:
        return _text(rng)
    return rng.choice([True, False, None])


def _reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return NotCanonicalJson


def test_fast_and_general_encoders_agree_on_random_values() -> None:
    rng = random.Random(8785)
    for _ in range(5000):
        value = _value(rng)
        expected = _reference(value)
        if expected is NotCanonicalJson:
            with pytest.raises(NotCanonicalJson):
                canonical_json(value)
        else:
            assert canonical_json(value) == expected, value


@pytest.mark.parametrize("number", TRICKY_FLOATS + TRICKY_INTS)
def test_numbers_print_as_ecmascript_does(number: float) -> None:
    expected = _reference({"n": number})
    if expected is NotCanonicalJson:
        with pytest.raises(NotCanonicalJson):
            canonical_json({"n": number})
    else:
        assert canonical_json({"n": number}) == expected


def test_keys_sort_by_utf16_code_units() -> None:
    # By code point U+E000 sorts before U+1F600; by UTF-16 code unit it sorts after.
    value = {"\ue000": 1, "\U0001f600": 2, "a": 3}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).index("\U0001f600".encode()) < canonical_json(value).index("\ue000".encode())


def test_lone_surrogate_in_a_key_is_refused() -> None:
    with pytest.raises(NotCanonicalJson):
        canonical_json({"\udc00": 1})
