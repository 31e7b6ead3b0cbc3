"""``metrics.prune`` and ``metrics.power``: the metrics tool as governed ToolSpecs."""

from __future__ import annotations

import asyncio
from typing import Any

from tools.metrics import asos, power
from tools.metrics.errors import DataUnavailable, InvalidMetrics, InvalidPowerRequest
from tools.metrics.prune import DEFAULT_THRESHOLD, InvalidMatrix, Pruning, prune
from tools.spec import ToolContext, ToolSpec

MAX_METRICS = 200
MAX_OBSERVATIONS = 10_000
MAX_N_METRICS = 1_000
MAX_SIMULATIONS = 20_000
# Simulated p-values per call: about 0.4 s of CPU on this kind of machine.
MAX_SIMULATED_VALUES = 10_000_000
READ_ONLY = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}


def _pruning_answer(result: Pruning) -> dict[str, Any]:
    names = result.metrics
    return {
        "metrics": names,
        "observations": result.observations,
        "method": result.method,
        "threshold": result.threshold,
        "correlation": {a: {b: round(float(result.correlation[i, j]), 4) for j, b in enumerate(names)}
                        for i, a in enumerate(names)},
        "groups": result.groups,
        "kept": result.kept,
        "dropped": {name: {"represented_by": why.by, "r": round(why.r, 4), "reason": why.reason}
                    for name, why in result.dropped.items()},
        "pca": {"explained_variance": [round(v, 6) for v in result.explained_variance],
                "components_for_95": result.components_95},
        "notes": result.notes,
    }


def _prune(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    options = {
        "threshold": float(arguments.get("threshold", DEFAULT_THRESHOLD)),
        "target": arguments.get("target"),
        "method": arguments.get("method", "pearson"),
    }
    if arguments.get("dataset") == "asos":
        try:
            effects = asos.load(ctx.data_dir)
        except asos.AsosDataMissing as exc:
            raise DataUnavailable(f"the ASOS experiments data is not available: {exc}") from exc
        answer = _pruning_answer(prune(effects.as_lists(), **options))
        answer["source"] = "asos"
        answer["dataset"] = {
            "name": "ASOS Digital Experiments Dataset (Liu et al. 2021, CC BY 4.0)",
            "experiments": effects.experiments,
            "effect": "Welch z of treatment minus control at each variant's final checkpoint; one observation per variant",
            "excluded": [{"experiment": e, "variant": v, "reason": why} for e, v, why in effects.excluded],
        }
        answer["notes"].append("ASOS publishes only 4 metrics: this is a real correlation structure at small scale, "
                               "not the 50-metric setting pruning is meant for")
        return answer
    return {**_pruning_answer(prune(arguments["metrics"], **options)), "source": "given"}


async def prune_metrics(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(_prune, arguments, ctx)
    except InvalidMatrix as exc:
        raise InvalidMetrics(str(exc)) from exc


def _power(arguments: dict[str, Any]) -> dict[str, Any]:
    m = int(arguments["n_metrics"])
    effect_z = float(arguments["effect_z"])
    alpha = float(arguments.get("alpha", 0.05))
    choice = arguments.get("correction", "both")
    corrections = power.CORRECTIONS if choice == "both" else (choice,)
    simulations = int(arguments.get("simulations", 5_000))
    seed = int(arguments.get("seed", 0))
    counts = [m] + ([int(arguments["compare_to"])] if "compare_to" in arguments else [])
    if simulations * sum(counts) > MAX_SIMULATED_VALUES:
        raise InvalidPowerRequest(f"simulations x metrics must stay within {MAX_SIMULATED_VALUES:,}; simulate less")
    results: list[dict[str, Any]] = []
    for count in counts:
        simulated = power.simulate(count, effect_z, alpha, simulations, seed) if simulations else {}
        for correction in corrections:
            sim = simulated.get(correction)
            results.append({
                "correction": correction,
                "n_metrics": count,
                "analytic": power.power(count, effect_z, alpha, correction),
                "simulated": sim.power if sim else None,
                "simulated_se": sim.standard_error if sim else None,
            })
    gains: list[dict[str, Any]] = []
    if len(counts) == 2:
        for correction in corrections:
            before, after = (next(r for r in results if r["correction"] == correction and r["n_metrics"] == c) for c in counts)
            simulated_gain = (power.relative_gain(before["simulated"], after["simulated"])
                              if before["simulated"] is not None else None)
            gains.append({"correction": correction, "from_metrics": counts[0], "to_metrics": counts[1],
                          "analytic": power.relative_gain(before["analytic"], after["analytic"]),
                          "simulated": simulated_gain})
    return {"effect_z": effect_z, "alpha": alpha, "sides": 2, "simulations": simulations, "seed": seed,
            "results": results, "gains": gains}


async def power_of_metrics(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(_power, arguments)
    except ValueError as exc:
        raise InvalidPowerRequest(str(exc)) from exc


METRICS_PRUNE = ToolSpec(
    name="metrics.prune",
    title="Prune correlated A/B metrics",
    description=(
        "Given per-experiment metric effects (or daily metric series) as a matrix, finds groups of metrics "
        "whose every pair has |r| at or above a threshold (complete linkage on 1 - |r|), keeps one "
        "representative per group (the target metric when it is in the group, else the most central member) "
        "and says what each dropped metric is represented by and why; also the number of principal components "
        "for 95% of the variance. Give metrics (name -> list of values, the same observations for all), or "
        "dataset \"asos\" for the shipped ASOS Digital Experiments Dataset (4 metrics, z-scores per variant)."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "metrics": {
                "type": "object",
                "minProperties": 2,
                "maxProperties": MAX_METRICS,
                "propertyNames": {"minLength": 1, "maxLength": 100},
                "additionalProperties": {"type": "array", "minItems": 3, "maxItems": MAX_OBSERVATIONS,
                                         "items": {"type": "number"}},
            },
            "dataset": {"enum": ["asos"]},
            "threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": DEFAULT_THRESHOLD},
            "target": {"type": "string", "minLength": 1, "maxLength": 100,
                       "description": "A metric that must be kept (for example the decision metric)."},
            "method": {"enum": ["pearson", "spearman"], "default": "pearson"},
        },
        "oneOf": [{"required": ["metrics"]}, {"required": ["dataset"]}],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "source": {"enum": ["given", "asos"]},
            "metrics": {"type": "array", "items": {"type": "string"}},
            "observations": {"type": "integer"},
            "method": {"enum": ["pearson", "spearman"]},
            "threshold": {"type": "number"},
            "correlation": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "number"}}},
            "groups": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
            "kept": {"type": "array", "items": {"type": "string"}},
            "dropped": {"type": "object", "additionalProperties": {
                "type": "object",
                "properties": {"represented_by": {"type": "string"}, "r": {"type": "number"}, "reason": {"type": "string"}},
                "required": ["represented_by", "r", "reason"],
            }},
            "pca": {"type": "object", "properties": {
                "explained_variance": {"type": "array", "items": {"type": "number"}},
                "components_for_95": {"type": "integer"},
            }, "required": ["explained_variance", "components_for_95"]},
            "notes": {"type": "array", "items": {"type": "string"}},
            "dataset": {"type": "object"},
        },
        "required": ["source", "metrics", "observations", "correlation", "groups", "kept", "dropped", "pca"],
    },
    annotations=READ_ONLY,
    handler=prune_metrics,
    owning_team="analytics",
    required_scopes=("metrics:read",),
    risk_class="low",
    data_classification="internal",
)

POWER_ROW = {
    "type": "object",
    "properties": {
        "correction": {"enum": ["bonferroni", "bh"]},
        "n_metrics": {"type": "integer"},
        "analytic": {"type": "number"},
        "simulated": {"type": ["number", "null"]},
        "simulated_se": {"type": ["number", "null"]},
    },
    "required": ["correction", "n_metrics", "analytic", "simulated", "simulated_se"],
}

METRICS_POWER = ToolSpec(
    name="metrics.power",
    title="Detection power under Bonferroni and Benjamini-Hochberg",
    description=(
        "The probability of detecting one true effect (its z-statistic is N(effect_z, 1)) among n_metrics "
        "two-sided tests at family level alpha, the other metrics being independent nulls, under Bonferroni "
        "and Benjamini-Hochberg: exact, and by simulation with a fixed seed. With compare_to, also the power "
        "at that number of metrics and the relative gain (for example 50 metrics pruned to 15)."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "n_metrics": {"type": "integer", "minimum": 1, "maximum": MAX_N_METRICS},
            "effect_z": {"type": "number", "minimum": 0, "maximum": 20},
            "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5, "default": 0.05},
            "correction": {"enum": ["bonferroni", "bh", "both"], "default": "both"},
            "simulations": {"type": "integer", "minimum": 0, "maximum": MAX_SIMULATIONS, "default": 5_000},
            "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0},
            "compare_to": {"type": "integer", "minimum": 1, "maximum": MAX_N_METRICS},
        },
        "required": ["n_metrics", "effect_z"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {
            "effect_z": {"type": "number"},
            "alpha": {"type": "number"},
            "sides": {"const": 2},
            "simulations": {"type": "integer"},
            "seed": {"type": "integer"},
            "results": {"type": "array", "items": POWER_ROW},
            "gains": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "correction": {"enum": ["bonferroni", "bh"]},
                    "from_metrics": {"type": "integer"},
                    "to_metrics": {"type": "integer"},
                    "analytic": {"type": ["number", "null"]},
                    "simulated": {"type": ["number", "null"]},
                },
                "required": ["correction", "from_metrics", "to_metrics", "analytic", "simulated"],
            }},
        },
        "required": ["effect_z", "alpha", "sides", "simulations", "seed", "results", "gains"],
    },
    annotations=READ_ONLY,
    handler=power_of_metrics,
    owning_team="analytics",
    required_scopes=("metrics:read",),
    risk_class="low",
    data_classification="internal",
)

SPECS: tuple[ToolSpec, ...] = (METRICS_PRUNE, METRICS_POWER)
