"""The crawler: the only part of scrapejobs that knows aiohttp, HTML and robots.txt.

``Crawler.crawl(spec, on_pages)`` runs one attempt of a job (CONTRACT 7)
and either returns a :class:`CrawlSummary` or raises :class:`CrawlFailed`
with a classified :class:`~scrapejobs.failures.Failure`.

Modules, from the edge inwards::

    guard     the SSRF address policy, the guarded resolver, IP-literal checks
    errors    aiohttp exceptions and HTTP statuses -> Failure; Retry-After
    fetch     one GET: guard, manual redirects, size cap
    urls      start URL, normalisation and canonical queries, cached link resolution
    parse     bytes -> text as browsers decode it (w3lib); HTML -> title, text, links (selectolax)
    robots    robots.txt, as RFC 9309 reads it (protego)
    sitemap   sitemap and sitemap-index reading, streamed (lxml)
    pacing    delay / Crawl-delay / slow-down on 429 and 503
    retries   in-crawl retries of transient failures
    requests  a crawl's GETs: paced, retried, within its deadline and its site's holds
    gate      the sites held back for every crawl of a Crawler (a process)
    pages     page records
    batch     batches of pages to the caller
    run       one crawl: frontier and workers
    crawl     the Crawler: the shared session
"""

from scrapejobs.crawler.crawl import Crawler
from scrapejobs.crawler.gate import SiteGate, SiteHeld
from scrapejobs.crawler.guard import AddressPolicy, BlockedAddress
from scrapejobs.crawler.model import CrawlFailed, CrawlSpec, CrawlSummary, Page

__all__ = [
    "AddressPolicy",
    "BlockedAddress",
    "CrawlFailed",
    "CrawlSpec",
    "CrawlSummary",
    "Crawler",
    "Page",
    "SiteGate",
    "SiteHeld",
]
