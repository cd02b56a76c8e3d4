"""The dashboard in real Chromium, against a real ``scrapejobs serve`` on SQLite.

One server for the module, with no workers: the jobs are seeded before it
starts, through the real JobManager, one at a time (so each claim takes the
job just created), and each test works on jobs of its own domain. The tests
then act in the browser and check the outcome through the JSON API.
Full-page screenshots of every page go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    Dialog,
    Page,
    Route,
    expect,
)

from scrapejobs.failures import ErrorType, Failure, classify
from scrapejobs.jobs import Job
from scrapejobs.manager import JobManager
from scrapejobs.schemas import JobCreate
from scrapejobs.storage import SqlStore, migrate
from tests.servers import serve

JOBS = "/api/scrape-jobs"
HOSTILE_TITLE = "<script>window.__pwned = 'title'</script>Evil page"
HOSTILE_IMG = "<img src=x onerror=\"window.__pwned='error'\">"
HOSTILE_META = "<script>window.__pwned = 'metadata'</script>"
MANY = 30


# -- seeding ---------------------------------------------------------------------


async def _create(manager: JobManager, domain: str, **fields: Any) -> Job:
    config = {"autoRetry": False, **fields.pop("config", {})}
    request = JobCreate.model_validate({"domain": domain, "config": config, **fields})
    job, _ = await manager.create_job(request)
    return job


async def _claim(manager: JobManager, job: Job) -> Job:
    claimed = await manager.claim_next("w1")
    assert claimed is not None and claimed.id == job.id, "seeding must claim its own job"
    return claimed


async def _fail(manager: JobManager, job: Job, message: str, http_status: int | None = None) -> Job:
    token = (await _claim(manager, job)).lease_token
    failure = classify(message, http_status=http_status)
    return await manager.fail_attempt(job.id, failure, worker_id="w1", lease_token=token)


async def _complete(manager: JobManager, job: Job) -> Job:
    token = (await _claim(manager, job)).lease_token
    return await manager.complete_attempt(job.id, worker_id="w1", lease_token=token)


async def _retry_then(
    manager: JobManager, job: Job, message: str | None = None, http_status: int | None = None
) -> Job:
    """Retry ``job``, claim it, and complete it (no message) or fail it with ``message``."""
    await manager.retry_job(job.id, actor="api")
    if message is None:
        return await _complete(manager, job)
    return await _fail(manager, job, message, http_status)


def _page_row(url: str, title: str) -> dict[str, Any]:
    return {
        "url": url,
        "final_url": url,
        "status": 200,
        "depth": 0,
        "content_type": "text/html",
        "title": title,
        "text": "text",
        "links": 0,
        "bytes": 100,
        "fetched_at": datetime.now(UTC),
        "error": None,
    }


async def _seed_hostile(manager: JobManager) -> Job:
    job = await _create(manager, "hostile.example", metadata={"note": HOSTILE_META})
    claimed = await _claim(manager, job)
    pages = [
        _page_row("https://hostile.example/", HOSTILE_TITLE),
        _page_row("javascript:window.__pwned='href'", HOSTILE_IMG),
    ]
    await manager.results.record_pages(claimed, "w1", pages)
    failure, token = classify(HOSTILE_IMG), claimed.lease_token
    return await manager.fail_attempt(job.id, failure, worker_id="w1", lease_token=token)


async def _seed_stats(manager: JobManager) -> None:
    """stats.example: 4 retries (2 after timeouts, 2 after 429s); 2 of 3 retried jobs recover."""
    s1 = await _fail(manager, await _create(manager, "stats.example"), "Request timeout")
    await _retry_then(manager, s1)
    s2 = await _fail(manager, await _create(manager, "stats.example"), "429", 429)
    await _retry_then(manager, s2, "429", 429)
    await _retry_then(manager, s2)
    s3 = await _fail(manager, await _create(manager, "stats.example"), "Request timeout")
    await _retry_then(manager, s3, "Request timeout")


async def _seed(url: str) -> dict[str, str]:
    store = SqlStore.from_url(url)
    await migrate.upgrade(store.engine)
    manager = JobManager(store)
    ids: dict[str, str] = {}
    try:
        for name in ("retry-click", "retry-elsewhere"):
            job = await _fail(manager, await _create(manager, f"{name}.example"), "Request timeout")
            ids[name] = job.id
        exceeded = await _create(manager, "exceeded.example", max_retries=2)
        ids["exceeded"] = (await _fail(manager, exceeded, "Service unavailable", 503)).id
        exhausted = await _create(manager, "exhausted.example", max_retries=1)
        await _fail(manager, exhausted, "Request timeout")
        ids["exhausted"] = (await _retry_then(manager, exhausted, "Request timeout")).id
        ids["hostile"] = (await _seed_hostile(manager)).id
        for _ in range(2):
            await _fail(manager, await _create(manager, "bulk.example"), "Connection refused")
        worn = await _create(manager, "bulk.example", max_retries=1)
        await _fail(manager, worn, "Connection reset by peer")
        await _retry_then(manager, worn, "Connection refused")
        await _complete(manager, await _create(manager, "bulk.example"))
        other = await _create(manager, "bulk-other.example")
        ids["bulk-other"] = (await _fail(manager, other, "Connection refused")).id
        await _seed_stats(manager)
        page_job = await _create(manager, "list-a.example", job_type="page_scrape")
        ids["list-completed"] = (await _complete(manager, page_job)).id
        unavailable = await _create(manager, "list-a.example")
        ids["list-failed"] = (await _fail(manager, unavailable, "Service unavailable", 503)).id
        cancelled = await _create(manager, "list-b.example")
        ids["list-cancelled"] = (await manager.cancel_job(cancelled.id)).id
        for _ in range(MANY):  # pending from here on: nothing is claimed after this
            await _create(manager, "many.example")
        await _create(manager, "pause.example")
        await _create(manager, "cooling.example")
        limited = Failure(ErrorType.RATE_LIMITED, "HTTP 429", 429, 3600.0)
        await manager.sites.cool_down("cooling.example", limited)
    finally:
        await store.close()
    return ids


@dataclass(frozen=True)
class Dashboard:
    base: str
    ids: dict[str, str]
    shots: Path

    def url(self, path: str) -> str:
        return self.base + path

    def job(self, job_id: str) -> dict[str, Any]:
        response = httpx.get(self.url(f"{JOBS}/{job_id}"))
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def jobs(self, **query: str) -> list[dict[str, Any]]:
        response = httpx.get(self.url(JOBS), params={"limit": "200", **query})
        jobs: list[dict[str, Any]] = response.json()["data"]
        return jobs

    def shoot(self, page: Page, name: str) -> None:
        page.screenshot(path=self.shots / f"{name}.png", full_page=True)


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, screenshot_dir: Path
) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'dashboard.db'}"
    ids = asyncio.run(_seed(url))
    with serve(url, workers=0, log=folder / "serve.log") as base:
        yield Dashboard(base, ids, screenshot_dir)


def rows(page: Page) -> Any:
    return page.locator("#jobs-live tbody tr[data-job-id]")


# -- the jobs page ---------------------------------------------------------------


def test_jobs_page_lists_counts_and_filters(dashboard: Dashboard, page: Page) -> None:
    page.goto(dashboard.url("/"))
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    expect(page.locator("caption#jobs-caption")).to_contain_text("All jobs, newest first")
    total = len(dashboard.jobs())
    expect(page.locator('.count[data-status="all"]')).to_have_text(str(total))
    dashboard.shoot(page, "01-jobs")

    page.get_by_label("Status", exact=True).select_option("failed")
    page.get_by_label("Domain", exact=True).fill("list-a.example")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=failed.*domain=list-a\.example"))
    expect(rows(page)).to_have_count(1)
    row = rows(page).first
    expect(row).to_have_attribute("data-job-id", dashboard.ids["list-failed"])
    expect(row.locator("td.retries")).to_have_text("0/3")
    expect(row).to_contain_text("server_error")
    expect(row).to_contain_text("Service unavailable")
    expect(page.locator('.count[data-status="completed"]')).to_have_text("1")
    dashboard.shoot(page, "02-jobs-filtered")

    page.goto(dashboard.url("/jobs?job_type=page_scrape&domain=list-a.example"))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_have_attribute("data-job-id", dashboard.ids["list-completed"])
    expect(page.get_by_label("Job type", exact=True)).to_have_value("page_scrape")

    page.goto(dashboard.url("/jobs?failure_pattern=server_error"))
    expect(rows(page)).not_to_have_count(0)
    patterns = page.locator("#jobs-live tbody td.failure-pattern").all_inner_texts()
    assert patterns and set(patterns) == {"server_error"}

    page.goto(dashboard.url("/jobs?domain=not%20a%20domain"))
    expect(page.locator("#field-domain-error")).to_have_text("domain must not contain white space")
    expect(page.get_by_label("Domain", exact=True)).to_have_attribute("aria-invalid", "true")


def test_pagination_keeps_the_filters(dashboard: Dashboard, page: Page) -> None:
    total = len(dashboard.jobs(domain="many.example"))
    assert total > 25
    page.goto(dashboard.url("/jobs?domain=many.example"))
    expect(rows(page)).to_have_count(25)
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"domain=many\.example.*page=2"))
    expect(rows(page)).to_have_count(total - 25)
    expect(page.locator(".pagination")).to_contain_text(
        f"Page 2 of 2 · jobs 26\u2013{total} of {total}"
    )


def test_live_refresh_keeps_filters_and_page(dashboard: Dashboard, page: Page) -> None:
    page.goto(dashboard.url("/jobs?status=pending&domain=many.example&page=2"))
    before = len(dashboard.jobs(domain="many.example"))
    expect(rows(page)).to_have_count(before - 25)
    live = page.locator("#jobs-live")
    expect(live).to_have_attribute("hx-trigger", "every 5s")
    httpx.post(dashboard.url(JOBS), json={"domain": "many.example"}).raise_for_status()
    httpx.post(dashboard.url(JOBS), json={"domain": "elsewhere.example"}).raise_for_status()
    # the next poll (within 5 s) shows the new job on page 2, still filtered
    expect(page.locator('.count[data-status="pending"]')).to_have_text(
        str(before + 1), timeout=12_000
    )
    expect(rows(page)).to_have_count(before + 1 - 25)
    expect(page.locator("caption#jobs-caption")).to_contain_text("page 2 of 2")
    expect(page.locator('.count[data-status="all"]')).to_have_text(str(before + 1))
    expect(page).to_have_url(re.compile(r"page=2"))


# -- one job -------------------------------------------------------------------------


def test_open_a_job_shows_its_timeline_config_and_pages(dashboard: Dashboard, page: Page) -> None:
    job_id = dashboard.ids["exhausted"]
    page.goto(dashboard.url("/jobs?domain=exhausted.example"))
    page.get_by_role("link", name="exhausted.example").click()
    expect(page).to_have_url(dashboard.url(f"/jobs/{job_id}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("exhausted.example")
    expect(page.locator("#summary-retries")).to_have_text("1/1")

    attempts = page.locator("table.attempts tbody tr")
    expect(attempts).to_have_count(2)
    first, second = attempts.nth(0), attempts.nth(1)
    expect(first).to_contain_text("timeout")
    expect(first).to_contain_text("network_connectivity")
    expect(first.locator(".retried-by")).to_have_text("—")
    # Counted as the seed's "attempt 1/1" counts: the original attempt, then retry 1.
    expect(first.locator("th")).to_have_text("original")
    expect(second.locator("th")).to_have_text("retry 1")
    expect(second.locator(".retried-by")).to_contain_text("api, ")
    expect(second.locator(".retried-by")).to_contain_text("Manual retry after timeout error")
    # At 1280 px the whole table, Message column included, fits its box (issue 17).
    scroller = page.locator("table.attempts").locator("xpath=..")
    widths = scroller.evaluate("box => [box.scrollWidth, box.clientWidth]")
    assert widths[0] <= widths[1], widths
    expect(page.locator("table.attempts th", has_text="Message")).to_be_in_viewport()

    expect(page.locator('li[data-retry="1"]')).to_contain_text("timeout: set to 45000")
    timeout_row = page.locator('table.config tr[data-key="timeout"]')
    expect(timeout_row).to_contain_text("45000")
    expect(timeout_row).to_contain_text("retry 1 (api): set to 45000")
    # The metadata table is the user's; the system's retry facts are in the summary.
    expect(page.locator("table.metadata")).not_to_contain_text("retriedBy")
    expect(page.locator("dl.summary")).to_contain_text("by api: Manual retry after timeout error")

    export = page.get_by_role("link", name="JSON Lines")
    expect(export).to_have_attribute("href", f"{JOBS}/{job_id}/results?format=jsonl")
    dashboard.shoot(page, "03-job")


def test_exhausted_job_shows_permanent_failure_and_no_button(
    dashboard: Dashboard, page: Page
) -> None:
    page.goto(dashboard.url(f"/jobs/{dashboard.ids['exhausted']}"))
    control = page.locator("#retry-control")
    expect(control).to_contain_text("Max retries reached (1/1)")
    expect(control).to_contain_text("Permanent failure")
    expect(control.get_by_role("button")).to_have_count(0)
    dashboard.shoot(page, "04-job-exhausted")


def test_retry_by_clicking_disables_the_button_until_the_server_answers(
    dashboard: Dashboard, page: Page
) -> None:
    job_id = dashboard.ids["retry-click"]
    page.goto(dashboard.url(f"/jobs/{job_id}"))
    button = page.locator("#retry-button")
    expect(button).to_have_text("Retry (0/3)", use_inner_text=True)
    expect(page.locator("#retry-info")).to_have_text("Next attempt will be attempt 1 of 3")
    dashboard.shoot(page, "05-job-retry-ready")

    held: list[Route] = []
    page.route(f"**/jobs/{job_id}/retry", lambda route: held.append(route))  # hold it
    button.click()
    expect(button).to_be_disabled()
    expect(button).to_have_text("Retrying…", use_inner_text=True)
    while not held:
        page.wait_for_timeout(10)
    held[0].continue_()

    expect(page.locator("#retry-status")).to_have_text("Job scheduled for retry (attempt 1/3)")
    expect(page.locator("#retry-status")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#retry-status")).to_be_focused()  # the button is gone; focus is not
    expect(page.locator("#summary-status")).to_have_text("pending")
    expect(page.locator("#retry-button")).to_have_count(0)
    expect(page.locator("#upcoming")).to_contain_text("Next: retry 1 of 3, by dashboard")
    expect(page.locator("#cancel-button")).to_be_visible()
    dashboard.shoot(page, "06-job-retried")

    job = dashboard.job(job_id)
    assert job["status"] == "pending"
    assert job["retry_count"] == 1
    assert job["metadata"]["retriedBy"] == "dashboard"


def test_retry_refused_because_another_client_retried_first(
    dashboard: Dashboard, page: Page
) -> None:
    job_id = dashboard.ids["retry-elsewhere"]
    page.goto(dashboard.url(f"/jobs/{job_id}"))
    expect(page.locator("#retry-button")).to_be_enabled()
    assert httpx.post(dashboard.url(f"{JOBS}/{job_id}/retry")).status_code == 200

    page.locator("#retry-button").click()
    expect(page.locator("#retry-status")).to_have_text(
        "Failed to retry: Job cannot be retried: Job is already queued"
    )
    expect(page.locator("#summary-status")).to_have_text("pending")
    dashboard.shoot(page, "07-job-retry-refused")
    assert dashboard.job(job_id)["retry_count"] == 1  # retried once, by the other client


def test_retry_refused_because_the_limit_was_lowered(dashboard: Dashboard, page: Page) -> None:
    job_id = dashboard.ids["exceeded"]
    page.goto(dashboard.url(f"/jobs/{job_id}"))
    expect(page.locator("#retry-button")).to_have_text("Retry (0/2)", use_inner_text=True)
    httpx.patch(dashboard.url(f"{JOBS}/{job_id}"), json={"max_retries": 0}).raise_for_status()

    page.locator("#retry-button").click()
    expect(page.locator("#retry-status")).to_have_text(
        "Failed to retry: Job has exceeded maximum retry attempts (0/0)"
    )
    expect(page.locator("#retry-control")).to_contain_text("Max retries reached (0/0)")
    expect(page.locator("#retry-control")).to_contain_text("Permanent failure")
    assert dashboard.job(job_id)["status"] == "failed"


def test_cancel_and_delete_ask_for_confirmation(dashboard: Dashboard, page: Page) -> None:
    created = httpx.post(dashboard.url(JOBS), json={"domain": "cancel.example"})
    job_id = created.json()["data"]["id"]
    page.goto(dashboard.url(f"/jobs/{job_id}"))
    answers = iter([False, True, True])
    asked: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        asked.append(dialog.message)
        if next(answers):
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.get_by_role("button", name="Cancel job").click()  # dismissed: nothing happens
    expect(page.locator("#summary-status")).to_have_text("pending")
    assert dashboard.job(job_id)["status"] == "pending"

    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator("#action-status")).to_have_text("Job cancelled")
    expect(page.locator("#summary-status")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    assert dashboard.job(job_id)["status"] == "cancelled"

    page.get_by_role("button", name="Delete job").click()
    expect(page.get_by_role("heading", name="Job deleted")).to_be_visible()
    dashboard.shoot(page, "08-job-deleted")
    assert httpx.get(dashboard.url(f"{JOBS}/{job_id}")).status_code == 404
    assert len(asked) == 3 and "cannot be undone" in asked[2]


# -- bulk retry ------------------------------------------------------------------------


def test_bulk_retry_confirms_the_count_then_lists_each_result(
    dashboard: Dashboard, page: Page
) -> None:
    page.goto(dashboard.url("/bulk"))
    page.get_by_role("button", name="Count the failed jobs").click()
    expect(page.locator("#error-summary")).to_contain_text(
        "Choose a domain or a failure pattern to retry"
    )

    page.get_by_label("Domain", exact=True).fill("bulk.example")
    page.get_by_role("button", name="Count the failed jobs").click()
    expect(page.locator("#bulk-count")).to_contain_text("This touches 3 failed jobs")
    expect(page.locator('[data-count="retryable"]')).to_have_text("2")
    expect(page.locator('[data-count="exhausted"]')).to_have_text("1")
    dashboard.shoot(page, "09-bulk-confirm")
    assert len(dashboard.jobs(domain="bulk.example", status="failed")) == 3  # nothing yet

    confirm = page.get_by_role("button", name="Retry 2 failed jobs")  # 1 has no retries left
    confirm.click()
    expect(page.locator("#bulk-summary")).to_have_text("Retried 2 of 3 matching failed jobs")
    results = page.locator("table.bulk-results tbody tr")
    expect(results).to_have_count(3)
    expect(results.filter(has_text="Scheduled")).to_have_count(2)
    expect(results.filter(has_text="Job scheduled for retry (attempt 1/3)")).to_have_count(2)
    refused = results.filter(has_text="Refused")
    expect(refused).to_contain_text("Job has exceeded maximum retry attempts")
    dashboard.shoot(page, "10-bulk-results")

    assert len(dashboard.jobs(domain="bulk.example", status="pending")) == 2
    assert len(dashboard.jobs(domain="bulk.example", status="failed")) == 1
    assert dashboard.job(dashboard.ids["bulk-other"])["status"] == "failed"


def test_bulk_retry_by_failure_pattern_from_a_link(dashboard: Dashboard, page: Page) -> None:
    page.goto(dashboard.url("/jobs?domain=bulk-other.example&failure_pattern=network_connectivity"))
    page.get_by_role("link", name="Retry 1 failed job…").click()
    expect(page.locator("#bulk-count")).to_contain_text(
        "This touches 1 failed job of domain bulk-other.example, "
        "failure pattern network_connectivity"
    )
    page.get_by_role("button", name="Retry 1 failed job").click()
    expect(page.locator("#bulk-summary")).to_have_text("Retried 1 of 1 matching failed jobs")
    assert dashboard.job(dashboard.ids["bulk-other"])["status"] == "pending"


# -- submitting a job ------------------------------------------------------------------


def test_submit_shows_the_api_validation_messages_then_creates_the_job(
    dashboard: Dashboard, page: Page
) -> None:
    page.goto(dashboard.url("/jobs/new"))
    page.get_by_label("Priority", exact=True).fill("11")
    page.get_by_role("button", name="Submit job").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Invalid request")
    expect(page.locator("#field-domain-error")).to_have_text("Field required")
    expect(page.locator("#field-priority-error")).to_have_text(
        "Input should be less than or equal to 10"
    )
    expect(page.get_by_label("Priority", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Priority", exact=True)).to_have_value("11")
    dashboard.shoot(page, "11-submit-invalid")

    page.get_by_label("Domain", exact=True).fill("Submitted.Example")
    page.get_by_label("Priority", exact=True).fill("7")
    page.get_by_label("Depth", exact=True).fill("2")
    page.get_by_label("Retry automatically", exact=True).uncheck()
    page.get_by_label("Metadata (JSON)", exact=True).fill('{"team": "search"}')
    page.get_by_role("button", name="Submit job").click()

    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("submitted.example")
    dashboard.shoot(page, "12-submit-created")
    job = dashboard.job(page.url.rsplit("/", 1)[1])
    assert (job["priority"], job["status"]) == (7, "pending")
    assert job["config"]["depth"] == 2 and job["config"]["autoRetry"] is False
    assert job["metadata"] == {"source": "dashboard", "team": "search"}


# -- analytics ----------------------------------------------------------------------------


def _bars(page: Page, chart: str) -> dict[str, tuple[str, float]]:
    """Each bar of a chart: its label -> (the number shown, the bar's width in %)."""
    found = {}
    for row in page.locator(f"#{chart} tr.bar-row").all():
        label = row.locator("th").inner_text()
        width = float(row.locator("rect.bar-fill").get_attribute("width") or "nan")
        found[label] = (row.locator("td.bar-value").inner_text(), width)
    return found


def test_analytics_draws_the_stats_as_charts(dashboard: Dashboard, page: Page) -> None:
    stats = httpx.get(dashboard.url(f"{JOBS}/stats"), params={"domain": "stats.example"})
    data = stats.json()["data"]
    page.goto(dashboard.url("/analytics?domain=stats.example"))
    expect(page.locator('[data-headline="Retries"]')).to_have_text(
        str(data["retryMetrics"]["totalRetries"])
    )
    expect(page.locator('[data-headline="Retry success rate"]')).to_have_text("66.7%")
    expect(page.locator("svg.bar")).not_to_have_count(0)

    by_type = _bars(page, "retries-by-error-type")
    assert data["retryMetrics"]["retrysByErrorType"] == {"timeout": 2, "rate_limited": 2}
    assert by_type == {"rate_limited": ("2", 100.0), "timeout": ("2", 100.0)}

    effectiveness = _bars(page, "retry-effectiveness")
    assert effectiveness["Retry 1"] == ("33.3% (1 of 3)", 33.3)
    assert effectiveness["Retry 2"] == ("100% (1 of 1)", 100.0)
    assert effectiveness["Retry 3"] == ("no data (0 of 0)", 0.0)

    patterns = _bars(page, "failure-patterns")
    assert patterns == {
        "network_connectivity": ("3 (60%)", 100.0),
        "rate_limiting": ("2 (40%)", 66.7),
    }
    assert _bars(page, "most-retried-domains") == {"stats.example": ("4 (3 jobs)", 100.0)}
    expect(page.locator(".recommendations")).to_contain_text(
        "Consider increasing default timeout values"
    )
    dashboard.shoot(page, "13-analytics-domain")

    page.goto(dashboard.url("/analytics"))
    expect(page.locator("#jobs-by-status tr.bar-row")).to_have_count(5)
    dashboard.shoot(page, "14-analytics")


def test_domains_show_each_sites_state_and_pause_and_resume_it(
    dashboard: Dashboard, page: Page
) -> None:
    page.goto(dashboard.url("/domains"))
    row = page.locator('tr[data-site="pause.example"]')
    expect(row.locator(".status")).to_have_text("open")
    expect(row).to_contain_text("any rate, 8 at once")
    row.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status")).to_have_text("pause.example: paused")
    expect(row.locator(".status")).to_have_text("paused")
    expect(row).to_contain_text("until resumed")
    site = httpx.get(dashboard.url("/api/domains/pause.example")).json()["data"]
    assert site["state"] == "paused"
    row.get_by_role("button", name="Unpause").click()
    expect(row.locator(".status")).to_have_text("open")

    page.goto(dashboard.url("/domains?state=cooling_down"))
    cooling = page.locator('tr[data-site="cooling.example"]')
    expect(cooling.locator(".status")).to_have_text("cooling down")
    expect(cooling.locator(".why")).to_have_text("cooling down: HTTP 429 with Retry-After: 3600 s")
    expect(cooling.locator("time")).to_contain_text(re.compile(r"in 5\d min"))
    dashboard.shoot(page, "15-domains-cooling")
    cooling.get_by_role("button", name="Resume now").click()
    expect(page.get_by_role("status")).to_have_text("cooling.example: resumed")
    site = httpx.get(dashboard.url("/api/domains/cooling.example")).json()["data"]
    assert site["state"] == "open"


# -- escaping, keyboard, phone -------------------------------------------------------------


def test_crawled_and_reported_text_is_escaped(dashboard: Dashboard, page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.goto(dashboard.url(f"/jobs/{dashboard.ids['hostile']}"))
    titles = page.locator("td.page-title")
    expect(titles.first).to_have_text(HOSTILE_TITLE)
    expect(page.locator("table.metadata")).to_contain_text(HOSTILE_META)
    expect(page.locator("table.attempts")).to_contain_text(HOSTILE_IMG)
    expect(page.locator("main img")).to_have_count(0)
    expect(page.locator("main script")).to_have_count(0)
    expect(page.locator('a[href^="javascript"]')).to_have_count(0)
    expect(page.locator("table.pages")).to_contain_text("javascript:window.__pwned='href'")
    dashboard.shoot(page, "15-job-hostile")

    page.goto(dashboard.url("/jobs?domain=hostile.example"))
    expect(rows(page).first.locator(".error-cell")).to_have_text(HOSTILE_IMG)
    expect(page.locator("main img")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def test_keyboard_skip_link_and_visible_focus(dashboard: Dashboard, page: Page) -> None:
    page.goto(dashboard.url("/jobs"))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    outline = skip.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")  # from the top of the main content: its first link
    expect(page.get_by_role("main").get_by_role("link", name="Submit a job")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Status", exact=True)).to_be_focused()


def test_phone_layout(dashboard: Dashboard, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    try:
        page.goto(dashboard.url("/jobs"))
        no_page_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(no_page_scroll), "the page itself must not scroll sideways"
        table_scrolls = page.locator("#jobs-live .table-scroll").evaluate(
            "element => element.scrollWidth > element.clientWidth"
        )
        assert table_scrolls, "the jobs table scrolls inside its own box"
        dashboard.shoot(page, "16-phone-jobs")
        page.goto(dashboard.url(f"/jobs/{dashboard.ids['exhausted']}"))
        assert page.evaluate(no_page_scroll)
        dashboard.shoot(page, "17-phone-job")
        page.goto(dashboard.url("/analytics?domain=stats.example"))
        assert page.evaluate(no_page_scroll)
        dashboard.shoot(page, "18-phone-analytics")
    finally:
        context.close()


# -- without a browser: plain HTTP -----------------------------------------------------------


def test_without_javascript_every_action_is_a_plain_form_post(dashboard: Dashboard) -> None:
    with httpx.Client(base_url=dashboard.base) as client:
        invalid = client.post("/jobs/new", data={"domain": "a b", "priority": "5"})
        assert invalid.status_code == 400
        assert "<!doctype html>" in invalid.text
        assert "domain must not contain white space" in invalid.text

        created = client.post("/jobs/new", data={"domain": "plain.example"})
        assert created.status_code == 303
        job_id = created.headers["location"].rsplit("/", 1)[1]
        assert dashboard.job(job_id)["metadata"]["source"] == "dashboard"

        refused = client.post(f"/jobs/{job_id}/retry")
        assert refused.status_code == 400
        assert "Failed to retry: Job cannot be retried: Job is already queued" in refused.text
        assert 'id="job-page"' in refused.text  # the whole page, not a fragment

        cancelled = client.post(f"/jobs/{job_id}/cancel")
        assert (cancelled.status_code, "Job cancelled" in cancelled.text) == (200, True)
        deleted = client.post(f"/jobs/{job_id}/delete")
        assert (deleted.status_code, "Job deleted" in deleted.text) == (200, True)
        gone = client.get(f"/jobs/{job_id}")
        assert gone.status_code == 404 and "Job not found" in gone.text


def test_cross_site_posts_are_refused(dashboard: Dashboard) -> None:
    job_id = dashboard.ids["list-failed"]
    response = httpx.post(
        dashboard.url(f"/jobs/{job_id}/retry"),
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "Cross-site request refused"
    assert dashboard.job(job_id)["status"] == "failed"


def test_pages_static_files_and_the_api_side_by_side(dashboard: Dashboard) -> None:
    with httpx.Client(base_url=dashboard.base) as client:
        for path in ("/", "/jobs", "/jobs/new", "/bulk", "/analytics"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            assert "script-src 'self'" in page.headers["content-security-policy"]
        htmx_js = client.get("/static/htmx.min.js")
        assert htmx_js.status_code == 200 and htmx_js.text.startswith("/*! htmx.org 2.0.11")
        assert client.get("/static/dashboard.css").status_code == 200
        assert client.get("/static/missing.css").json() == {"success": False, "error": "Not found"}
        assert client.get("/api/nope").json() == {"success": False, "error": "Not found"}
        assert client.get(JOBS, params={"limit": 1}).json()["success"] is True
        paths = client.get("/openapi.json").json()["paths"]
        dashboard_paths = [p for p in paths if p == "/" or p.startswith(("/jobs", "/bulk", "/ana"))]
        assert dashboard_paths == [] and f"{JOBS}/{{job_id}}/retry" in paths
