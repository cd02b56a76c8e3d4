"""The dashboard's activity in real Chromium, against a real ``scrapejobs serve`` on SQLite.

One server for the module, with no workers; the tests act as workers
themselves: they claim through the API (``POST /api/scrape-jobs/next``),
report through it (``PATCH``), and store pages as a worker does, through a
JobManager on the same database. Throughput and queue latency are checked
against the jobs the tests drove and against ``GET
/api/scrape-jobs/activity``; the running-now page against a claimed job
whose pages count goes up between two refreshes. Any script error or
Content-Security-Policy violation fails the test.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from scrapejobs.failures import classify
from scrapejobs.jobs import Job
from scrapejobs.manager import JobManager
from scrapejobs.schemas import JobCreate
from scrapejobs.storage import SqlStore, migrate
from tests.servers import serve

JOBS = "/api/scrape-jobs"
COMPLETED, FAILED, RETRIED, STARTED = 4, 2, 1, 6
"""What the seed does: 3 jobs complete, 2 fail, one of those is retried and completes."""


async def _create(manager: JobManager, domain: str) -> Job:
    request = JobCreate.model_validate({"domain": domain, "config": {"autoRetry": False}})
    job, _ = await manager.create_job(request)
    return job


async def _claim(manager: JobManager, job: Job) -> Job:
    claimed = await manager.claim_next("seed-worker")
    assert claimed is not None and claimed.id == job.id
    return claimed


async def _seed(url: str) -> None:
    store = SqlStore.from_url(url)
    await migrate.upgrade(store.engine)
    manager = JobManager(store)
    try:
        for _ in range(3):
            job = await _claim(manager, await _create(manager, "done.example"))
            await manager.complete_attempt(
                job.id, worker_id="seed-worker", lease_token=job.lease_token
            )
        failed = []
        for _ in range(2):
            job = await _claim(manager, await _create(manager, "broken.example"))
            failure = classify("Request timeout")
            token = job.lease_token
            failed.append(
                await manager.fail_attempt(
                    job.id, failure, worker_id="seed-worker", lease_token=token
                )
            )
        await manager.retry_job(failed[0].id)
        token = (await _claim(manager, failed[0])).lease_token
        await manager.complete_attempt(failed[0].id, worker_id="seed-worker", lease_token=token)
    finally:
        await store.close()


def record_pages(url: str, job_id: str, worker_id: str, count: int, first: int) -> None:
    """Store pages of the running attempt, as a worker's crawl does (on a thread of
    its own: Playwright's sync API holds this thread's event loop)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(_record_pages(url, job_id, worker_id, count, first))
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if failures:
        raise failures[0]


async def _record_pages(url: str, job_id: str, worker_id: str, count: int, first: int) -> None:
    store = SqlStore.from_url(url)
    try:
        manager = JobManager(store)
        job = await manager.get_job(job_id)
        rows = [_page_row(f"https://running.example/{n}") for n in range(first, first + count)]
        await manager.results.record_pages(job, worker_id, rows)
    finally:
        await store.close()


def _page_row(url: str) -> dict[str, Any]:
    return {
        "url": url,
        "final_url": url,
        "status": 200,
        "depth": 1,
        "content_type": "text/html",
        "title": "a page",
        "text": "text",
        "links": 0,
        "bytes": 100,
        "fetched_at": datetime.now(UTC),
        "error": None,
    }


@dataclass(frozen=True)
class Server:
    base: str
    database_url: str
    shots: Path

    def url(self, path: str) -> str:
        return self.base + path

    def activity(self, span: str = "hour") -> dict[str, Any]:
        response = httpx.get(self.url(f"{JOBS}/activity"), params={"span": span})
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def shoot(self, page: Page, name: str) -> None:
        page.screenshot(path=self.shots / f"{name}.png", full_page=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, screenshot_dir: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("activity")
    url = f"sqlite:///{folder / 'activity.db'}"
    asyncio.run(_seed(url))
    with serve(url, workers=0, log=folder / "serve.log") as base:
        yield Server(base, url, screenshot_dir)


def _column_sum(page: Page, chart: str, series: str) -> int:
    """The numbers table of a chart, one column summed (the buckets with activity)."""
    cells = page.locator(f"#{chart}-table td[data-kind='{series}']").all_text_contents()
    return sum(int(cell) for cell in cells)


def _claim_by_api(server: Server, worker_id: str) -> dict[str, Any]:
    response = httpx.post(server.url(f"{JOBS}/next"), json={"workerId": worker_id})
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    assert job is not None and job["worker_id"] == worker_id
    return job


def test_analytics_shows_throughput_and_queue_latency_of_the_jobs_driven(
    server: Server, page: Page
) -> None:
    data = server.activity()
    assert data["throughput"]["totals"] == {
        "completed": COMPLETED,
        "failed": FAILED,
        "retried": RETRIED,
    }
    assert data["queueLatency"]["overall"]["count"] == STARTED
    assert len(data["throughput"]["buckets"]) == 60 and data["bucketSeconds"] == 60

    page.goto(server.url("/analytics"))
    section = page.locator("section#activity")
    expect(section.get_by_role("heading", name="Activity", exact=True)).to_be_visible()
    expect(section).to_have_attribute("hx-trigger", "every 10s")
    expect(section.locator("[data-total='completed']")).to_have_text(str(COMPLETED))
    expect(section.locator("[data-total='failed']")).to_have_text(str(FAILED))
    expect(section.locator("[data-total='retried']")).to_have_text(str(RETRIED))
    expect(section.locator("svg.columns-completed rect.column")).not_to_have_count(0)
    expect(section.locator('[data-headline="Attempts started"]')).to_have_text(str(STARTED))
    p95 = section.locator('[data-headline="p95 wait"]')
    expect(p95).to_have_text(re.compile(r"^\d+ ms$|^\d+\.\d s$"))

    # The numbers behind the columns, bucket by bucket, add up to the totals.
    section.locator("#throughput summary").click()
    expect(page.locator("#throughput-table")).to_be_visible()
    assert _column_sum(page, "throughput", "completed") == COMPLETED
    assert _column_sum(page, "throughput", "failed") == FAILED
    assert _column_sum(page, "throughput", "retried") == RETRIED
    assert _column_sum(page, "latency", "count") == STARTED
    server.shoot(page, "20-activity-hour")

    # A worker completes one more job: the next refresh (within 10 s) counts it.
    created = httpx.post(server.url(JOBS), json={"domain": "late.example", "priority": 10})
    assert created.status_code == 201, created.text
    job = _claim_by_api(server, "late-worker")
    done = httpx.patch(
        server.url(f"{JOBS}/{job['id']}"),
        json={"status": "completed", "workerId": "late-worker", "leaseToken": job["leaseToken"]},
    )
    assert done.status_code == 200, done.text
    expect(section.locator("[data-total='completed']")).to_have_text(
        str(COMPLETED + 1), timeout=15_000
    )
    expect(section.locator('[data-headline="Attempts started"]')).to_have_text(str(STARTED + 1))

    page.get_by_role("link", name="Last day, per 15 minutes").click()
    expect(page).to_have_url(re.compile(r"activity=day"))
    expect(section.locator("[data-total='completed']")).to_have_text(str(COMPLETED + 1))
    expect(section).to_have_attribute("hx-get", "/analytics/activity?span=day")
    assert server.activity("day")["throughput"]["totals"]["completed"] == COMPLETED + 1
    server.shoot(page, "21-activity-day")


def test_running_page_shows_a_running_job_and_its_pages_growing(server: Server, page: Page) -> None:
    created = httpx.post(
        server.url(JOBS),
        json={"domain": "running.example", "priority": 10, "config": {"maxPages": 50}},
    )
    assert created.status_code == 201, created.text
    job = _claim_by_api(server, "crawler-7")
    assert job["id"] == created.json()["data"]["id"]

    page.goto(server.url("/analytics"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Running now").click()
    expect(page).to_have_url(server.url("/running"))
    expect(page.get_by_role("heading", name="Running now", level=1)).to_be_visible()
    live = page.locator("#running-live")
    expect(live).to_have_attribute("hx-trigger", "every 3s")
    row = page.locator(f'tr[data-job-id="{job["id"]}"]')
    expect(row.locator(".worker")).to_have_text("crawler-7")
    expect(row.locator(".attempt")).to_have_text("original")  # as the seed counts
    expect(row.locator(".lease")).to_contain_text(re.compile(r"in (\d+ s|1 min)"))
    expect(row.locator(".pages")).to_have_text("0")
    expect(row.locator(".page-limit")).to_have_text("50")
    expect(row.get_by_role("link", name="running.example")).to_have_attribute(
        "href", f"/jobs/{job['id']}"
    )

    record_pages(server.database_url, job["id"], "crawler-7", 3, first=0)
    expect(row.locator(".pages")).to_have_text("3", timeout=10_000)
    server.shoot(page, "22-running")
    record_pages(server.database_url, job["id"], "crawler-7", 9, first=3)
    expect(row.locator(".pages")).to_have_text("12", timeout=10_000)
    expect(row.locator("rect.bar-fill")).to_have_attribute("width", "24.0")

    report = {"status": "completed", "workerId": "crawler-7", "leaseToken": job["leaseToken"]}
    done = httpx.patch(server.url(f"{JOBS}/{job['id']}"), json=report)
    assert done.status_code == 200, done.text
    expect(row).to_have_count(0, timeout=10_000)
    expect(live.locator(".empty")).to_contain_text("No job is running")


def test_running_page_on_a_phone(server: Server, browser: Browser) -> None:
    created = httpx.post(server.url(JOBS), json={"domain": "phone.example", "priority": 10})
    assert created.status_code == 201, created.text
    job = _claim_by_api(server, "phone-worker")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        phone = context.new_page()
        phone.goto(server.url("/running"))
        expect(phone.locator(f'tr[data-job-id="{job["id"]}"] .worker')).to_have_text("phone-worker")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the page itself must not scroll sideways"
        server.shoot(phone, "23-running-phone")
        phone.goto(server.url("/analytics"))
        expect(phone.locator("section#activity")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        server.shoot(phone, "24-activity-phone")
    finally:
        context.close()
