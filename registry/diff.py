"""Field-by-field diff of two tool manifests, for reviewers.

The point is to make a changed string the model reads (a tool or parameter
description, an enum value, a default) impossible to overlook: such changes
are flagged with ``describes_model_text`` and marked with ``!`` when rendered.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from registry.pinning import WIRE_FIELDS

__all__ = [
    "ChangeKind",
    "FieldChange",
    "diff_manifests",
    "render_diff",
]

ChangeKind = Literal["added", "removed", "changed"]
Segment = str | int

# Keyword whose string value the model reads when it sits in a schema position.
_TEXT_KEYWORDS: Final[frozenset[str]] = frozenset({"description", "title"})
# Keywords whose whole value (any element, any depth) is shown to the model.
_VALUE_KEYWORDS: Final[frozenset[str]] = frozenset({"enum", "examples", "default", "const"})
# Keywords mapping names to subschemas: the next segment is a name, not a keyword.
_NAMED_SCHEMA_KEYWORDS: Final[frozenset[str]] = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
# Keywords holding an array of subschemas.
_SCHEMA_LIST_KEYWORDS: Final[frozenset[str]] = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
# Keywords holding one subschema (``items`` may also be an array in old drafts).
_SCHEMA_KEYWORDS: Final[frozenset[str]] = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "unevaluatedItems",
        "unevaluatedProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
    }
)
_SCHEMA_FIELDS: Final[frozenset[str]] = frozenset({"inputSchema", "outputSchema"})
_PLAIN_KEY: Final[re.Pattern[str]] = re.compile(r"[A-Za-z0-9_$@\-]+")
_MAX_VALUE_CHARS: Final[int] = 120


@dataclass(frozen=True)
class FieldChange:
    path: str
    """Dotted path, array items as ``[i]``: ``"inputSchema.properties.a.description"``."""
    change: ChangeKind
    old: Any
    """``None`` when added."""
    new: Any
    """``None`` when removed."""
    describes_model_text: bool
    """True when the change touches a string the model reads (see :func:`diff_manifests`)."""


def _schema_is_model_text(segments: Sequence[Segment]) -> bool:
    """Whether a path inside a JSON Schema ends at (or under) model-read text."""
    i = 0
    n = len(segments)
    while i < n:
        keyword = segments[i]
        if not isinstance(keyword, str):
            return False
        last = i == n - 1
        if keyword in _TEXT_KEYWORDS:
            return last
        if keyword in _VALUE_KEYWORDS:
            return True
        if keyword in _NAMED_SCHEMA_KEYWORDS or keyword in _SCHEMA_LIST_KEYWORDS:
            # Skip the name or index; what follows is a subschema again.
            i += 2
            continue
        if keyword in _SCHEMA_KEYWORDS:
            if not last and isinstance(segments[i + 1], int):
                i += 2
            else:
                i += 1
            continue
        return False
    return False


def _is_model_text_path(segments: Sequence[Segment]) -> bool:
    # Platform metadata never reaches the model, whatever its keys are called.
    if not segments or segments[0] not in WIRE_FIELDS:
        return False
    head, rest = segments[0], segments[1:]
    if head in _TEXT_KEYWORDS:
        return not rest
    if head == "annotations":
        return list(rest) == ["title"]
    if head in _SCHEMA_FIELDS:
        return _schema_is_model_text(rest)
    return False


def _leaf_paths(value: Any, prefix: tuple[Segment, ...]) -> list[tuple[Segment, ...]]:
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _leaf_paths(v, (*prefix, str(k)))]
    if _is_list(value):
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, (*prefix, i))]
    return [prefix]


def _touches_model_text(segments: tuple[Segment, ...], *values: Any) -> bool:
    # An added or removed subtree (a whole new parameter, say) is flagged when
    # any string inside it is one the model reads.
    if _is_model_text_path(segments):
        return True
    return any(
        _is_model_text_path(leaf) for value in values for leaf in _leaf_paths(value, segments)
    )


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def _same_leaf(a: Any, b: Any) -> bool:
    # True == 1 in Python but not in JSON; 1 == 1.0 in both (JCS writes both as 1).
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _render_path(segments: Sequence[Segment]) -> str:
    out: list[str] = []
    for seg in segments:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        elif _PLAIN_KEY.fullmatch(seg):
            out.append(f".{seg}" if out else seg)
        else:
            # Dots, brackets, spaces, control or look-alike characters in a key
            # must neither fake another path nor break the one-line rendering.
            out.append(f"[{json.dumps(seg, ensure_ascii=True)}]")
    return "".join(out)


def _sort_key(segments: tuple[Segment, ...]) -> tuple[tuple[int, Any], ...]:
    return tuple((1, s) if isinstance(s, int) else (0, s) for s in segments)


def _walk(
    old: Any,
    new: Any,
    segments: tuple[Segment, ...],
    out: list[tuple[tuple[Segment, ...], FieldChange]],
) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        old_keys = {str(k): k for k in old}
        new_keys = {str(k): k for k in new}
        for key in sorted(old_keys.keys() | new_keys.keys()):
            child = (*segments, key)
            if key not in new_keys:
                _emit_at(child, "removed", old[old_keys[key]], None, out)
            elif key not in old_keys:
                _emit_at(child, "added", None, new[new_keys[key]], out)
            else:
                _walk(old[old_keys[key]], new[new_keys[key]], child, out)
        return
    if _is_list(old) and _is_list(new):
        for i in range(max(len(old), len(new))):
            child = (*segments, i)
            if i >= len(new):
                _emit_at(child, "removed", old[i], None, out)
            elif i >= len(old):
                _emit_at(child, "added", None, new[i], out)
            else:
                _walk(old[i], new[i], child, out)
        return
    # Here at most one side is a container, so a container means the JSON type changed.
    one_is_container = any(isinstance(v, Mapping) or _is_list(v) for v in (old, new))
    if one_is_container or not _same_leaf(old, new):
        _emit_at(segments, "changed", old, new, out)


def _emit_at(
    segments: tuple[Segment, ...],
    change: ChangeKind,
    old: Any,
    new: Any,
    out: list[tuple[tuple[Segment, ...], FieldChange]],
) -> None:
    out.append(
        (
            segments,
            FieldChange(
                path=_render_path(segments),
                change=change,
                old=copy.deepcopy(old),
                new=copy.deepcopy(new),
                describes_model_text=_touches_model_text(segments, old, new),
            ),
        )
    )


def diff_manifests(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    """Every difference between two manifests, one :class:`FieldChange` per path.

    Mappings are compared key by key and recursively; a key on one side only is
    one ``added``/``removed`` change carrying the whole value. Lists are
    compared index by index, extra items being ``added``/``removed`` at ``[i]``.
    A value whose JSON type changes (object to string, say) is one ``changed``.
    Numbers compare as JSON does (``1 == 1.0``) but booleans never equal numbers.
    Results are sorted by path, array indices numerically.

    ``describes_model_text`` is set when the path lies in a wire field and
    ends at a ``description`` or ``title`` (of the tool, of ``annotations``, or
    of any schema or subschema), or lies in an ``enum``, ``examples``,
    ``default`` or ``const`` value, or when an added, removed or replaced
    subtree contains such a path. Property names called ``description`` or
    ``title`` are names, not text, and are not flagged by themselves.

    Raises nothing.
    """
    out: list[tuple[tuple[Segment, ...], FieldChange]] = []
    _walk(old, new, (), out)
    out.sort(key=lambda item: _sort_key(item[0]))
    return [change for _, change in out]


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        return text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


def render_diff(changes: Sequence[FieldChange]) -> str:
    """Plain text, one line per change; ``"no changes"`` when there are none.

    ``~ path: old -> new``, ``+ path: value``, ``- path: value``; values are
    ``repr()`` cut to 120 characters, which also escapes newlines and invisible
    characters. A change to model-read text has ``!`` in place of the space
    after its sign (``~!path: ...``).

    Raises nothing.
    """
    if not changes:
        return "no changes"
    lines: list[str] = []
    for c in changes:
        mark = "!" if c.describes_model_text else " "
        if c.change == "added":
            lines.append(f"+{mark}{c.path}: {_show(c.new)}")
        elif c.change == "removed":
            lines.append(f"-{mark}{c.path}: {_show(c.old)}")
        else:
            lines.append(f"~{mark}{c.path}: {_show(c.old)} -> {_show(c.new)}")
    return "\n".join(lines)
