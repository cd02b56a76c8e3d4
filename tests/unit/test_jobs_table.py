"""The jobs table's view models (``web/jobs_table.py``, ``web/jobs_sort.py``) and the bulk
wording: plain values."""

from __future__ import annotations

import pytest

from scrapejobs.jobs import JobStatus
from scrapejobs.queries import NEWEST_FIRST, JobOrder, SortKey
from scrapejobs.web import forms, jobs_sort, jobs_table
from scrapejobs.web.jobs_table import JobFilters
from tests.factories import build_job

# -- the query string --------------------------------------------------------------------


def test_search_and_sort_travel_in_the_query_string() -> None:
    filters, errors = jobs_table.parse_filters(
        {"search": "  shop.example/Cat ", "sort": "-priority", "page": "2"}
    )
    assert errors == {}
    assert filters == JobFilters(
        page=2, search="shop.example/Cat", sort=JobOrder(SortKey.PRIORITY, descending=True)
    )
    assert filters.query() == "search=shop.example%2FCat&sort=-priority&page=2"
    # Changing the sort, a filter or the search goes back to page 1; the rest is kept.
    assert filters.query(sort=JobOrder(SortKey.DOMAIN, False)) == (
        "search=shop.example%2FCat&sort=domain"
    )
    assert filters.query(status=JobStatus.FAILED) == (
        "status=failed&search=shop.example%2FCat&sort=-priority"
    )
    assert JobFilters(sort=NEWEST_FIRST).query() == ""  # the default is left out
    assert filters.filtered and not JobFilters(sort=JobOrder(SortKey.DOMAIN), page=3).filtered


def test_a_bad_sort_falls_back_to_newest_first_and_says_so() -> None:
    filters, errors = jobs_table.parse_filters({"sort": "password", "status": "failed"})
    assert filters.sort == NEWEST_FIRST and filters.status is JobStatus.FAILED
    assert errors == {
        "sort": "Unknown sort 'password': sort by one of created, updated, priority, "
        "retries, domain, status; a leading - sorts descending. Showing the newest first."
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x" * 501, "search must be at most 500 characters"),
        ("a\x00b", "search must not contain control characters"),
    ],
)
def test_a_bad_search_is_reported(raw: str, message: str) -> None:
    filters, errors = jobs_table.parse_filters({"search": raw})
    assert (filters.search, errors) == (None, {"search": message})


def test_an_empty_search_is_no_search() -> None:
    assert jobs_table.parse_filters({"search": "   "}) == (JobFilters(), {})


# -- sortable headings ---------------------------------------------------------------------


def _headers(filters: JobFilters) -> dict[str, jobs_sort.SortHeader]:
    return {header.label: header for header in jobs_sort.sort_headers(filters)}


def test_headings_link_to_their_sort_and_mark_the_current_one() -> None:
    headers = _headers(JobFilters(domain="example.com", page=3))
    assert [h.label for h in jobs_sort.sort_headers(JobFilters())] == [
        "Domain", "Status", "Retries", "Type", "Priority", "Failure pattern",
        "Last error", "Created", "Updated", "Next run",
    ]  # fmt: skip
    assert headers["Type"].key is None and headers["Type"].query == ""
    # The default (newest first) is the Created column, descending; a click turns it round.
    created = headers["Created"]
    assert (created.aria_sort, created.indicator) == ("descending", "▼")
    assert (created.query, created.action) == ("domain=example.com&sort=created", "sort ascending")
    # Other columns: their first click is the useful direction, page back to 1.
    assert headers["Priority"].query == "domain=example.com&sort=-priority"
    assert headers["Priority"].aria_sort is None and headers["Priority"].indicator == ""
    assert headers["Domain"].query == "domain=example.com&sort=domain"
    assert headers["Status"].action == "sort ascending"
    assert headers["Retries"].numeric

    by_priority = _headers(JobFilters(sort=JobOrder(SortKey.PRIORITY, descending=True)))
    assert by_priority["Priority"].aria_sort == "descending"
    assert by_priority["Priority"].query == "sort=priority"
    assert by_priority["Created"].aria_sort is None
    assert by_priority["Created"].query == ""  # newest first: the default
    ascending = _headers(JobFilters(sort=JobOrder(SortKey.DOMAIN, descending=False)))
    assert (ascending["Domain"].aria_sort, ascending["Domain"].indicator) == ("ascending", "▲")
    assert ascending["Domain"].query == "sort=-domain"


def test_the_caption_says_the_order() -> None:
    assert jobs_sort.sort_description(NEWEST_FIRST) == "newest first"
    assert jobs_sort.sort_description(JobOrder(SortKey.STATUS, False)) == (
        "by status, pending to cancelled"
    )
    for key in SortKey:  # every order has words
        for descending in (True, False):
            assert jobs_sort.sort_description(JobOrder(key, descending))


# -- pages -----------------------------------------------------------------------------------


def test_pages_link_to_both_ends_and_keep_the_filters_for_a_jump() -> None:
    filters = JobFilters(domain="example.com", sort=JobOrder(SortKey.UPDATED), page=2)
    p = jobs_table.paginate(100, filters, size=25)
    assert (p.page, p.pages) == (2, 4)
    assert p.first_query == "domain=example.com&sort=-updated"
    assert p.last_query == "domain=example.com&sort=-updated&page=4"
    assert p.kept == (("domain", "example.com"), ("sort", "-updated"))
    first = jobs_table.paginate(100, JobFilters(page=1), size=25)
    assert (first.first_query, first.last_query) == (None, "page=4")
    last = jobs_table.paginate(100, JobFilters(page=99), size=25)
    assert (last.page, last.first_query, last.last_query) == (4, "", None)


# -- retrying the failed jobs of the filter ----------------------------------------------------


def test_the_retry_offer_counts_what_will_be_retried() -> None:
    filters = JobFilters(domain="example.com", sort=JobOrder(SortKey.PRIORITY), page=3)
    offer = jobs_table.retry_offer(4, 3, filters)
    assert offer == jobs_table.RetryOffer(
        4, 3, "Retry 3 failed jobs", "3 can be retried; 1 has no retries left", "domain=example.com"
    )
    failed_only = jobs_table.retry_offer(1, 1, JobFilters(status=JobStatus.FAILED))
    assert failed_only is not None and failed_only.label == "Retry 1 failed job"
    assert failed_only.query == ""  # the status is the page's, not the retry's
    assert jobs_table.retry_offer(0, 0, filters) is None
    assert jobs_table.retry_offer(2, 2, JobFilters(status=JobStatus.PENDING)) is None


@pytest.mark.parametrize(
    ("retryable", "exhausted", "words"),
    [
        (3, 1, "3 can be retried; 1 has no retries left"),
        (2, 0, "2 can be retried"),
        (0, 2, "2 have no retries left"),
        (1, 3, "1 can be retried; 3 have no retries left"),
        (0, 0, "0 can be retried"),
    ],
)
def test_retry_breakdown(retryable: int, exhausted: int, words: str) -> None:
    assert forms.retry_breakdown(retryable, exhausted) == words


def test_the_bulk_button_counts_the_jobs_under_their_limit() -> None:
    jobs = [build_job(retry_count=n, max_retries=3) for n in (0, 1, 3, 2)]
    preview = forms.bulk_preview(jobs, matched=4)
    assert (preview.button, preview.breakdown) == (
        "Retry 3 failed jobs",
        "3 can be retried; 1 has no retries left",
    )


def test_scope_terms_name_the_filters() -> None:
    filters = JobFilters(status=JobStatus.FAILED, domain="example.com", search="shop")
    assert jobs_table.scope_terms(filters) == [("domain", "example.com"), ("search", "shop")]
    assert jobs_table.scope_terms(JobFilters()) == []
