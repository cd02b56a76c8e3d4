"""``scrapejobs.Client``: a running server's HTTP API, for Python programs and the CLI.

Sync, over httpx; plain dicts in and out, with the API's own field names
(``docs/api.md``). Only this module touches httpx: its errors, and the
server's error envelopes, become one tree of exceptions
(``scrapejobs.client_errors``, re-exported here): ``message`` is the server's
``error`` word for word, ``details`` its ``details``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from scrapejobs.client_errors import (
    ClientError,
    JobNotFoundError,
    LeaseLostError,
    RequestRejectedError,
    RetryLimitExceededError,
    RetryNotAllowedError,
    ServerError,
    ServerUnavailableError,
    error_for,
)
from scrapejobs.client_leases import LeaseCalls, given

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_SERVER",
    "FINAL_STATUSES",
    "Client",
    "ClientError",
    "JobList",
    "JobNotFoundError",
    "LeaseLostError",
    "RequestRejectedError",
    "RetryLimitExceededError",
    "RetryNotAllowedError",
    "ServerError",
    "ServerUnavailableError",
]

DEFAULT_SERVER = "http://localhost:3000"
SERVER_ENV = "SCRAPEJOBS_SERVER"
API_KEY_ENV = "SCRAPEJOBS_API_KEY"
JOBS = "/api/scrape-jobs"
SITES = "/api/domains"
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
"""A job in one of these states changes no more on its own (``wait_for`` stops there)."""

Job = dict[str, Any]


def _reason(exc: httpx.TransportError) -> str:
    """A short why, e.g. ``connection refused`` or ``timed out``."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _envelope(response: httpx.Response) -> dict[str, Any]:
    """The parsed body of an answer, or the exception it stands for."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "success" not in body:
        kind = response.headers.get("content-type", "no content type")
        raise ServerError(
            f"unexpected answer from the server: HTTP {response.status_code} ({kind})",
            response.status_code,
        )
    if body["success"] is not True or response.is_error:
        error = str(body.get("error") or f"HTTP {response.status_code}")
        raise error_for(response.status_code, error, body.get("details"))
    return body


def server_url(server: str | None = None) -> str:
    """``server``, else ``$SCRAPEJOBS_SERVER``, else the default; ``http://`` when bare."""
    url = (server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER).strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"server must be an http(s) URL, got {server!r}")
    return url


@dataclass(frozen=True, slots=True)
class JobList:
    """One page of ``GET /api/scrape-jobs``: the jobs, newest first, and where they sit."""

    jobs: list[Job]
    total: int
    limit: int
    offset: int


class Client(LeaseCalls):
    """A running scrapejobs server's API. Use it as a context manager, or call :meth:`close`.

    ``server`` defaults to ``$SCRAPEJOBS_SERVER``, else ``http://localhost:3000``;
    ``api_key`` (a token of ``scrapejobs keys create``) to ``$SCRAPEJOBS_API_KEY``.
    Every method raises a :class:`ClientError` subclass when the request fails. A
    worker's calls (claim, heartbeat, report, with the lease token) are ``LeaseCalls``.
    """

    def __init__(
        self, server: str | None = None, *, api_key: str | None = None, timeout: float = 30.0
    ) -> None:
        self.server = server_url(server)
        token = api_key or os.environ.get(API_KEY_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._http = httpx.Client(base_url=self.server, timeout=timeout, headers=headers)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- jobs ----------------------------------------------------------------

    def create_job(
        self,
        domain: str,
        *,
        job_type: str | None = None,
        priority: int | None = None,
        max_retries: int | None = None,
        config: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Create a job (``config``: depth, maxPages, timeout... in the API's spelling)."""
        body = given(
            domain=domain,
            job_type=job_type,
            priority=priority,
            max_retries=max_retries,
            config=dict(config) if config is not None else None,
            metadata=dict(metadata) if metadata is not None else None,
        )
        headers = given(**{"Idempotency-Key": idempotency_key})
        data: Job = self._call("POST", JOBS, json=body, headers=headers)["data"]
        return data

    def get_job(self, job_id: str) -> Job:
        """One job, with ``attempts`` (its history) and ``pages_crawled``."""
        data: Job = self._call("GET", _job_path(job_id))["data"]
        return data

    def list_jobs(
        self,
        *,
        status: str | None = None,
        domain: str | None = None,
        job_type: str | None = None,
        failure_pattern: str | None = None,
        search: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> JobList:
        """One page of jobs, newest first unless ``sort`` says (``priority``, ``-updated``);
        ``search``: a job id or its start, or text in the domain or startUrl. The
        server's default limit is 50."""
        params = given(
            status=status,
            domain=domain,
            job_type=job_type,
            failure_pattern=failure_pattern,
            search=search,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        body = self._call("GET", JOBS, params=params)
        page = body.get("pagination") or {}
        jobs: list[Job] = body["data"]
        return JobList(
            jobs, page.get("total", len(jobs)), page.get("limit", 0), page.get("offset", 0)
        )

    def cancel_job(self, job_id: str) -> Job:
        """Stop a pending or running job (``status: cancelled``)."""
        data: Job = self._call("PATCH", _job_path(job_id), json={"status": "cancelled"})["data"]
        return data

    def delete_job(self, job_id: str) -> None:
        """Delete a job that is not running, with its history and pages."""
        self._call("DELETE", _job_path(job_id))

    # -- retries -------------------------------------------------------------

    def retry_job(self, job_id: str, *, delay_seconds: float | None = None) -> Job:
        """The seed's ``scrapeJobManager.retryJob(jobId)``: a failed job back to ``pending``.

        Raises :class:`RetryNotAllowedError` when the job is not failed and
        :class:`RetryLimitExceededError` when it used all its retries.
        """
        body = given(delaySeconds=float(delay_seconds) if delay_seconds is not None else None)
        path = _job_path(job_id) + "/retry"
        data: Job = self._call("POST", path, json=body or None)["data"]
        return data

    def bulk_retry(
        self,
        *,
        domain: str | None = None,
        failure_pattern: str | None = None,
        error_contains: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
        delay_seconds: float | None = None,
    ) -> list[dict[str, Any]]:
        """Retry the failed jobs that match; one ``{jobId, success, message}`` per job."""
        body = given(
            domain=domain,
            failurePattern=failure_pattern,
            errorContains=error_contains,
            ids=list(ids) if ids is not None else None,
            limit=limit,
            delaySeconds=float(delay_seconds) if delay_seconds is not None else None,
        )
        data: list[dict[str, Any]] = self._call("POST", JOBS + "/retry", json=body)["data"]
        return data

    def prune(
        self, older_than: str, *, statuses: Sequence[str] | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Delete the ended jobs unchanged for ``older_than`` (``30d``), with their pages
        and events; ``{deleted, matched, before, statuses, dryRun}``."""
        body = given(olderThan=older_than, status=list(statuses) if statuses else None)
        data: dict[str, Any] = self._call("POST", JOBS + "/prune", json=body | {"dryRun": dry_run})[
            "data"
        ]
        return data

    # -- analytics and results -----------------------------------------------

    def stats(
        self, *, domain: str | None = None, since: str | None = None, job_type: str | None = None
    ) -> dict[str, Any]:
        """The retry metrics and failure analysis of ``GET /api/scrape-jobs/stats``."""
        params = given(domain=domain, since=since, job_type=job_type)
        data: dict[str, Any] = self._call("GET", JOBS + "/stats", params=params)["data"]
        return data

    # -- sites -------------------------------------------------------------

    def list_sites(
        self, *, state: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> list[dict[str, Any]]:
        """Sites by name (``GET /api/domains``), each with its state and jobs by status."""
        params = given(state=state, limit=limit, offset=offset)
        sites: list[dict[str, Any]] = self._call("GET", SITES, params=params)["data"]
        return sites

    def site(
        self,
        site: str,
        *,
        paused: bool | None = None,
        resume: bool = False,
        limits: Mapping[str, float | int | None] | None = None,
    ) -> Job:
        """One site; ``paused`` pauses or unpauses it, ``resume`` ends its pause,
        cooldown and open circuit, ``limits`` sets its fleet-wide
        ``maxRequestsPerSecond`` / ``maxConcurrentRequests`` (None removes one)."""
        path = f"{SITES}/{quote(site, safe=':[]')}"
        if resume:
            data: Job = self._call("POST", f"{path}/resume")["data"]
        elif paused is not None or limits:
            body = {**(limits or {}), **({} if paused is None else {"paused": paused})}
            data = self._call("PATCH", path, json=body)["data"]
        else:
            data = self._call("GET", path)["data"]
        return data

    def iter_results(self, job_id: str) -> Iterator[dict[str, Any]]:
        """The pages of the job's latest attempt, streamed one at a time."""
        path = _job_path(job_id) + "/results"
        with self._stream("GET", path, params={"format": "jsonl"}) as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)

    def wait_for(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 0.5,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll the job until it is completed, failed or cancelled; return it then.

        Automatic retries happen on the way (a job that failed and was
        retried is ``pending`` again, never ``failed``). ``on_update`` sees
        every poll. Raises :class:`TimeoutError` after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if on_update is not None:
                on_update(job)
            if job["status"] in FINAL_STATUSES:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']} after {timeout} s")
            time.sleep(poll_interval)

    # -- transport -----------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc
        return _envelope(response)

    @contextmanager
    def _stream(
        self, method: str, path: str, *, params: Mapping[str, Any]
    ) -> Iterator[Iterator[str]]:
        """The lines of a streamed answer; errors raised as for :meth:`_call`."""
        try:
            with self._http.stream(method, path, params=params) as response:
                if response.is_error:
                    response.read()
                    _envelope(response)
                yield response.iter_lines()
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: httpx.TransportError) -> ServerUnavailableError:
        return ServerUnavailableError(
            f"cannot reach scrapejobs server at {self.server} ({_reason(exc)})"
        )


def _job_path(job_id: str) -> str:
    return f"{JOBS}/{quote(job_id, safe='')}"
