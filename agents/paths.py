"""A small path language over JSON values: ``items[0].id``, ``items[*].id``, ``forecast[-1].value``.

``[*]`` maps the rest of the path over every element and yields a list.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\*|-?\d+)\]")


class PathError(ValueError):
    """A path that does not fit the value it is applied to."""


def parse(path: str) -> list[str | int]:
    """The steps of a path: keys (str), indices (int) and ``"*"``. Raises :class:`PathError`."""
    steps: list[str | int] = []
    position = 0
    path = path.strip()
    while position < len(path):
        if path[position] == ".":
            position += 1
            continue
        match = _TOKEN.match(path, position)
        if match is None:
            raise PathError(f"cannot read path {path!r} at position {position}")
        key, index = match.groups()
        if key is not None:
            steps.append(key)
        elif index == "*":
            steps.append("*")
        else:
            steps.append(int(index))
        position = match.end()
    return steps


def resolve(value: Any, path: str) -> Any:
    """The value at ``path``. Raises :class:`PathError` if a key or index is missing."""
    return _walk(value, parse(path), path)


def _walk(value: Any, steps: list[str | int], path: str) -> Any:
    for position, step in enumerate(steps):
        if step == "*":
            if not isinstance(value, list):
                raise PathError(f"{path!r}: [*] needs a list")
            return [_walk(item, steps[position + 1 :], path) for item in value]
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                raise PathError(f"{path!r}: no index {step}")
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                raise PathError(f"{path!r}: no key {step!r}")
            value = value[step]
    return value
