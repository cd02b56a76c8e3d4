"""The jobs table's sortable headings and the words for its order.

Pure. Each sortable column links to the table sorted by it (the other way
round when it is the current sort), keeping the filters and search; the
store does the sorting (``JobManager.find_jobs(order=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from scrapejobs.queries import JobOrder, SortKey
from scrapejobs.web.jobs_table import JobFilters

__all__ = ["FIRST_ASCENDING", "SORT_WORDS", "SortHeader", "sort_description", "sort_headers"]

FIRST_ASCENDING = {SortKey.DOMAIN, SortKey.STATUS}
"""A column's first click: domains and statuses A to Z; the rest newest, highest, most first."""

SORT_WORDS = {
    SortKey.CREATED: ("newest first", "oldest first"),
    SortKey.UPDATED: ("most recently updated first", "least recently updated first"),
    SortKey.PRIORITY: ("highest priority first", "lowest priority first"),
    SortKey.RETRIES: ("most retries first", "fewest retries first"),
    SortKey.DOMAIN: ("by domain, Z to A", "by domain, A to Z"),
    SortKey.STATUS: ("by status, cancelled to pending", "by status, pending to cancelled"),
}
"""What the caption says of each order: (descending, ascending)."""


def sort_description(order: JobOrder) -> str:
    """``newest first``, ``highest priority first``...: what the caption says."""
    descending, ascending = SORT_WORDS[order.key]
    return descending if order.descending else ascending


@dataclass(frozen=True, slots=True)
class SortHeader:
    """One column heading; a sortable one links to the table sorted by it."""

    label: str
    key: str | None = None
    """The sort key (``SortKey``) when the column sorts."""
    numeric: bool = False
    query: str = ""
    """The query string of its link: this column, the other way round if it is current."""
    aria_sort: str | None = None
    """``ascending`` or ``descending`` on the column the table is sorted by."""
    indicator: str = ""
    action: str = ""
    """What following the link does, for screen readers: ``sort descending``."""


_COLUMNS: list[tuple[str, SortKey | None, bool]] = [
    ("Domain", SortKey.DOMAIN, False),
    ("Status", SortKey.STATUS, False),
    ("Retries", SortKey.RETRIES, True),
    ("Type", None, False),
    ("Priority", SortKey.PRIORITY, True),
    ("Failure pattern", None, False),
    ("Last error", None, False),
    ("Created", SortKey.CREATED, False),
    ("Updated", SortKey.UPDATED, False),
    ("Next run", None, False),
]


def _header(label: str, key: SortKey, numeric: bool, filters: JobFilters) -> SortHeader:
    current = filters.sort.key is key
    target = filters.sort.reversed() if current else JobOrder(key, key not in FIRST_ASCENDING)
    direction = "descending" if filters.sort.descending else "ascending"
    return SortHeader(
        label,
        key.value,
        numeric,
        filters.query(sort=target),
        aria_sort=direction if current else None,
        indicator=("▼" if filters.sort.descending else "▲") if current else "",
        action="sort descending" if target.descending else "sort ascending",
    )


def sort_headers(filters: JobFilters) -> list[SortHeader]:
    """The jobs table's headings, in order, the sortable ones with their links."""
    return [
        _header(label, key, numeric, filters) if key else SortHeader(label, numeric=numeric)
        for label, key, numeric in _COLUMNS
    ]
