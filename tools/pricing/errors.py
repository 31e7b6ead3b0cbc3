"""The pricing tool's expected failures."""

from __future__ import annotations

from core.errors import InvalidRequest


class InvalidLines(InvalidRequest):
    code = "invalid_lines"


class InvalidOffers(InvalidRequest):
    """Offers a model cannot be fitted on (for example, nobody or everybody converted)."""

    code = "invalid_offers"
