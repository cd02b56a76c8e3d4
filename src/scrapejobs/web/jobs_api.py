"""``/api/scrape-jobs``: the jobs API of CONTRACT section 6. Thin: validate, call the manager."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field, StrictStr, StringConstraints, field_validator
from starlette.convertors import StringConvertor, register_url_convertor

from scrapejobs.access import Caller, Role
from scrapejobs.audit import AuditAction
from scrapejobs.errors import InvalidRequest, JobConflict, StorageUnavailable
from scrapejobs.failures import FailurePattern
from scrapejobs.jobs import Job, JobStatus, JobType, normalize_domain, timestamp
from scrapejobs.json_schemas import Documented
from scrapejobs.manager import JobManager, retry_message
from scrapejobs.queries import NEWEST_FIRST, JobFilter, JobOrder, SortKey
from scrapejobs.retention import Retention
from scrapejobs.schemas import (
    DOMAIN_DOCUMENTED,
    BulkRetryRequest,
    ClaimRequest,
    HeartbeatRequest,
    JobCreate,
    JobUpdate,
    PruneRequest,
    RetryRequest,
    StrictModel,
    Text,
)
from scrapejobs.web.auth import Admin, Operator, Worker, allow
from scrapejobs.web.envelope import failure, success
from scrapejobs.web.recorder import Audit
from scrapejobs.web.serialize import claim_json, job_json, page_json, site_state_json

__all__ = ["router"]

router = APIRouter(
    prefix="/api/scrape-jobs", tags=["jobs"], dependencies=[Depends(allow(Role.VIEWER))]
)


class JobIdConvertor(StringConvertor):
    """A ``{job_id}`` segment that is not one of the collection's own routes, so that
    ``GET /api/scrape-jobs/next`` is a 405 (``Allow: POST``), not a lookup of job "next"."""

    regex = "(?!(?:activity|next|prune|retry|stats)(?:/|$))[^/]+"


register_url_convertor("job_id", JobIdConvertor())


def get_manager(request: Request) -> JobManager:
    manager: JobManager = request.app.state.manager
    return manager


Manager = Annotated[JobManager, Depends(get_manager)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$"),
]


class DomainQuery(StrictModel):
    domain: Annotated[StrictStr, Field(max_length=300), DOMAIN_DOCUMENTED] | None = None
    job_type: JobType | None = None

    @field_validator("domain")
    @classmethod
    def _normal_domain(cls, value: str | None) -> str | None:
        return normalize_domain(value) if value is not None else None


SORTS = [prefix + key.value for key in SortKey for prefix in ("", "-")]


class ListQuery(DomainQuery):
    status: JobStatus | None = None
    failure_pattern: FailurePattern | None = None
    search: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    sort: Annotated[StrictStr, Field(max_length=40), Documented(enum=SORTS)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0

    @field_validator("sort")
    @classmethod
    def _known_sort(cls, value: str | None) -> str | None:
        return str(JobOrder.parse(value)) if value is not None else None

    @property
    def order(self) -> JobOrder:
        return JobOrder.parse(self.sort) if self.sort else NEWEST_FIRST


@router.post("", status_code=201, summary="Create a job")
async def create_job(
    manager: Manager,
    caller: Operator,
    audit: Audit,
    body: JobCreate,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    job, created = await manager.create_job(
        body, idempotency_key=idempotency_key, actor=caller.name
    )
    if created:
        await audit.job(AuditAction.JOB_CREATE, None, job)
        return success(job_json(job), "Job created", status_code=201)
    return success(job_json(job), "Job already exists for this Idempotency-Key")


@router.get("", summary="List jobs, newest first (or by ?sort=)")
async def list_jobs(manager: Manager, query: Annotated[ListQuery, Query()]) -> JSONResponse:
    found, total = await manager.list_jobs(
        JobFilter(
            status=query.status,
            domain=query.domain,
            job_type=query.job_type,
            failure_pattern=query.failure_pattern,
            search=query.search or None,
        ),
        limit=query.limit,
        offset=query.offset,
        order=query.order,
    )
    pagination = {"total": total, "limit": query.limit, "offset": query.offset}
    return success([job_json(job) for job in found], pagination=pagination)


class StatsQuery(DomainQuery):
    since: datetime | None = None
    """ISO 8601; a date or a time without an offset is UTC."""

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        except OverflowError as exc:
            raise ValueError("since is out of range") from exc


@router.get("/stats", summary="Retry analytics: the seed's retryMetrics and failure analysis")
async def stats(manager: Manager, query: Annotated[StatsQuery, Query()]) -> JSONResponse:
    """Over the jobs created since ``since``; every metric is defined in docs/analytics.md."""
    report = await manager.insights.stats(
        domain=query.domain, since=query.since, job_type=query.job_type
    )
    return success(report)


@router.post("/next", summary="Claim the next due job (workers)")
async def claim_next(
    manager: Manager, _caller: Worker, body: Annotated[ClaimRequest | None, Body()] = None
) -> JSONResponse:
    body = body or ClaimRequest()
    worker_id = body.workerId or f"worker-{uuid.uuid4().hex[:12]}"
    job = await manager.claim_next(worker_id, lease_seconds=body.leaseSeconds)
    if job is None:
        return success(None, "No job is due")
    return success(claim_json(job), f"Job claimed by {worker_id}")


@router.post("/retry", summary="Retry the failed jobs that match (bulk)")
async def bulk_retry(
    manager: Manager, caller: Operator, audit: Audit, body: BulkRetryRequest
) -> JSONResponse:
    results = await manager.bulk_retry(body, actor=caller.name)
    retried = sum(result.success for result in results)
    done = [result.jobId for result in results if result.success]
    scope = body.model_dump(mode="json", exclude_none=True)
    await audit(AuditAction.JOBS_BULK_RETRY, after={"request": scope, "retried": done})
    data: list[dict[str, Any]] = [
        {
            "jobId": result.jobId,
            "success": result.success,
            "message": result.message,
            **({"retry_count": result.job.retry_count} if result.job else {}),
        }
        for result in results
    ]
    return success(data, f"Retried {retried} of {len(results)} matching failed jobs")


@router.post("/prune", summary="Delete ended jobs, with their pages and events, older than given")
async def prune(manager: Manager, _caller: Admin, audit: Audit, body: PruneRequest) -> JSONResponse:
    statuses = tuple(JobStatus(status) for status in body.status or ())
    retention = Retention.parse(body.olderThan, statuses)
    done = await manager.prune(retention, dry_run=body.dryRun)
    if done is None:
        raise JobConflict("Another process is pruning now; try again")
    if not body.dryRun:
        scope = {"olderThan": body.olderThan, "statuses": [s.value for s in retention.statuses]}
        await audit(AuditAction.JOBS_PRUNE, after={**scope, "deleted": done})
    data = {
        "deleted": 0 if body.dryRun else done,
        "matched": done,
        "before": timestamp(retention.cutoff(manager.clock())),
        "statuses": [status.value for status in retention.statuses],
        "dryRun": body.dryRun,
    }
    verb = "Would delete" if body.dryRun else "Deleted"
    return success(data, f"{verb} {done} ended jobs unchanged for {body.olderThan}")


@router.get("/{job_id:job_id}", summary="One job with its attempt history and its site's state")
async def get_job(manager: Manager, job_id: str) -> JSONResponse:
    job = await manager.get_job(job_id)
    attempts = await manager.get_attempts(job.id)
    body = job_json(job, attempts, await manager.results.pages_crawled(job))
    site = await manager.sites.state(job.site)
    body["site_state"] = site_state_json(site, manager.clock()) if site else None
    return success(body)


class ResultsQuery(StrictModel):
    format: Literal["json", "jsonl"] = "json"


@router.get("/{job_id:job_id}/results", summary="The pages the job's latest attempt crawled")
async def results(
    manager: Manager, job_id: str, query: Annotated[ResultsQuery, Query()]
) -> StreamingResponse:
    """Streamed: ``json`` in the envelope, or ``jsonl`` with one page per line."""
    job = await manager.get_job(job_id)
    lines = (json.dumps(page_json(row)) async for row in manager.results.iter_pages(job))
    if query.format == "jsonl":
        body = (line + "\n" async for line in lines)
        return StreamingResponse(body, media_type="application/x-ndjson")
    return StreamingResponse(_json_envelope(lines), media_type="application/json")


async def _json_envelope(items: AsyncIterator[str]) -> AsyncIterator[str]:
    yield '{"success": true, "data": ['
    separator = ""
    async for item in items:
        yield separator + item
        separator = ","
    yield "]}"


async def _dispatch(manager: JobManager, caller: Caller, job_id: str, body: JobUpdate) -> Job:
    """A PATCH is an edit, a cancel (operators), or a report of an attempt's outcome
    (workers; with edits, operators)."""
    edit = body.edit()
    caller.require(Role.WORKER if body.is_report and not edit.details() else Role.OPERATOR)
    if body.status is None:
        return await manager.edit_job(job_id, edit, actor=caller.name)
    if body.status == "cancelled":
        return await manager.cancel_job(job_id, actor=caller.name, edit=edit)
    if body.status == "completed":
        return await manager.complete_attempt(
            job_id, worker_id=body.workerId, lease_token=body.leaseToken, edit=edit, note=body.note
        )
    if body.status == "failed":
        return await manager.fail_attempt(
            job_id, body.failure(), worker_id=body.workerId, lease_token=body.leaseToken, edit=edit
        )
    raise InvalidRequest(
        f"status cannot be set to '{body.status}'",
        "a job becomes pending only through POST /api/scrape-jobs/{id}/retry, "
        "and running only when a worker claims it",
    )


@router.patch("/{job_id:job_id}", summary="Edit, cancel, or report an attempt's outcome")
async def update_job(
    manager: Manager,
    caller: Worker,
    audit: Audit,
    job_id: str,
    body: JobUpdate,
) -> JSONResponse:
    """Reports are the job's own history (its events); edits and cancels are audited."""
    before = None if body.is_report else await manager.get_job(job_id)
    job = await _dispatch(manager, caller, job_id, body)
    if before is not None:
        cancelled = body.status == "cancelled"
        await audit.job(AuditAction.JOB_CANCEL if cancelled else AuditAction.JOB_EDIT, before, job)
    message = "Job updated"
    if body.status == "failed" and job.status is JobStatus.PENDING:
        message = f"Job failed; {retry_message(job).lower()}"
    return success(job_json(job), message)


@router.delete("/{job_id:job_id}", summary="Delete a job that is not running")
async def delete_job(manager: Manager, _caller: Admin, audit: Audit, job_id: str) -> JSONResponse:
    job = await manager.delete_job(job_id)
    await audit.job(AuditAction.JOB_DELETE, job, None)
    return success({"id": job.id}, "Job deleted")


@router.post("/{job_id:job_id}/retry", summary="Retry a failed job (the seed's endpoint)")
async def retry_job(
    manager: Manager,
    caller: Operator,
    audit: Audit,
    job_id: str,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> JSONResponse:
    delay = body.delaySeconds if body else 0
    try:
        before = await manager.get_job(job_id)
        job = await manager.retry_job(job_id, actor=caller.name, delay_seconds=delay)
    except StorageUnavailable:
        return failure(500, "Failed to retry scrape job", "Unable to update job status in database")
    await audit.job(AuditAction.JOB_RETRY, before, job)
    return success(job_json(job), retry_message(job))


@router.post("/{job_id:job_id}/heartbeat", summary="Extend a worker's lease")
async def heartbeat(
    manager: Manager, _caller: Worker, job_id: str, body: HeartbeatRequest
) -> JSONResponse:
    job = await manager.heartbeat(
        job_id, body.workerId, lease_token=body.leaseToken, lease_seconds=body.leaseSeconds
    )
    return success(job_json(job), "Lease extended")
