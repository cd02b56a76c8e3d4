"""The jobs table in Chromium: sortable columns, pages, search, "Retry all failed", bulk wording.

A ``scrapejobs serve`` of its own on SQLite with no workers, seeded before it
starts (as ``test_dashboard.py`` does); each test works on jobs of its own
domains and checks the outcome through the JSON API, which sorts and
searches with the same store.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from scrapejobs.manager import JobManager
from scrapejobs.storage import SqlStore, migrate
from tests.e2e.test_dashboard import JOBS, Dashboard, _complete, _create, _fail, rows
from tests.servers import serve

PAGED = 60
SORTED = {"c-sorting.example": 2, "a-sorting.example": 9, "b-sorting.example": 5}
"""domain -> priority of the jobs the sorting test clicks through."""
HOSTILE_SEARCH = "<script>window.__pwned = 'search'</script>"


async def _seed(url: str) -> dict[str, str]:
    store = SqlStore.from_url(url)
    await migrate.upgrade(store.engine)
    manager = JobManager(store)
    ids: dict[str, str] = {}
    try:
        # Failed first: each claim takes the job just created (nothing else is pending yet).
        for n in range(3):
            ids[f"retry-all-{n}"] = (
                await _fail(manager, await _create(manager, "retry-all.example"), "HTTP 503", 503)
            ).id
        worn = await _create(manager, "retry-all.example", max_retries=0)
        ids["retry-all-worn"] = (await _fail(manager, worn, "HTTP 503", 503)).id
        # A success between failures keeps the site's circuit closed (5 failures in a row open it).
        await _complete(manager, await _create(manager, "retry-all.example"))
        other_type = await _create(manager, "retry-all.example", job_type="page_scrape")
        ids["retry-all-page"] = (await _fail(manager, other_type, "HTTP 503", 503)).id
        for _ in range(2):
            await _fail(manager, await _create(manager, "wording.example"), "Connection refused")
        worn = await _create(manager, "wording.example", max_retries=1)
        await _fail(manager, worn, "Connection refused")
        await manager.retry_job(worn.id)
        await _fail(manager, worn, "Connection refused")
        # Pending from here on.
        for domain, priority in SORTED.items():
            ids[domain] = (await _create(manager, domain, priority=priority)).id
        for n in range(PAGED):
            await _create(manager, "paged.example", priority=1 + n % 10)
        catalog = {"startUrl": "https://www.Catalog-Store.example/Winter/Sale?x=1"}
        ids["catalog"] = (await _create(manager, "store-a.example", config=catalog)).id
        ids["store-b"] = (await _create(manager, "store-b.example")).id
        await _create(manager, "retry-all.example")  # pending: not retried
    finally:
        await store.close()
    return ids


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, screenshot_dir: Path
) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp("dashboard-table")
    url = f"sqlite:///{folder / 'dashboard.db'}"
    ids = asyncio.run(_seed(url))
    with serve(url, workers=0, log=folder / "serve.log") as base:
        yield Dashboard(base, ids, screenshot_dir)


def row_ids(page: Page) -> list[str]:
    return [row.get_attribute("data-job-id") or "" for row in rows(page).all()]


def api_ids(dashboard: Dashboard, **params: str) -> list[str]:
    response = httpx.get(dashboard.url(JOBS), params={"limit": "200", **params})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return [job["id"] for job in data]


# -- sorting -----------------------------------------------------------------------------


def test_clicking_a_heading_sorts_by_it_and_again_turns_it_round(
    dashboard: Dashboard, page: Page
) -> None:
    by_domain = [dashboard.ids[d] for d in sorted(SORTED)]
    by_priority = [dashboard.ids[d] for d in sorted(SORTED, key=SORTED.__getitem__, reverse=True)]
    page.goto(dashboard.url("/jobs?search=-sorting.example"))
    newest_first = [dashboard.ids[d] for d in reversed(SORTED)]
    expect(rows(page)).to_have_count(3)
    assert row_ids(page) == newest_first
    created = page.locator('th[data-sort="created"]')
    expect(created).to_have_attribute("aria-sort", "descending")
    expect(page.locator("#jobs-caption")).to_contain_text("Jobs matching the filters, newest first")

    page.get_by_role("link", name="Domain, sort ascending").click()
    expect(page).to_have_url(re.compile(r"search=-sorting\.example&sort=domain$"))
    expect(page.locator('th[data-sort="domain"]')).to_have_attribute("aria-sort", "ascending")
    expect(page.locator('th[data-sort="domain"] .sort-indicator')).to_have_text("▲")
    expect(created).not_to_have_attribute("aria-sort", re.compile(".*"))
    expect(page.locator("#jobs-caption")).to_contain_text("by domain, A to Z")
    assert row_ids(page) == by_domain
    assert api_ids(dashboard, search="-sorting.example", sort="domain") == by_domain

    page.get_by_role("link", name="Domain, sort descending").click()
    expect(page).to_have_url(re.compile(r"sort=-domain"))
    expect(page.locator('th[data-sort="domain"]')).to_have_attribute("aria-sort", "descending")
    expect(page.locator('th[data-sort="domain"] .sort-indicator')).to_have_text("▼")
    assert row_ids(page) == by_domain[::-1]

    page.get_by_role("link", name="Priority, sort descending").click()
    expect(page.locator('th[data-sort="priority"]')).to_have_attribute("aria-sort", "descending")
    expect(page.locator("#jobs-caption")).to_contain_text("highest priority first")
    assert row_ids(page) == by_priority
    assert page.locator("#jobs-live td.priority").all_inner_texts() == ["9", "5", "2"]
    # The filter form keeps the sort when a filter changes.
    page.get_by_label("Status", exact=True).select_option("pending")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=pending.*sort=-priority"))
    assert row_ids(page) == by_priority
    # The live refresh asks for the same order.
    expect(page.locator("#jobs-live")).to_have_attribute("hx-get", re.compile(r"sort=-priority"))


def test_a_bad_sort_says_so_and_shows_the_newest_first(dashboard: Dashboard, page: Page) -> None:
    page.goto(dashboard.url("/jobs?search=-sorting.example&sort=secret_column"))
    expect(page.locator("#sort-error")).to_contain_text("Unknown sort 'secret_column'")
    expect(page.locator("#sort-error")).to_contain_text("Showing the newest first.")
    expect(rows(page)).to_have_count(3)
    assert row_ids(page) == [dashboard.ids[d] for d in reversed(SORTED)]


# -- pages ---------------------------------------------------------------------------------


def test_first_last_and_jump_to_a_page_keep_the_filters_and_sort(
    dashboard: Dashboard, page: Page
) -> None:
    expected = api_ids(dashboard, domain="paged.example", sort="priority")
    assert len(expected) == PAGED
    page.goto(dashboard.url("/jobs?domain=paged.example&sort=priority"))
    position = page.locator("#page-position")
    expect(position).to_have_text(f"Page 1 of 3 · jobs 1\u201325 of {PAGED}")
    assert row_ids(page) == expected[:25]
    expect(page.locator("#page-first")).to_have_count(0)

    page.get_by_role("link", name="Last »").click()
    expect(page).to_have_url(re.compile(r"domain=paged\.example&sort=priority&page=3$"))
    expect(position).to_have_text(f"Page 3 of 3 · jobs 51\u201360 of {PAGED}")
    assert row_ids(page) == expected[50:]
    expect(page.locator("#page-last")).to_have_count(0)
    expect(page.locator('th[data-sort="priority"]')).to_have_attribute("aria-sort", "ascending")

    page.get_by_role("link", name="« First").click()
    expect(position).to_have_text(f"Page 1 of 3 · jobs 1\u201325 of {PAGED}")
    assert row_ids(page) == expected[:25]

    jump = page.get_by_label("Page", exact=True)
    jump.fill("2")
    page.get_by_role("button", name="Go").click()
    expect(page).to_have_url(re.compile(r"domain=paged\.example&sort=priority&page=2$"))
    expect(position).to_have_text(f"Page 2 of 3 · jobs 26\u201350 of {PAGED}")
    assert row_ids(page) == expected[25:50]
    dashboard.shoot(page, "30-jobs-table-sorted-paged")

    jump = page.get_by_label("Page", exact=True)
    jump.fill("99")  # past the end: the last page
    jump.press("Enter")
    expect(position).to_have_text(f"Page 3 of 3 · jobs 51\u201360 of {PAGED}")


# -- search --------------------------------------------------------------------------------


def test_search_by_job_id_whole_or_short(dashboard: Dashboard, page: Page) -> None:
    job_id = dashboard.ids["store-b"]
    page.goto(dashboard.url("/jobs"))
    search = page.get_by_label("Search", exact=True)
    search.fill(job_id.upper())
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(1)
    assert row_ids(page) == [job_id]

    page.get_by_label("Search", exact=True).fill(job_id[:8])  # the short id the table shows
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"search={job_id[:8]}"))
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator(".job-id")).to_have_text(job_id[:8])
    expect(page.locator('.count[data-status="all"]')).to_have_text("1")


def test_search_by_start_url_or_domain_is_case_insensitive(
    dashboard: Dashboard, page: Page
) -> None:
    page.goto(dashboard.url("/jobs"))
    page.get_by_label("Search", exact=True).fill("winter/SALE")
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(1)
    assert row_ids(page) == [dashboard.ids["catalog"]]
    expect(rows(page).first).to_contain_text("store-a.example")
    dashboard.shoot(page, "31-jobs-search-url")

    page.goto(dashboard.url("/jobs?search=STORE-"))
    expect(rows(page)).to_have_count(2)
    assert set(row_ids(page)) == {dashboard.ids["catalog"], dashboard.ids["store-b"]}
    assert set(api_ids(dashboard, search="store-")) == set(row_ids(page))

    page.goto(dashboard.url("/jobs?search=100%25_nowhere"))
    expect(page.locator("#jobs-live tbody")).to_contain_text("No jobs match.")


def test_a_hostile_search_is_shown_as_text(dashboard: Dashboard, page: Page) -> None:
    page.goto(dashboard.url("/jobs"))
    page.get_by_label("Search", exact=True).fill(HOSTILE_SEARCH)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_label("Search", exact=True)).to_have_value(HOSTILE_SEARCH)
    expect(page.locator("#jobs-live tbody")).to_contain_text("No jobs match.")
    expect(page.locator("main script")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None


# -- retrying the failed jobs of the filter ------------------------------------------------


def test_retry_all_failed_counts_confirms_and_retries_the_filters_failed_jobs(
    dashboard: Dashboard, page: Page
) -> None:
    page.goto(dashboard.url("/jobs?domain=retry-all.example&job_type=domain_scrape"))
    offer = page.locator("#retry-offer")
    # 4 failed domain_scrape jobs; one is out of retries, so the button counts 3.
    expect(offer).to_contain_text("3 can be retried; 1 has no retries left")
    button = page.get_by_role("link", name="Retry 3 failed jobs…")
    expect(button).to_be_visible()
    dashboard.shoot(page, "32-jobs-retry-all-offer")
    button.click()

    expect(page).to_have_url(re.compile(r"/jobs/retry-failed\?domain=retry-all\.example"))
    expect(page.locator("#bulk-count")).to_contain_text(
        "This touches 4 failed jobs of domain retry-all.example, job type domain_scrape"
    )
    expect(page.locator('[data-count="retryable"]')).to_have_text("3")
    expect(page.locator('[data-count="exhausted"]')).to_have_text("1")
    expect(page.locator("#bulk-breakdown")).to_have_text("3 can be retried; 1 has no retries left.")
    assert dashboard.job(dashboard.ids["retry-all-0"])["status"] == "failed"  # nothing yet
    dashboard.shoot(page, "33-retry-all-confirm")

    page.get_by_role("button", name="Retry 3 failed jobs").click()
    expect(page.locator("#bulk-summary")).to_have_text("Retried 3 of 4 matching failed jobs")
    results = page.locator("table.bulk-results tbody tr")
    expect(results).to_have_count(4)
    expect(results.filter(has_text="Scheduled")).to_have_count(3)
    refused = results.filter(has_text="Refused")
    expect(refused).to_have_attribute("data-job-id", dashboard.ids["retry-all-worn"])
    expect(refused).to_contain_text("Job has exceeded maximum retry attempts")
    dashboard.shoot(page, "34-retry-all-results")

    for n in range(3):
        job = dashboard.job(dashboard.ids[f"retry-all-{n}"])
        assert (job["status"], job["retry_count"]) == ("pending", 1)
        assert job["metadata"]["retriedBy"] == "dashboard"
    assert dashboard.job(dashboard.ids["retry-all-worn"])["status"] == "failed"
    assert dashboard.job(dashboard.ids["retry-all-page"])["status"] == "failed"  # other type

    page.get_by_role("link", name="Back to the jobs of this filter").click()
    expect(page).to_have_url(re.compile(r"/jobs\?domain=retry-all\.example&job_type=domain_scrape"))
    expect(page.locator('.count[data-status="pending"]')).to_have_text("4")
    expect(page.locator("#retry-offer")).to_contain_text("1 has no retries left")
    expect(page.locator("#retry-failed")).to_have_count(0)  # nothing left to retry


# -- the bulk page's wording ------------------------------------------------------------------


def test_bulk_form_speaks_to_a_person_and_counts_what_will_be_retried(
    dashboard: Dashboard, page: Page
) -> None:
    page.goto(dashboard.url("/bulk"))
    page.get_by_role("button", name="Count the failed jobs").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Choose a domain or a failure pattern to retry")
    expect(summary).not_to_contain_text("body")
    expect(summary).not_to_contain_text("failurePattern, errorContains or ids")

    page.get_by_label("Domain", exact=True).fill("wording.example")
    page.get_by_role("button", name="Count the failed jobs").click()
    expect(page.locator("#bulk-count")).to_contain_text("This touches 3 failed jobs")
    expect(page.locator("#bulk-confirm")).to_have_text("Retry 2 failed jobs")
    expect(page.locator("#bulk-breakdown")).to_have_text("2 can be retried; 1 has no retries left.")
    expect(page.get_by_role("button", name="Retry 3 failed jobs")).to_have_count(0)
    dashboard.shoot(page, "35-bulk-confirm-wording")


def test_retry_all_failed_without_javascript_is_a_plain_form_post(dashboard: Dashboard) -> None:
    with httpx.Client(base_url=dashboard.base) as client:
        confirm = client.get("/jobs/retry-failed", params={"domain": "nothing-failed.example"})
        assert confirm.status_code == 200 and "No failed job matches" in confirm.text
        bad = client.get("/jobs/retry-failed", params={"domain": "a b"})
        assert bad.status_code == 400 and "domain must not contain white space" in bad.text
        refused = client.post(
            "/jobs/retry-failed",
            data={"domain": "retry-all.example"},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert refused.status_code == 403
        assert dashboard.job(dashboard.ids["retry-all-page"])["status"] == "failed"


# -- the domain filter (issue 17 item 6) ----------------------------------------------------


def test_the_domain_filter_finds_a_site_however_it_was_spelled(
    dashboard: Dashboard, page: Page
) -> None:
    """A job submitted as an origin is found by host:port in the filter form, and the
    other way round; a job of another port is not."""
    created = [
        httpx.post(dashboard.url(JOBS), json={"domain": domain}).json()["data"]["id"]
        for domain in ("http://127.0.0.1:59999", "127.0.0.1:59999", "127.0.0.1:60001")
    ]
    for spelling in ("127.0.0.1:59999", "http://127.0.0.1:59999/"):
        page.goto(dashboard.url("/jobs"))
        page.get_by_role("textbox", name="Domain").fill(spelling)
        page.get_by_role("button", name="Filter").click()
        expect(rows(page)).to_have_count(2)
        assert sorted(row_ids(page)) == sorted(created[:2])
