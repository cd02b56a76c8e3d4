"""The circuit breaker scenarios of ``tests/unit/test_breaker.py``, on SQLite and PostgreSQL."""

import asyncio

from scrapejobs.manager import JobManager
from scrapejobs.sites import Breaker
from scrapejobs.storage.store import SqlStore
from tests.conftest import Clock
from tests.factories import job_request
from tests.unit.test_breaker import *  # noqa: F403
from tests.unit.test_breaker import REFUSED, SITE


async def test_concurrent_claims_on_a_half_open_site_start_one_probe(database_url: str) -> None:
    """8 workers, each with its own engine, claim at once from a half-open site: one
    gets the probe, the others nothing; three rounds (a failed probe reopens it)."""
    clock = Clock()
    stores = [SqlStore.from_url(database_url) for _ in range(8)]
    managers = [JobManager(store, clock=clock, breaker=Breaker(threshold=1)) for store in stores]
    try:
        for _ in range(20):
            await managers[0].create_job(job_request(domain=SITE))
        first = await managers[0].claim_next("w0")
        assert first is not None
        await managers[0].fail_attempt(
            first.id, REFUSED, worker_id="w0", lease_token=first.lease_token
        )
        for _ in range(3):
            clock.advance(3600)
            claimed = await asyncio.gather(*(m.claim_next(f"w{n}") for n, m in enumerate(managers)))
            probes = [job for job in claimed if job is not None]
            assert len(probes) == 1
            probe = probes[0]
            await managers[0].fail_attempt(
                probe.id, REFUSED, worker_id=probe.worker_id, lease_token=probe.lease_token
            )
    finally:
        for store in stores:
            await store.close()
