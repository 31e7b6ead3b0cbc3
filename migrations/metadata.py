"""Imports every model module so that ``Base.metadata`` knows every table."""

from __future__ import annotations


def load_models() -> None:
    import core.audit
    import core.jobs  # noqa: F401
    import registry.models  # noqa: F401
    import tools.kg.models  # noqa: F401
