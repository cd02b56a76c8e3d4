"""Workers: claim jobs (one claim fills every free slot), crawl each, store its pages, report;
renew the leases meanwhile.

The same :class:`Worker` runs embedded in ``scrapejobs serve --workers N``
and alone in ``scrapejobs worker --concurrency N``; both claim straight from
the database through the :class:`~scrapejobs.manager.JobManager`.

What happens to a job the worker holds:

* the crawl ends          -> report ``completed`` (or ``failed`` with the
  crawler's classified failure; the retry policy decides in the same step);
* its site is held back   -> (paused, or cooling down for longer than a crawl
  waits: ``SiteHeld``) the job is released, due when the site opens, no
  retry spent; cooldowns heard here and the fleet's sites are kept in step
  by :class:`~scrapejobs.site_sync.SiteSync`;
* the lease is lost       -> (job cancelled, or reaped after a stall and maybe
  claimed again, even by this worker) the heartbeat (its lease token is
  stale) or a page write says so: the heartbeat stops, the crawl is
  cancelled and nothing is reported or released, the job already moved on;
* the worker is stopped   -> it stops claiming, gives running crawls
  ``shutdown_grace`` seconds, then cancels them and releases their jobs
  (``pending`` again, no retry spent);
* the worker is killed    -> nothing runs here any more: the lease expires
  and the reaper of any server or worker fails the job as ``worker_lost``.

Database faults while reporting are retried until the lease would expire;
after that the reaper takes over, so no job is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from scrapejobs.autoscale import Autoscaler
from scrapejobs.crawler import Crawler, CrawlFailed, CrawlSpec, Page, SiteHeld
from scrapejobs.errors import JobConflict, JobNotFound, StorageUnavailable
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import Job
from scrapejobs.load_meter import measure_load
from scrapejobs.manager import JobManager
from scrapejobs.metrics import (
    CLAIM_LATENCY,
    CRAWL_DURATION,
    PAGES_FETCHED,
    WORKER_ATTEMPTS,
    WORKER_SLOTS,
)
from scrapejobs.site_sync import SiteSync

__all__ = ["Worker", "default_worker_id"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(eq=False)
class _Run:
    """A job this worker is crawling, and why its crawl was cancelled (if it was)."""

    job: Job
    started: float = field(default_factory=time.monotonic)
    crawl: asyncio.Task[Any] | None = None
    cancelled_because: str | None = None
    stop_heartbeat: asyncio.Event = field(default_factory=asyncio.Event)


class Worker:
    """Runs up to ``concurrency`` jobs at a time until :meth:`stop`; with a
    ``min_concurrency`` under it, the pool sizes itself between the two
    (``scrapejobs.autoscale``), looking every ``autoscale_interval`` seconds."""

    def __init__(
        self,
        manager: JobManager,
        crawler: Crawler,
        *,
        concurrency: int = 2,
        min_concurrency: int | None = None,
        autoscale_interval: float = 2.0,
        worker_id: str | None = None,
        poll_interval: float = 0.5,
        shutdown_grace: float = 10.0,
        site_sync_interval: float = 1.0,
    ) -> None:
        self.manager = manager
        self.crawler = crawler
        self.concurrency = concurrency
        self.pool = Autoscaler(minimum=min_concurrency or concurrency, maximum=concurrency)
        self.autoscale_interval = autoscale_interval
        self.worker_id = worker_id or default_worker_id()
        self.poll_interval = poll_interval
        self.shutdown_grace = shutdown_grace
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        """Set when a slot frees or the worker stops: the claim loop looks again."""
        self._runs: set[_Run] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.sites = SiteSync(
            manager, crawler.gate, interval=site_sync_interval, worker_id=self.worker_id
        )

    @property
    def heartbeat_interval(self) -> float:
        return max(0.2, self.manager.lease_seconds / 3)

    def stop(self) -> None:
        """Stop claiming; :meth:`run` then finishes or releases what it holds and returns."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        syncing = asyncio.create_task(self.sites.run(self._sites))
        scaling = asyncio.create_task(self._autoscale())
        try:
            await self._claim_forever()
        finally:
            self.manager.unwatch_work(self._wake)
            scaling.cancel()
            await asyncio.gather(scaling, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.shutdown_grace)
        for run in list(self._runs):
            self._cancel(run, "shutdown")
        await asyncio.gather(*self._tasks, return_exceptions=True)
        syncing.cancel()
        await asyncio.gather(syncing, return_exceptions=True)
        await self.sites.close()

    def _sites(self) -> set[str]:
        """The sites of the jobs this worker runs."""
        return {run.job.site for run in self._runs}

    async def _claim_forever(self) -> None:
        """Fill the free slots with one claim each time (``claim_jobs``); then wait for a
        slot to free, or, with slots free and nothing due, for a new job (``watch_work``:
        at once on PostgreSQL and within one process) or the next poll, with a backoff."""
        idle = self.poll_interval
        while not self._stopping.is_set():
            await self._watch()
            self._wake.clear()
            free = self.pool.target - len(self._tasks)
            claimed = await self._claim(free) if free else []
            for job in claimed:
                self._start(job)
            if claimed:
                idle = self.poll_interval
                if len(claimed) == free:
                    continue  # every slot busy: the next turn waits for one to free
            full = len(self._tasks) >= self.pool.target
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), None if full else idle)
            if not full and not claimed:
                idle = min(idle * 2, 5 * self.poll_interval)

    async def _autoscale(self) -> None:
        """Resize the pool to what the process can take (when it may change at all)."""
        WORKER_SLOTS.set(self.pool.target)
        while self.pool.minimum < self.pool.maximum:
            load = await measure_load(self.autoscale_interval)
            before = self.pool.target
            WORKER_SLOTS.set(self.pool.adjust(load, running=len(self._tasks)))
            if self.pool.target > before:
                self._wake.set()  # new slots: claim for them now

    async def _watch(self) -> None:
        """Be woken by new work (again, if the listener was lost); polling covers faults."""
        try:
            await self.manager.watch_work(self._wake)
        except StorageUnavailable as exc:
            log.error("worker %s: cannot watch for jobs: %s", self.worker_id, exc.details)

    async def _claim(self, free: int) -> list[Job]:
        try:
            return await self.manager.claim_jobs(self.worker_id, free)
        except StorageUnavailable as exc:
            log.error("worker %s: cannot claim: %s", self.worker_id, exc.details)
            return []

    def _start(self, job: Job) -> None:
        if job.started_at is not None:
            CLAIM_LATENCY.observe(max(0.0, (job.started_at - job.scheduled_at).total_seconds()))
        task = asyncio.create_task(self._run_job(job))
        self._tasks.add(task)
        task.add_done_callback(self._slot_freed)

    def _slot_freed(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _run_job(self, job: Job) -> None:
        run = _Run(job)
        self._runs.add(run)
        heartbeat = asyncio.create_task(self._heartbeat(run))
        try:
            await self.sites.join(job.site, self._sites())
            run.crawl = asyncio.create_task(self._crawl(run))
            await asyncio.wait({run.crawl})
            await self._finish(run)
        finally:
            run.stop_heartbeat.set()
            await heartbeat
            self._runs.discard(run)

    async def _crawl(self, run: _Run) -> str | None:
        """The crawl; its note (what it did not cover, and why)."""
        spec = CrawlSpec(run.job.job_type.value, run.job.domain, run.job.config)

        async def store(pages: list[Page]) -> None:
            rows = [page.as_dict() for page in pages]
            PAGES_FETCHED.inc(len(rows))
            await self._persist(
                lambda: self.manager.results.record_pages(run.job, self.worker_id, rows)
            )

        summary = await self.crawler.crawl(spec, store)
        return summary.note

    async def _finish(self, run: _Run) -> None:
        assert run.crawl is not None
        job, crawl = run.job, run.crawl
        elapsed = time.monotonic() - run.started
        error = None if crawl.cancelled() else crawl.exception()
        if isinstance(error, SiteHeld):
            CRAWL_DURATION.labels("released").observe(elapsed)
            seconds = 0.0 if math.isinf(error.seconds) else error.seconds
            token, reason = job.lease_token, str(error)
            released = self.manager.release(
                job.id, self.worker_id, lease_token=token, reason=reason, seconds=seconds
            )
            await self._quietly(released)
            log.info("worker %s: released job %s: %s", self.worker_id, job.id, error)
            return
        if crawl.cancelled() or isinstance(error, JobConflict | JobNotFound):
            # Lost the lease (cancelled, reaped, or while storing pages), or stopping.
            CRAWL_DURATION.labels("cancelled").observe(elapsed)
            if run.cancelled_because == "shutdown":
                released = self.manager.release(job.id, self.worker_id, lease_token=job.lease_token)
                await self._quietly(released)
                log.info("worker %s: released job %s", self.worker_id, job.id)
            return
        failure = None if error is None else _failure_of(error)
        outcome = "completed" if failure is None else "failed"
        labels = ("", "") if failure is None else (failure.error_type.value, failure.pattern.value)
        WORKER_ATTEMPTS.labels(outcome, *labels).inc()
        CRAWL_DURATION.labels(outcome).observe(elapsed)
        note = crawl.result() if failure is None else None
        await self._quietly(self._persist(lambda: self._report(job, failure, note)))

    def _report(self, job: Job, failure: Failure | None, note: str | None) -> Awaitable[Job]:
        """The attempt's outcome: one manager call, the crawler's Failure passed as it is."""
        if failure is None:
            return self.manager.complete_attempt(
                job.id, worker_id=self.worker_id, lease_token=job.lease_token, note=note, job=job
            )
        return self.manager.fail_attempt(
            job.id, failure, worker_id=self.worker_id, lease_token=job.lease_token
        )

    async def _heartbeat(self, run: _Run) -> None:
        """Renew the lease; when it is gone (cancelled, reaped), cancel the crawl."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.stop_heartbeat.wait(), self.heartbeat_interval)
                return
            try:
                run.job = await self.manager.heartbeat(
                    run.job.id, self.worker_id, lease_token=run.job.lease_token
                )
            except (JobConflict, JobNotFound):
                log.warning("worker %s: lost the lease on job %s", self.worker_id, run.job.id)
                self._cancel(run, "lease lost")
                return
            except StorageUnavailable as exc:
                log.error("worker %s: heartbeat failed: %s", self.worker_id, exc.details)

    def _cancel(self, run: _Run, reason: str) -> None:
        if run.crawl is not None and not run.crawl.done():
            run.cancelled_because = run.cancelled_because or reason
            run.crawl.cancel()

    async def _persist(self, write: Callable[[], Awaitable[T]]) -> T:
        """Retry a write while the database is unavailable, for about one lease."""
        delay, waited = 0.2, 0.0
        while True:
            try:
                return await write()
            except StorageUnavailable:
                if waited >= self.manager.lease_seconds:
                    raise
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)

    async def _quietly(self, write: Awaitable[Any]) -> None:
        """A report that cannot land is left to the lease reaper; the job is not lost."""
        try:
            await write
        except (JobConflict, JobNotFound) as exc:
            log.warning("worker %s: report refused: %s", self.worker_id, exc.message)
        except StorageUnavailable as exc:
            log.error("worker %s: report failed, lease will expire: %s", self.worker_id, exc)


def _failure_of(error: BaseException) -> Failure:
    """The crawler's classified failure; anything else is a bug, still a failed attempt."""
    if isinstance(error, CrawlFailed):
        return error.failure
    log.error("crawl raised %r", error, exc_info=error)
    return Failure(ErrorType.UNKNOWN, f"{type(error).__name__}: {error}")
