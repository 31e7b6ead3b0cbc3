"""Plain factory functions for test data."""

from __future__ import annotations

import copy
from typing import Any


def manifest(
    name: str = "acme.lookup",
    *,
    team: str = "platform-tools",
    risk: str = "low",
    classification: str = "internal",
    description: str = "Looks up an order by its id.",
    scopes: tuple[str, ...] = ("orders:read",),
) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "name": name,
            "title": "Order lookup",
            "description": description,
            "inputSchema": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string", "description": "The order's id."},
                    "fields": {
                        "type": "array",
                        "items": {"type": "string", "enum": ["status", "total", "lines"]},
                    },
                },
                "required": ["order_id"],
            },
            "outputSchema": {"type": "object", "properties": {"status": {"type": "string"}}},
            "annotations": {"readOnlyHint": True},
            "platform": {
                "owning_team": team,
                "required_scopes": list(scopes),
                "risk_class": risk,
                "data_classification": classification,
                "egress": False,
                "runs": {"kind": "upstream", "url": "http://127.0.0.1:9/mcp"},
            },
        }
    )
