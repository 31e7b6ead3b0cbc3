"""``pricing.features`` and ``pricing.conversion``: the pricing tool as governed ToolSpecs."""

from __future__ import annotations

import asyncio
from typing import Any

from tools.pricing import simulate
from tools.pricing.conversion import Offers, compare
from tools.pricing.errors import InvalidLines, InvalidOffers
from tools.pricing.features import line_features
from tools.spec import ToolContext, ToolSpec

MAX_LINES = 1_000
MAX_OFFERS = 10_000
FEW_OFFERS = 200  # below this, say the fit is fragile
READ_ONLY = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}
NUMBER_OR_NULL = {"type": ["number", "null"]}
BOOL_OR_NULL = {"type": ["boolean", "null"]}


async def features(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(line_features, arguments["lines"])
    except ValueError as exc:
        raise InvalidLines(str(exc)) from exc


def _conversion(arguments: dict[str, Any]) -> dict[str, Any]:
    if arguments.get("use") == "simulation":
        scenario = simulate.Scenario(**arguments.get("simulation", {}))
        return {"source": "simulation", **simulate.run(scenario, int(arguments.get("seed", 0)))}
    offers = Offers.from_records(arguments["offers"])
    answer = {"source": "offers", **compare(offers)}
    notes = []
    if offers.customers == len(offers.price):
        notes.append("no customer ids: each offer is its own customer, so the never-convert share "
                     "is identified only by how high the convertible curve reaches (weakly)")
    if len(offers.price) < FEW_OFFERS:
        notes.append(f"fewer than {FEW_OFFERS} offers: the estimates are unstable and calibration is in-sample")
    if notes:
        answer["notes"] = notes
    return answer


async def conversion(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(_conversion, arguments)
    except ValueError as exc:
        raise InvalidOffers(str(exc)) from exc


LINE = {
    "type": "object",
    "properties": {
        "unit_price": {"type": "number", "minimum": 0, "description": "Price of one unit; 0.00 is free."},
        "quantity": {"type": "number", "minimum": 1, "default": 1},
        "shipping": {"type": "number", "minimum": 0, "description": "Shipping charged with the line or its order; omit when unknown."},
        "list_price": {"type": "number", "exclusiveMinimum": 0, "description": "The undiscounted price, for discount depth."},
        "category": {"type": "string", "minLength": 1, "maxLength": 100},
        "id": {"type": ["string", "integer"], "description": "Echoed back with the line's features."},
    },
    "required": ["unit_price"],
    "additionalProperties": False,
}

LINE_OUT = {
    "type": "object",
    "properties": {
        "index": {"type": "integer"},
        "unit_price": {"type": "number"},
        "quantity": {"type": "number"},
        "is_free": {"type": "boolean"},
        "is_free_shipping": BOOL_OR_NULL,
        "shipping": NUMBER_OR_NULL,
        "shipping_share": NUMBER_OR_NULL,
        "item_total": {"type": "number"},
        "line_total": {"type": "number"},
        "list_price": NUMBER_OR_NULL,
        "discount_depth": NUMBER_OR_NULL,
        "is_discounted": BOOL_OR_NULL,
        "whole_units": {"type": "integer"},
        "cents": {"type": "integer"},
        "log_price": {"type": "number"},
        "left_digit": {"type": "integer"},
        "ends_99": {"type": "boolean"},
        "ends_95": {"type": "boolean"},
        "ends_9": {"type": "boolean"},
        "is_round": {"type": "boolean"},
        "category": {"type": ["string", "null"]},
        "interactions": {"type": "object", "additionalProperties": {"type": "integer"}},
        "id": {"type": ["string", "integer"]},
    },
    "required": ["index", "unit_price", "is_free", "is_free_shipping", "discount_depth", "interactions"],
}

PRICING_FEATURES = ToolSpec(
    name="pricing.features",
    title="Price features with the zero-price regime",
    description=(
        "Computes, for order or offer lines, the price features a model should see besides one continuous "
        "price: is_free (the price shows as 0.00, so 0.00 and 0.01 differ), is_free_shipping (shipping as "
        "its own component, null when unknown), shipping share, discount depth against a list price, "
        "price components (whole units, cents, log price, left digit), charm endings (.99, .95, ending in 9, "
        "round) and sparse is_free x category and is_free_shipping x category interactions. "
        f"At most {MAX_LINES:,} lines per call."
    ),
    input_schema={
        "type": "object",
        "properties": {"lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": LINE}},
        "required": ["lines"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "lines": {"type": "array", "items": LINE_OUT},
            "interaction_columns": {"type": "array", "items": {"type": "string"}},
            "summary": {
                "type": "object",
                "properties": {k: {"type": "integer"} for k in ("lines", "free", "shipping_known", "free_shipping", "discounted")},
                "required": ["lines", "free", "shipping_known", "free_shipping", "discounted"],
            },
        },
        "required": ["lines", "interaction_columns", "summary"],
    },
    annotations=READ_ONLY,
    handler=features,
    owning_team="analytics",
    required_scopes=("pricing:read",),
    risk_class="low",
    data_classification="internal",
)

OFFER = {
    "type": "object",
    "properties": {
        "price": {"type": "number", "minimum": 0},
        "converted": {"type": ["integer", "boolean"], "enum": [0, 1, True, False]},
        "shipping": {"type": "number", "minimum": 0},
        "customer": {"type": ["string", "integer"], "description": "Offers of one customer share their segment."},
    },
    "required": ["price", "converted"],
    "additionalProperties": False,
}

MODEL_OUT = {
    "type": "object",
    "properties": {
        "coefficients": {"type": "object", "additionalProperties": {"type": "number"}},
        "never_convert_share": {"type": "number"},
        "jump": NUMBER_OR_NULL,
        "brier": {"type": "number"},
        "ece": {"type": "number"},
        "log_likelihood": {"type": "number"},
        "converged": {"type": "boolean"},
        "dropped_columns": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["coefficients", "never_convert_share", "jump", "brier", "ece", "converged"],
}

PRICING_CONVERSION = ToolSpec(
    name="pricing.conversion",
    title="Conversion model with a zero-price regime and a never-convert segment",
    description=(
        "Fits two conversion models and reports both: a plain logistic baseline with price (and shipping) "
        "as continuous features, and a two-class mixture in which a fitted share of customers never converts "
        "and the rest convert with a logistic probability in log price, is_free, shipping and "
        "is_free_shipping. For each: coefficients, the jump in conversion between 0.00 and 0.01, Brier score "
        "and expected calibration error (10 bins), and the never-convert share. Give offers (price, "
        "converted, optional shipping and customer; calibration is then in-sample), or use the built-in "
        "simulation with a known jump and never-convert share (calibration on a held-out market, truth and "
        "fixed tolerances reported)."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "offers": {"type": "array", "minItems": 2, "maxItems": MAX_OFFERS, "items": OFFER},
            "use": {"const": "simulation"},
            "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0},
            "simulation": {
                "type": "object",
                "properties": {
                    "customers": {"type": "integer", "minimum": 100, "maximum": 4000, "default": 4000},
                    "offers_per_customer": {"type": "integer", "minimum": 1, "maximum": 5, "default": 5},
                    "never_convert_share": {"type": "number", "minimum": 0, "maximum": 0.9, "default": 0.3},
                    "free_lift": {"type": "number", "minimum": -3, "maximum": 3, "default": 1.0,
                                  "description": "The step at exactly 0.00, in probit units."},
                },
                "additionalProperties": False,
            },
        },
        "oneOf": [{"required": ["offers"]}, {"required": ["use"]}],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "source": {"enum": ["offers", "simulation"]},
            "offers": {"type": "integer"},
            "customers": {"type": "integer"},
            "calibration_sample": {"enum": ["in_sample", "held_out"]},
            "models": {
                "type": "object",
                "properties": {"baseline": MODEL_OUT, "zero_aware_mixture": MODEL_OUT},
                "required": ["baseline", "zero_aware_mixture"],
            },
            "truth": {
                "type": "object",
                "properties": {"never_convert_share": {"type": "number"}, "realised_never_convert_share": {"type": "number"},
                               "jump": {"type": "number"}},
            },
            "tolerances": {"type": "object", "additionalProperties": {"type": "number"}},
            "checks": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "scenario": {"type": "object"},
            "notes": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["source", "offers", "customers", "calibration_sample", "models"],
    },
    annotations=READ_ONLY,
    handler=conversion,
    owning_team="analytics",
    required_scopes=("pricing:read",),
    risk_class="low",
    data_classification="internal",
)

SPECS: tuple[ToolSpec, ...] = (PRICING_FEATURES, PRICING_CONVERSION)
