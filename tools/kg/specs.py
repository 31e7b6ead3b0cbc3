"""The kg tools: ``kg.lookup``, ``kg.related_items``, ``kg.explain_pair`` (scope ``kg:read``).

Each reads the graph that ``tools.kg.service.build_graph`` loaded into the
platform database, through the session factory in its context, read-only.
An empty graph answers with empty results and a note; an item id the
graph lacks is an error (``unknown_item``, 404), since the caller named it.
"""

from __future__ import annotations

from typing import Any

from tools.kg import service
from tools.kg.errors import GraphUnavailable
from tools.kg.vocabulary import ITEM_RELATIONS, RELATIONS
from tools.spec import ToolContext, ToolSpec

SCOPE = "kg:read"
DATA_NOTE = ("Built from UCI Online Retail (Chen, Sain, Guo 2012, CC BY 4.0) baskets and descriptions, "
             "filtered by a classifier trained on ConceptNet CKBC (Li et al. 2016, CC BY-SA 4.0).")
ITEM_ID = {"type": "string", "pattern": "^[A-Za-z0-9]{1,32}$", "description": "A product's stock code, e.g. 85123A."}
MIN_SCORE = {"type": "number", "minimum": 0, "maximum": 1, "default": 0,
             "description": "Only edges the filter scored at least this plausible (0-1)."}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20, "description": "At most this many edges."}
EDGE = {
    "type": "object",
    "properties": {
        "head": {"type": "string"}, "relation": {"type": "string"}, "tail": {"type": "string"},
        "score": {"type": "number"}, "source": {"type": "string"}, "evidence": {"type": "object"},
        "direction": {"type": "string"}, "head_item": {"type": "string"}, "tail_item": {"type": "string"},
    },
    "required": ["head", "relation", "tail", "score"],
}
READ_ONLY = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}


def _sessionmaker(ctx: ToolContext) -> Any:
    if ctx.sessionmaker is None:
        raise GraphUnavailable("the kg tools need the platform database, and this context has none")
    return ctx.sessionmaker


async def lookup(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    async with _sessionmaker(ctx)() as session:
        return await service.lookup(
            session, arguments["entity"], relation=arguments.get("relation"),
            direction=arguments.get("direction", "both"), min_score=float(arguments.get("min_score", 0.0)),
            limit=int(arguments.get("limit", 20)),
        )


async def related_items(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    async with _sessionmaker(ctx)() as session:
        return await service.related_items(
            session, arguments["item_id"], relation=arguments.get("relation"),
            min_score=float(arguments.get("min_score", 0.0)), limit=int(arguments.get("limit", 20)),
        )


async def explain_pair(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    async with _sessionmaker(ctx)() as session:
        return await service.explain_pair(session, arguments["item_a"], arguments["item_b"])


KG_LOOKUP = ToolSpec(
    name="kg.lookup",
    title="Look up the product knowledge graph",
    description=("Edges of a commonsense knowledge graph about gift-shop products at one entity: a concept "
                 "(for example 'christmas', 'kitchen', 't-light holder') or a product's description. Each edge "
                 "has a plausibility score from a trained filter and its provenance. " + DATA_NOTE),
    input_schema={
        "type": "object",
        "properties": {
            "entity": {"type": "string", "minLength": 1, "maxLength": 255,
                       "description": "The entity, matched case-insensitively."},
            "relation": {"type": "string", "enum": list(RELATIONS), "description": "Only edges of this relation."},
            "direction": {"type": "string", "enum": ["out", "in", "both"], "default": "both",
                          "description": "out: the entity is the head; in: the tail; both."},
            "min_score": MIN_SCORE,
            "limit": LIMIT,
        },
        "required": ["entity"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {"entity": {"type": "string"}, "edges": {"type": "array", "items": EDGE},
                       "note": {"type": "string"}},
        "required": ["entity", "edges"],
    },
    annotations=READ_ONLY,
    handler=lookup,
    owning_team="analytics",
    required_scopes=(SCOPE,),
    risk_class="low",
    data_classification="internal",
)

KG_RELATED_ITEMS = ToolSpec(
    name="kg.related_items",
    title="Products that go with a product",
    description=("Products the knowledge graph links to a product by complementOf or usedWith, best first, "
                 "with scores and the co-purchase evidence. " + DATA_NOTE),
    input_schema={
        "type": "object",
        "properties": {
            "item_id": ITEM_ID,
            "relation": {"type": "string", "enum": list(ITEM_RELATIONS), "description": "Only this relation."},
            "min_score": MIN_SCORE,
            "limit": LIMIT,
        },
        "required": ["item_id"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {"item_id": {"type": "string"}, "description": {"type": "string"},
                       "related": {"type": "array", "items": {"type": "object"}}, "note": {"type": "string"}},
        "required": ["item_id", "related"],
    },
    annotations=READ_ONLY,
    handler=related_items,
    owning_team="analytics",
    required_scopes=(SCOPE,),
    risk_class="low",
    data_classification="internal",
)

KG_EXPLAIN_PAIR = ToolSpec(
    name="kg.explain_pair",
    title="Why two products go together",
    description=("Explains from the knowledge graph why two products go together: edges between them and "
                 "concepts both reach (a kind, a use, a place, an occasion). An unknown stock code is an error "
                 "(unknown_item). " + DATA_NOTE),
    input_schema={
        "type": "object",
        "properties": {"item_a": ITEM_ID, "item_b": ITEM_ID},
        "required": ["item_a", "item_b"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {"item_a": {"type": "string"}, "item_b": {"type": "string"},
                       "direct": {"type": "array", "items": EDGE}, "shared": {"type": "array"},
                       "summary": {"type": "string"}, "note": {"type": "string"}},
        "required": ["item_a", "item_b", "direct", "shared", "summary"],
    },
    annotations=READ_ONLY,
    handler=explain_pair,
    owning_team="analytics",
    required_scopes=(SCOPE,),
    risk_class="low",
    data_classification="internal",
)

SPECS: tuple[ToolSpec, ...] = (KG_LOOKUP, KG_RELATED_ITEMS, KG_EXPLAIN_PAIR)
