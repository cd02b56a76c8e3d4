"""The running service: store, manager, lease reaper, pruner (with ``--retention``) and
(optionally) workers, as one unit.

``scrapejobs serve`` wraps it around the HTTP app; ``scrapejobs worker``
runs it alone. Shutting it down stops the workers first (they finish or
release their jobs), then the reaper, then closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from scrapejobs.errors import StorageUnavailable
from scrapejobs.manager import JobManager
from scrapejobs.retention import Retention
from scrapejobs.settings import Settings
from scrapejobs.storage import SqlStore, migrate

__all__ = ["open_store", "running_service"]

log = logging.getLogger(__name__)


async def open_store(settings: Settings) -> SqlStore:
    """Open the database; migrate SQLite on start, check PostgreSQL's revision."""
    store = SqlStore.from_url(settings.database_url)
    try:
        if settings.is_sqlite:
            await migrate.upgrade(store.engine)
        else:
            await migrate.check_schema(store.engine)
    except BaseException:
        await store.close()
        raise
    return store


async def reap_leases_forever(manager: JobManager, interval: float) -> None:
    """Fail jobs whose worker stopped renewing its lease, every ``interval`` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            for job in await manager.reap_expired_leases():
                log.warning("job %s: lease expired, worker lost (now %s)", job.id, job.status)
        except StorageUnavailable as exc:
            log.error("lease reaper: %s (%s)", exc.message, exc.details)


async def prune_forever(manager: JobManager, retention: Retention, interval: float) -> None:
    """Delete the jobs ``retention`` selects, every ``interval`` seconds; a process
    that finds another one pruning leaves it to that one this time."""
    while True:
        await asyncio.sleep(interval)
        try:
            deleted = await manager.prune(retention)
        except StorageUnavailable as exc:
            log.error("pruner: %s (%s)", exc.message, exc.details)
            continue
        if deleted:
            log.info("pruner: deleted %d jobs unchanged for %s", deleted, retention.older_than)


@asynccontextmanager
async def _working(manager: JobManager, settings: Settings, workers: int) -> AsyncIterator[None]:
    """Embedded workers; on exit they finish or release their jobs."""
    from scrapejobs.crawler import AddressPolicy, Crawler
    from scrapejobs.worker import Worker

    crawler = Crawler(policy=AddressPolicy(allow_private_networks=settings.allow_private_networks))
    worker = Worker(
        manager,
        crawler,
        concurrency=workers,
        min_concurrency=min(settings.min_workers, workers),
        shutdown_grace=settings.shutdown_grace,
        site_sync_interval=settings.site_sync_interval,
    )
    running = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        worker.stop()
        await running
        await crawler.close()


@asynccontextmanager
async def running_service(settings: Settings, *, workers: int) -> AsyncIterator[JobManager]:
    """Everything but HTTP, running until the block ends."""
    store = await open_store(settings)
    manager = JobManager(
        store, settings.policy, lease_seconds=settings.lease_seconds, breaker=settings.breaker
    )
    background = [asyncio.create_task(reap_leases_forever(manager, settings.reap_interval))]
    if settings.retention is not None:
        retention = Retention(settings.retention)
        background.append(
            asyncio.create_task(prune_forever(manager, retention, settings.prune_interval))
        )
    try:
        if workers:
            async with _working(manager, settings, workers):
                yield manager
        else:
            yield manager
    finally:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.close()
