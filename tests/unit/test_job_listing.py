"""Listing jobs: sorting by a column, searching by id or URL, the "retries left" filter.

On the in-memory store here; ``tests/integration/test_job_listing.py`` runs
the same scenarios on SQLite and PostgreSQL, so the store sorts and searches
in the database exactly as the in-memory store does in Python.
"""

from __future__ import annotations

import pytest

from scrapejobs.jobs import Job, JobStatus, JobType
from scrapejobs.manager import JobManager
from scrapejobs.queries import NEWEST_FIRST, OLDEST_FIRST, JobFilter, JobOrder, SortKey, id_prefix
from scrapejobs.transitions import JobEdit
from tests.conftest import Clock
from tests.factories import failed_job, job_request, running_job


async def _create(manager: JobManager, clock: Clock, domain: str, **fields: object) -> Job:
    clock.advance(1)
    job, _ = await manager.create_job(job_request(domain=domain, **fields))
    return job


async def _ids(manager: JobManager, order: JobOrder, query: JobFilter | None = None) -> list[str]:
    found, _ = await manager.list_jobs(query or JobFilter(), limit=100, order=order)
    return [job.id for job in found]


# -- sorting ---------------------------------------------------------------------------


def test_sort_is_parsed_from_its_query_string_form() -> None:
    assert JobOrder.parse("created") == OLDEST_FIRST
    assert JobOrder.parse("-created") == NEWEST_FIRST
    assert JobOrder.parse("-priority") == JobOrder(SortKey.PRIORITY, descending=True)
    assert str(JobOrder(SortKey.RETRIES, descending=False)) == "retries"
    assert JobOrder.parse("domain").reversed() == JobOrder(SortKey.DOMAIN, descending=True)
    for bad in ("colour", "--created", "created_at", "id", "", "-", "priority;drop"):
        with pytest.raises(ValueError, match="Unknown sort"):
            JobOrder.parse(bad)


async def test_sorts_by_each_column_with_ties_newest_first(
    manager: JobManager, clock: Clock
) -> None:
    low = await _create(manager, clock, "b.example", priority=2)
    high = await _create(manager, clock, "c.example", priority=9)
    mid_old = await _create(manager, clock, "a.example", priority=5)
    mid_new = await _create(manager, clock, "a.example", priority=5)
    by_priority = await _ids(manager, JobOrder(SortKey.PRIORITY, descending=True))
    assert by_priority == [high.id, mid_new.id, mid_old.id, low.id]
    by_priority = await _ids(manager, JobOrder(SortKey.PRIORITY, descending=False))
    assert by_priority == [low.id, mid_new.id, mid_old.id, high.id]

    by_domain = await _ids(manager, JobOrder(SortKey.DOMAIN, descending=False))
    assert by_domain == [mid_new.id, mid_old.id, low.id, high.id]
    by_domain = await _ids(manager, JobOrder(SortKey.DOMAIN, descending=True))
    assert by_domain == [high.id, low.id, mid_new.id, mid_old.id]

    clock.advance(5)
    await manager.edit_job(low.id, JobEdit(priority=3))
    by_update = await _ids(manager, JobOrder(SortKey.UPDATED, descending=True))
    assert by_update == [low.id, mid_new.id, mid_old.id, high.id]
    by_update = await _ids(manager, JobOrder(SortKey.UPDATED, descending=False))
    assert by_update == [high.id, mid_old.id, mid_new.id, low.id]

    assert await _ids(manager, NEWEST_FIRST) == [mid_new.id, mid_old.id, high.id, low.id]
    assert await _ids(manager, OLDEST_FIRST) == [low.id, high.id, mid_old.id, mid_new.id]


async def test_sorts_by_retries_and_by_status_in_the_order_of_a_jobs_life(
    manager: JobManager, clock: Clock
) -> None:
    failed = await failed_job(manager, domain="f.example")
    clock.advance(1)
    retried = await failed_job(manager, domain="r.example")
    clock.advance(1)
    running = await running_job(manager, domain="run.example")
    await manager.retry_job(retried.id)
    pending = await _create(manager, clock, "p.example")
    cancelled = await manager.cancel_job((await _create(manager, clock, "x.example")).id)
    by_status = await _ids(manager, JobOrder(SortKey.STATUS, descending=False))
    assert by_status == [pending.id, retried.id, running.id, failed.id, cancelled.id]
    by_status = await _ids(manager, JobOrder(SortKey.STATUS, descending=True))
    assert by_status == [cancelled.id, failed.id, running.id, pending.id, retried.id]

    by_retries = await _ids(manager, JobOrder(SortKey.RETRIES, descending=True))
    assert by_retries[0] == retried.id
    assert by_retries[1:] == await _ids(manager, NEWEST_FIRST, JobFilter(ids=tuple(by_retries[1:])))


async def test_domains_sort_by_code_point_on_every_store(manager: JobManager, clock: Clock) -> None:
    # A locale's collation would ignore the dash and put ab.example first.
    names = ["b.example", "ab.example", "a-c.example", "a.example", "127.0.0.1:8081"]
    created = {name: (await _create(manager, clock, name)).id for name in names}
    found = await _ids(manager, JobOrder(SortKey.DOMAIN, descending=False))
    assert found == [created[name] for name in sorted(names)]
    assert sorted(names) == [
        "127.0.0.1:8081",
        "a-c.example",
        "a.example",
        "ab.example",
        "b.example",
    ]


async def test_pages_of_a_sorted_list_neither_repeat_nor_skip_a_job(
    manager: JobManager, clock: Clock
) -> None:
    for n in range(7):
        await _create(manager, clock, f"s{n % 2}.example", priority=1 + n % 3)
    for order in (JobOrder(SortKey.PRIORITY), JobOrder(SortKey.DOMAIN, descending=False)):
        whole = await _ids(manager, order)
        pages = []
        for offset in range(0, 7, 3):
            found = await manager.find_jobs(JobFilter(), limit=3, offset=offset, order=order)
            pages.extend(job.id for job in found)
        assert pages == whole and len(set(pages)) == 7


# -- searching --------------------------------------------------------------------------


def test_an_id_prefix_is_eight_to_36_hex_digits_and_dashes() -> None:
    assert id_prefix("3F1C2D4E") == "3f1c2d4e"
    assert id_prefix(" 3f1c2d4e-5a6b ") == "3f1c2d4e-5a6b"
    assert id_prefix("3f1c2d4") is None  # too short: would match too much
    assert id_prefix("shop.example") is None
    assert id_prefix("3f1c2d4e%") is None


async def test_search_finds_a_job_by_its_id_or_the_start_of_it(
    manager: JobManager, clock: Clock
) -> None:
    wanted = await _create(manager, clock, "a.example")
    await _create(manager, clock, "b.example")
    for text in (wanted.id, wanted.id.upper(), wanted.id[:8]):
        found, total = await manager.list_jobs(JobFilter(search=text))
        assert ([job.id for job in found], total) == ([wanted.id], 1), text
    assert await manager.list_jobs(JobFilter(search=wanted.id[:7])) == ([], 0)


async def test_search_matches_the_domain_or_start_url_case_insensitively(
    manager: JobManager, clock: Clock
) -> None:
    catalog = await _create(
        manager,
        clock,
        "shop.example",
        config={"startUrl": "https://www.Shop.example/Catalog/100%_off"},
    )
    plain = await _create(manager, clock, "catalog-tools.example")
    await _create(manager, clock, "other.example", config={"startUrl": "https://other.example/x"})
    for text, expected in [
        ("CATALOG", {catalog.id, plain.id}),
        ("www.shop", {catalog.id}),
        ("100%_off", {catalog.id}),
        ("100%", {catalog.id}),
        ("0_o", set()),  # _ is a character, not LIKE's any-one-character
        ("%", {catalog.id}),
        ("tools", {plain.id}),
        ("nowhere", set()),
    ]:
        query = JobFilter(search=text)
        found, total = await manager.list_jobs(query)
        assert ({job.id for job in found}, total) == (expected, len(expected)), text
        counts = await manager.count_by_status(query)
        assert counts[JobStatus.PENDING] == len(expected), text


async def test_search_combines_with_the_other_filters(manager: JobManager, clock: Clock) -> None:
    failed = await failed_job(manager, domain="shop.example")
    await _create(manager, clock, "shop.example", job_type="page_scrape")
    query = JobFilter(search="shop", status=JobStatus.FAILED)
    assert [job.id for job in (await manager.list_jobs(query))[0]] == [failed.id]
    query = JobFilter(search="shop", job_type=JobType.PAGE_SCRAPE)
    assert (await manager.list_jobs(query))[1] == 1


# -- retries left, and retrying the failed jobs of any filter ------------------------------


async def test_retries_left_tells_retryable_failed_jobs_from_exhausted_ones(
    manager: JobManager,
) -> None:
    retryable = await failed_job(manager, domain="a.example")
    exhausted = await failed_job(manager, domain="a.example", max_retries=0)
    query = JobFilter(status=JobStatus.FAILED)
    assert await manager.count_jobs(query) == 2
    found, total = await manager.list_jobs(JobFilter(status=JobStatus.FAILED, retries_left=True))
    assert ([job.id for job in found], total) == ([retryable.id], 1)
    found, total = await manager.list_jobs(JobFilter(status=JobStatus.FAILED, retries_left=False))
    assert ([job.id for job in found], total) == ([exhausted.id], 1)


async def test_retry_failed_takes_the_failed_jobs_of_a_filter_oldest_first(
    manager: JobManager, clock: Clock
) -> None:
    first = await failed_job(manager, domain="shop.example")
    clock.advance(1)
    worn = await failed_job(manager, domain="shop.example", max_retries=0)
    await failed_job(manager, domain="other.example")
    await manager.create_job(job_request(domain="shop.example"))  # pending: not taken
    results = await manager.retry_failed(JobFilter(search="shop"), limit=1000, actor="dashboard")
    assert [(r.jobId, r.success) for r in results] == [(first.id, True), (worn.id, False)]
    assert results[1].message.startswith("Job has exceeded maximum retry attempts")
    retried = await manager.get_job(first.id)
    assert retried.status is JobStatus.PENDING
    assert retried.last_retry is not None and retried.last_retry.retried_by == "dashboard"
