"""``jobs.status`` and ``jobs.result``: governed tools over the caller's own long-running jobs."""

from __future__ import annotations

from typing import Any

from core.errors import NotFound, PolicyDenied, TollhouseError
from core.jobs import Job, JobRepository, as_dict
from tools.spec import ToolContext, ToolSpec

AUDITOR = "auditor"
JOB_INPUT = {
    "type": "object",
    "properties": {"job_id": {"type": "string", "minLength": 36, "maxLength": 36, "description": "The job reference a long-running call returned."}},
    "required": ["job_id"],
    "additionalProperties": False,
}


async def _own_job(arguments: dict[str, Any], ctx: ToolContext) -> Job:
    if ctx.sessionmaker is None:
        raise TollhouseError("the job store is not available here", code="jobs_unavailable", status=503)
    async with ctx.sessionmaker() as session:
        job = await JobRepository(session).get(arguments["job_id"])
    if job is None:
        raise NotFound(f"no job {arguments['job_id']!r}", code="job_not_found")
    if job.user != ctx.user and AUDITOR not in ctx.roles:
        # Only the user who started a job (or an auditor) may see it.
        raise PolicyDenied("this job belongs to another user", layer="job_owner")
    return job


async def status(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    return as_dict(await _own_job(arguments, ctx))


async def result(arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    return as_dict(await _own_job(arguments, ctx), with_result=True)


JOB_OUTPUT = {
    "type": "object",
    "properties": {
        "job_id": {"type": "string"}, "tool": {"type": "string"}, "status": {"type": "string"},
        "attempts": {"type": "integer"}, "error": {"type": ["string", "null"]},
    },
    "required": ["job_id", "status"],
}

JOBS_STATUS = ToolSpec(
    name="jobs.status",
    title="Status of a job",
    description="Returns the status of one of your long-running jobs (queued, running, succeeded or failed).",
    input_schema=JOB_INPUT,
    output_schema=JOB_OUTPUT,
    annotations={"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
    handler=status,
    owning_team="platform-tools",
    required_scopes=("mcp:use",),
    data_classification="internal",
)
JOBS_RESULT = ToolSpec(
    name="jobs.result",
    title="Result of a job",
    description="Returns the result of one of your finished long-running jobs, or its error.",
    input_schema=JOB_INPUT,
    output_schema={**JOB_OUTPUT, "properties": {**JOB_OUTPUT["properties"], "result": {}}},  # type: ignore[dict-item]
    annotations={"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False},
    handler=result,
    owning_team="platform-tools",
    required_scopes=("mcp:use",),
    data_classification="internal",
)
SPECS: tuple[ToolSpec, ...] = (JOBS_STATUS, JOBS_RESULT)
