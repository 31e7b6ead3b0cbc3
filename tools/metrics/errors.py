"""The metrics tool's expected failures."""

from __future__ import annotations

from core.errors import InvalidRequest, TollhouseError


class DataUnavailable(TollhouseError):
    """The shipped ASOS data is not where the settings say."""

    code = "data_unavailable"
    status = 503


class InvalidMetrics(InvalidRequest):
    code = "invalid_metrics"


class InvalidPowerRequest(InvalidRequest):
    code = "invalid_power_request"
