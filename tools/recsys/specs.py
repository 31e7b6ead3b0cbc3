"""``recsys.recommend``, ``recsys.similar_items`` and ``recsys.user_interests``: the governed tools.

The model is built from the Online Retail data under ``ctx.data_dir`` on the
first call and kept for the life of the process (one per data directory).
Building takes seconds and every request takes milliseconds of CPU, so both
run in a worker thread: the event loop never waits on numpy.
``TOLLHOUSE_RECSYS_MAX_CUSTOMERS`` builds on the first N customers only (tests, demos).
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

from core.errors import NotFound, TollhouseError
from tools.recsys.recommender import Recommender, build, first_customers
from tools.retail.data import RetailDataMissing, load
from tools.spec import ToolContext, ToolSpec

MAX_CUSTOMERS_ENV = "TOLLHOUSE_RECSYS_MAX_CUSTOMERS"
SCOPE = "recsys:read"


class DataUnavailable(TollhouseError):
    code = "data_unavailable"
    status = 503


class UnknownItem(NotFound):
    code = "unknown_item"


_models: dict[tuple[str, int | None], Recommender] = {}
# A thread lock, not an asyncio one: builds run in worker threads, and tests run many event loops.
_build_lock = threading.Lock()


def customer_cap() -> int | None:
    """The customer cap from the environment. Raises :class:`DataUnavailable` if it is not a positive integer."""
    raw = os.environ.get(MAX_CUSTOMERS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise DataUnavailable(f"{MAX_CUSTOMERS_ENV} must be a positive integer, not {raw!r}")
    return int(raw)


def model_for(data_dir: Path, cap: int | None = None, *, rebuild: bool = False) -> Recommender:
    """The process's model for this data directory, built on first use (or again with ``rebuild``).

    Blocking: call it from a worker thread. Raises :class:`RetailDataMissing`.
    """
    key = (str(data_dir.resolve()), cap)
    # Readers never wait for a rebuild: they keep the old model until the new one replaces it.
    model = _models.get(key)
    if model is not None and not rebuild:
        return model
    with _build_lock:
        model = None if rebuild else _models.get(key)
        if model is None:
            cleaned = load(data_dir, require_customer=True)
            model = build(first_customers(cleaned.lines, cap))
            _models[key] = model
    return model


async def _model(ctx: ToolContext) -> Recommender:
    if ctx.data_dir is None:
        raise DataUnavailable("recsys needs the Online Retail data: no data directory is configured (TOLLHOUSE_DATA_DIR)")
    try:
        return await asyncio.to_thread(model_for, ctx.data_dir, customer_cap())
    except RetailDataMissing as exc:
        raise DataUnavailable(f"recsys needs the Online Retail data: {exc}") from exc


async def recommend(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    model = await _model(ctx)
    user = str(arguments["user_id"]).strip()
    return await asyncio.to_thread(model.recommend, user, int(arguments.get("k", 10)), bool(arguments.get("exclude_seen", True)))


async def similar_items(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    model = await _model(ctx)
    item = str(arguments["item_id"]).strip().upper()
    if item not in model.positions:
        raise UnknownItem(f"no item {item!r} in the catalogue", detail={"item_id": item})
    return await asyncio.to_thread(model.similar_items, item, int(arguments.get("k", 10)))


async def user_interests(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    model = await _model(ctx)
    return await asyncio.to_thread(model.user_interests, str(arguments["user_id"]).strip())


USER_ID: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 64, "description": "The customer id, e.g. \"17850\"."}
K: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 100, "default": 10, "description": "How many items to return."}
ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "description": {"type": "string"}},
    "required": ["id", "description"],
}
SCORED_ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {**ITEM["properties"], "score": {"type": "number"}},
    "required": ["id", "description", "score"],
}
ANNOTATIONS = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}
COMMON: dict[str, Any] = {
    "annotations": ANNOTATIONS,
    "owning_team": "analytics",
    "required_scopes": (SCOPE,),
    "risk_class": "low",
    "data_classification": "internal",
}

RECOMMEND = ToolSpec(
    name="recsys.recommend",
    title="Recommend items for a customer",
    description=(
        "Recommends catalogue items a customer is likely to buy next: co-purchase neighbours of their recent items, "
        "items near their interests, and what sells now. A customer with no history gets popular items."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "user_id": USER_ID,
            "k": K,
            "exclude_seen": {"type": "boolean", "default": True, "description": "Leave out items the customer already bought."},
        },
        "required": ["user_id"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "user_id": {"type": "string"},
            "known_user": {"type": "boolean"},
            "path": {"type": "string", "enum": ["personalised", "cold_start"]},
            "items": {"type": "array", "items": SCORED_ITEM},
        },
        "required": ["user_id", "known_user", "path", "items"],
    },
    handler=recommend,
    **COMMON,
)

SIMILAR_ITEMS = ToolSpec(
    name="recsys.similar_items",
    title="Items similar to an item",
    description="Returns items often bought together with the given item, then items close to it in the item embedding.",
    input_schema={
        "type": "object",
        "properties": {
            "item_id": {"type": "string", "minLength": 1, "maxLength": 32, "description": "The stock code, e.g. \"85123A\"."},
            "k": K,
        },
        "required": ["item_id"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "item": ITEM,
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {**SCORED_ITEM["properties"], "source": {"type": "string", "enum": ["co-purchase", "embedding"]}},
                    "required": ["id", "description", "score", "source"],
                },
            },
        },
        "required": ["item", "items"],
    },
    handler=similar_items,
    **COMMON,
)

USER_INTERESTS = ToolSpec(
    name="recsys.user_interests",
    title="A customer's interests",
    description=(
        "Lists a customer's interests: clusters of their recent items, each with its most central item (medoid), "
        "its importance (recent purchases weigh more) and a few member items."
    ),
    input_schema={
        "type": "object",
        "properties": {"user_id": USER_ID},
        "required": ["user_id"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "user_id": {"type": "string"},
            "known_user": {"type": "boolean"},
            "embedding": {"type": "string"},
            "note": {"type": "string"},
            "interests": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "rank": {"type": "integer"},
                        "medoid": ITEM,
                        "importance": {"type": "number"},
                        "size": {"type": "integer"},
                        "items": {"type": "array", "items": ITEM},
                    },
                    "required": ["rank", "medoid", "importance", "size", "items"],
                },
            },
        },
        "required": ["user_id", "known_user", "interests"],
    },
    handler=user_interests,
    **COMMON,
)

SPECS: tuple[ToolSpec, ...] = (RECOMMEND, SIMILAR_ITEMS, USER_INTERESTS)
