"""The README's configuration table names every setting there is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from core.settings import Settings


def _env_names(model: type[BaseModel], prefix: str = "TOLLHOUSE_") -> Iterator[str]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            yield f"{prefix}{name.upper()}"


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [name for name in _env_names(Settings) if f"| `{name}` |" not in readme]
    assert missing == []
