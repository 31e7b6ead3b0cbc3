"""The digest that pins an approval to one exact tool definition as the model sees it.

Only what goes on the wire is hashed, so platform metadata (owners, scopes,
rate limits) can change without invalidating an approval, while any change to
text or schema the model reads does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from core.canonical import DIGEST_PREFIX, NotCanonicalJson, canonical_json, digest

__all__ = [
    "DIGEST_PREFIX",
    "WIRE_FIELDS",
    "NotCanonicalJson",
    "canonical_json",
    "pinned_digest",
    "wire_object",
]

WIRE_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
)


def wire_object(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The MCP tool object exactly as sent on the wire.

    Holds the :data:`WIRE_FIELDS` present in ``manifest`` and nothing else.
    Absent fields are omitted rather than sent as null; a field whose value is
    ``None`` counts as absent, so "no title" has one representation and one
    digest. Values are deep-copied so the result can be handed out safely.

    Raises nothing.
    """
    return {
        field: copy.deepcopy(manifest[field])
        for field in WIRE_FIELDS
        if field in manifest and manifest[field] is not None
    }


def pinned_digest(manifest: Mapping[str, Any]) -> str:
    """``"sha256:" + hex`` of the canonical JSON of :func:`wire_object` of ``manifest``.

    Raises:
        NotCanonicalJson: a wire field holds a value JCS cannot represent.
    """
    return digest(wire_object(manifest))
