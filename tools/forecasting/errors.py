"""The forecasting tool's expected failures."""

from __future__ import annotations

from core.errors import InvalidRequest, NotFound, TollhouseError


class DataUnavailable(TollhouseError):
    """The Online Retail data is not where the settings say."""

    code = "data_unavailable"
    status = 503


class UnknownSeries(NotFound):
    code = "unknown_series"


class InvalidSeries(InvalidRequest):
    code = "invalid_series"


class InvalidContext(InvalidRequest):
    code = "invalid_context"


class SignalExtractionError(TollhouseError):
    """The LLM extractor's answer could not be used (HTTP failure, not JSON, or not the schema)."""

    code = "signal_extraction_failed"
    status = 502
