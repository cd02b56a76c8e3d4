"""The workers' use cases of :class:`~scrapejobs.manager.JobManager`: claim, renew, report,
release. Mixed into the manager, which supplies the store, the clock and ``_mutate``.

Each attempt runs under a lease: a claim gives every job it takes a new
``lease_token`` (``scrapejobs.leases``), known only to its claimer; a
heartbeat, a report or a release must carry it. A stale token (the lease
was reaped and the job claimed again, or it ended) is a ``LeaseLost`` that
changes nothing; a missing one is an ``InvalidRequest``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from scrapejobs import transitions
from scrapejobs.failures import Failure
from scrapejobs.jobs import Job
from scrapejobs.leases import check_report, new_lease_tokens
from scrapejobs.retry import RetryPolicy
from scrapejobs.site_manager import SiteManager
from scrapejobs.sites import SiteEffect, site_effect
from scrapejobs.store import Store
from scrapejobs.transitions import Change, JobEdit

__all__ = ["AttemptCases", "Step"]

# A step: given the job as read, the job to write and its events (or raise).
Step = Callable[[Job], Change]


class AttemptCases:
    """What a worker asks of the manager, one method per step of an attempt."""

    _store: Store
    policy: RetryPolicy
    lease_seconds: int
    clock: Callable[[], datetime]
    rng: random.Random
    sites: SiteManager

    async def get_job(self, job_id: str) -> Job:
        raise NotImplementedError

    async def _mutate(
        self, job_id: str, step: Step, *, job: Job | None = None, site_answered: bool = False
    ) -> Job:
        raise NotImplementedError

    def _lease_until(self, now: datetime, lease_seconds: int | None) -> datetime:
        return now + timedelta(seconds=lease_seconds or self.lease_seconds)

    async def claim_next(self, worker_id: str, *, lease_seconds: int | None = None) -> Job | None:
        """Give the next due job to ``worker_id`` with a lease, or None."""
        claimed = await self.claim_jobs(worker_id, 1, lease_seconds=lease_seconds)
        return claimed[0] if claimed else None

    async def claim_jobs(
        self, worker_id: str, limit: int, *, lease_seconds: int | None = None
    ) -> list[Job]:
        """Up to ``limit`` due jobs for ``worker_id`` (its free slots), in one statement,
        each with a new ``lease_token``: its claimer's alone."""
        now = self.clock()
        until, tokens = self._lease_until(now, lease_seconds), new_lease_tokens(limit)
        return await self._store.claim_jobs(
            worker_id, now=now, lease_until=until, lease_tokens=tokens
        )

    async def watch_work(self, event: asyncio.Event) -> None:
        """Set ``event`` when a job may have become due: a worker's cue to claim now."""
        await self._store.watch_work(event)

    def unwatch_work(self, event: asyncio.Event) -> None:
        self._store.unwatch_work(event)

    async def heartbeat(
        self,
        job_id: str,
        worker_id: str | None,
        *,
        lease_token: str | None,
        lease_seconds: int | None = None,
    ) -> Job:
        """Extend the lease of the running job that ``lease_token`` (its claim's) holds."""

        def step(job: Job) -> Change:
            now = self.clock()
            until = self._lease_until(now, lease_seconds)
            return transitions.heartbeat(job, lease_token, worker_id, now, until)

        return await self._mutate(job_id, step)

    async def complete_attempt(
        self,
        job_id: str,
        *,
        worker_id: str | None,
        lease_token: str | None,
        edit: JobEdit | None = None,
        note: str | None = None,
        job: Job | None = None,
    ) -> Job:
        """The attempt ``lease_token`` holds succeeded (``note``: what it did not cover,
        and why); its site answered, so its circuit closes. ``job``: the job as the
        caller last saw it (its claim), which saves a read when nothing changed it."""

        def step(job: Job) -> Change:
            return transitions.completed(job, worker_id, lease_token, self.clock(), edit, note)

        return await self._mutate(job_id, step, job=job, site_answered=True)

    async def fail_attempt(
        self,
        job_id: str,
        failure: Failure,
        *,
        worker_id: str | None,
        lease_token: str | None,
        edit: JobEdit | None = None,
    ) -> Job:
        """The attempt ``lease_token`` holds failed; the job's site learns of it first,
        for the fleet (``Site.attempt_ended``; never from a stale report), then the
        policy decides in one step. While the site holds its jobs back (a cooldown,
        an open circuit), the job waits."""
        job, site = None, None
        effect = site_effect(failure.recorded(), self.clock())
        if effect is SiteEffect.CHANGES:
            job = await self.get_job(job_id)
            check_report(job, lease_token, worker_id)
            site = await self.sites.attempt_ended(job.site, job.id, failure)

        def step(job: Job) -> Change:
            return transitions.failed(
                job,
                failure,
                worker_id,
                lease_token,
                self.clock(),
                policy=self.policy,
                rng=self.rng,
                edit=edit,
                site=site,
            )

        return await self._mutate(
            job_id, step, job=job, site_answered=effect is SiteEffect.ANSWERED
        )

    async def release(
        self,
        job_id: str,
        worker_id: str,
        *,
        lease_token: str | None,
        reason: str | None = None,
        seconds: float = 0,
    ) -> Job:
        """A worker gives its job back, no retry spent, due in ``seconds``: it is
        stopping, or its site is held back (``reason``)."""
        return await self._mutate(
            job_id,
            lambda job: transitions.released(
                job, worker_id, lease_token, self.clock(), reason, seconds
            ),
        )
