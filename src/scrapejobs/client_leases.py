"""The worker's calls of ``scrapejobs.Client``: claim a job, renew its lease, report it.

Mixed into :class:`~scrapejobs.client.Client`, which supplies ``_call``. A
claim's answer carries ``leaseToken``; every heartbeat and report for that
job must send it back. When the lease is gone (the job was cancelled, or
reaped and claimed again) the server answers 409 and the call raises
:class:`~scrapejobs.client_errors.LeaseLostError`: stop working on that job
at once, and do not report it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["LeaseCalls", "given"]

JOBS = "/api/scrape-jobs"
Job = dict[str, Any]


def given(**fields: Any) -> dict[str, Any]:
    """The fields that were given (not None), for request bodies and queries."""
    return {key: value for key, value in fields.items() if value is not None}


class LeaseCalls:
    """``claim_next``, ``heartbeat``, ``complete``, ``fail``: what a worker sends."""

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def claim_next(
        self, *, worker_id: str | None = None, lease_seconds: int | None = None
    ) -> Job | None:
        """The next due job with its ``leaseToken``, now held by this caller; None if none."""
        body = given(workerId=worker_id, leaseSeconds=lease_seconds)
        data: Job | None = self._call("POST", f"{JOBS}/next", json=body)["data"]
        return data

    def heartbeat(
        self,
        job_id: str,
        lease_token: str,
        *,
        worker_id: str | None = None,
        lease_seconds: int | None = None,
    ) -> Job:
        """Renew the lease; LeaseLostError when it is gone."""
        body = given(leaseToken=lease_token, workerId=worker_id, leaseSeconds=lease_seconds)
        data: Job = self._call("POST", f"{_path(job_id)}/heartbeat", json=body)["data"]
        return data

    def complete(
        self,
        job_id: str,
        lease_token: str,
        *,
        worker_id: str | None = None,
        note: str | None = None,
    ) -> Job:
        """Report the attempt succeeded (``note``: what it did not cover, and why)."""
        body = given(status="completed", leaseToken=lease_token, workerId=worker_id, note=note)
        return self._report(job_id, body)

    def fail(
        self,
        job_id: str,
        lease_token: str,
        error_message: str,
        *,
        error_type: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        worker_id: str | None = None,
    ) -> Job:
        """Report the attempt failed; the server classifies it and its retry policy decides."""
        body = given(
            status="failed",
            leaseToken=lease_token,
            error_message=error_message,
            errorType=error_type,
            httpStatus=http_status,
            retryAfter=retry_after,
            workerId=worker_id,
        )
        return self._report(job_id, body)

    def _report(self, job_id: str, body: dict[str, Any]) -> Job:
        data: Job = self._call("PATCH", _path(job_id), json=body)["data"]
        return data


def _path(job_id: str) -> str:
    return f"{JOBS}/{quote(job_id, safe='')}"
