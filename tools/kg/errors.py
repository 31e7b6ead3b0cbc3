"""The kg tool's expected failures."""

from __future__ import annotations

from core.errors import NotFound, TollhouseError


class TrainingDataMissing(TollhouseError):
    """The labelled triples (CKBC) the filter learns from are not where the settings say."""

    code = "kg_training_data_missing"
    status = 503


class UnknownItem(NotFound):
    """An item id the served graph has never seen (``kg.explain_pair``, ``kg.related_items``)."""

    code = "unknown_item"


class GenerationError(TollhouseError):
    """The LLM generator's answer could not be used (HTTP failure, not JSON, or not the schema)."""

    code = "kg_generation_failed"
    status = 502


class GraphUnavailable(TollhouseError):
    """The handler was given no database to read the graph from."""

    code = "kg_unavailable"
    status = 503
