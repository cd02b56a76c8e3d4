"""Results: the pages a job's attempts crawled, stored as the crawl goes and read back.

``JobManager.results`` is one; it shares the job manager's store. A job's
results are its latest attempt's pages; earlier attempts' pages stay stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from scrapejobs.errors import LeaseLost
from scrapejobs.jobs import Job
from scrapejobs.store import Store

__all__ = ["Results"]


class Results:
    """The crawled pages' use cases; adapters (the worker, the API) call only these."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record_pages(
        self, job: Job, worker_id: str, pages: Sequence[Mapping[str, Any]]
    ) -> None:
        """Store pages of the attempt ``worker_id`` is running; LeaseLost if it no longer is."""
        if not await self._store.add_pages(job.id, worker_id, job.attempts, pages):
            raise LeaseLost("Worker does not hold the lease on this job", {"jobId": job.id})

    async def pages_crawled(self, job: Job) -> int:
        """Pages stored by the job's latest attempt (so far, while it runs)."""
        return await self._store.page_count(job.id, job.attempts)

    async def first_pages(self, job: Job, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` pages of the job's latest attempt, in crawl order."""
        return await self._store.pages_after(job.id, job.attempts, 0, limit=limit)

    async def iter_pages(self, job: Job, *, chunk: int = 500) -> AsyncIterator[dict[str, Any]]:
        """The latest attempt's pages in crawl order, read in chunks."""
        after = 0
        while rows := await self._store.pages_after(job.id, job.attempts, after, limit=chunk):
            for row in rows:
                yield row
            after = rows[-1]["id"]
