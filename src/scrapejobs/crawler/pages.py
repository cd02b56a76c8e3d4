"""Page records: what a crawl keeps of each response or failure."""

from __future__ import annotations

from datetime import UTC, datetime

from scrapejobs.crawler.errors import page_error
from scrapejobs.crawler.fetch import Response
from scrapejobs.crawler.model import Page
from scrapejobs.crawler.parse import Document, decode, is_html, parse_html
from scrapejobs.failures import Failure

__all__ = ["failed_page", "page_of"]

MAX_CONTENT_TYPE_CHARS = 200  # the pages table's column


def page_of(response: Response, depth: int) -> tuple[Page, Document | None]:
    """The record of a response, and its parsed HTML when it is a page worth parsing.

    Successful (2xx) HTML responses are parsed; a body cut at the size cap is
    parsed as far as it was read, and the page says it is ``truncated``.
    """
    failure = response.failure()
    error = page_error(failure) if failure else None
    document = None
    ok = error is None and 200 <= response.status < 300
    if ok and is_html(response.content_type, response.body):
        text = decode(response.body, response.content_type)
        document = parse_html(text, response.final_url)
    page = Page(
        url=response.url,
        final_url=response.final_url,
        status=response.status,
        depth=depth,
        content_type=_capped(response.content_type, MAX_CONTENT_TYPE_CHARS),
        title=document.title if document else None,
        text=document.text if document else None,
        links=len(document.hrefs) if document else 0,
        bytes=response.size,
        fetched_at=datetime.now(UTC),
        error=error,
        truncated=response.truncated,
    )
    return page, document


def _capped(value: str | None, limit: int) -> str | None:
    return value if value is None or len(value) <= limit else value[:limit]


def failed_page(url: str, depth: int, failure: Failure) -> Page:
    """The record of a page that got no response."""
    return Page(
        url=url,
        final_url=url,
        status=failure.http_status,
        depth=depth,
        content_type=None,
        title=None,
        text=None,
        links=0,
        bytes=0,
        fetched_at=datetime.now(UTC),
        error=page_error(failure),
    )
