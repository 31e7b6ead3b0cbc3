"""Every in-process tool this build ships, by name."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from tools.demo.specs import SPECS as DEMO_SPECS
from tools.forecasting.specs import SPECS as FORECASTING_SPECS
from tools.jobs.specs import SPECS as JOB_SPECS
from tools.kg.specs import SPECS as KG_SPECS
from tools.metrics.specs import SPECS as METRICS_SPECS
from tools.pricing.specs import SPECS as PRICING_SPECS
from tools.recsys.specs import SPECS as RECSYS_SPECS
from tools.spec import ToolSpec


def in_process_tools(extra_modules: Sequence[str] = ()) -> dict[str, ToolSpec]:
    """The shipped tools, plus those named by ``extra_modules`` ("module:ATTRIBUTE").

    Raises ``ValueError`` for an entry that does not name a sequence of ToolSpecs.
    """
    specs = [*DEMO_SPECS, *JOB_SPECS, *RECSYS_SPECS, *FORECASTING_SPECS, *KG_SPECS, *PRICING_SPECS, *METRICS_SPECS]
    for entry in extra_modules:
        module_name, _, attribute = entry.partition(":")
        found = getattr(importlib.import_module(module_name), attribute or "SPECS", None)
        if not isinstance(found, list | tuple) or not all(isinstance(spec, ToolSpec) for spec in found):
            raise ValueError(f"{entry!r} does not name a sequence of ToolSpecs")
        specs.extend(found)
    return {spec.name: spec for spec in specs}
