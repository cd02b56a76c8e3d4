"""What the demo may crawl: its own site on loopback, and nothing else.

``scrapejobs demo`` must reach its loopback site, which the SSRF guard
(``crawler/guard.py``) refuses by default. Instead of turning on
``allow_private_networks`` (every private, loopback and link-local address,
every port), the demo's worker gets a crawler with two locks of its own, so
that even a job someone submits on the demo's dashboard reaches nothing else:

* :class:`DemoCrawler` fails, before any request, every attempt of a job
  whose site is not one of the demo site's (``127.0.0.1:<port>``, one port
  per behaviour):
  not the service's own port, not another local service, not the internet.
  The failure is ``invalid_url`` (``configuration``), never retried.
* :class:`OnlyAddress`, its address policy, lets connections reach the demo
  site's address and no other (public ones included): the guard's own checks
  for whatever the job check cannot see, such as a redirect (the demo site
  sends none). The guard knows addresses, not ports; the job check adds the
  port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scrapejobs.crawler import AddressPolicy, BlockedAddress, Crawler, CrawlFailed, CrawlSpec
from scrapejobs.crawler.batch import OnPages
from scrapejobs.crawler.model import CrawlSummary
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.sites import site_of

__all__ = ["DemoCrawler", "OnlyAddress"]


@dataclass(frozen=True, slots=True)
class OnlyAddress(AddressPolicy):
    """Connections may reach ``address`` and nothing else."""

    address: str = "127.0.0.1"

    def check(self, address: str) -> None:
        if address != self.address:
            raise BlockedAddress(address, f"the demo connects to {self.address} only")


class DemoCrawler(Crawler):
    """A :class:`~scrapejobs.crawler.Crawler` that crawls the sites at ``origins`` only."""

    def __init__(self, origins: Sequence[str], host: str) -> None:
        super().__init__(policy=OnlyAddress(address=host))
        self.origins = tuple(origins)
        self.sites = frozenset(site_of(origin) for origin in origins)

    def refusal(self, spec: CrawlSpec) -> str | None:
        """Why the demo does not crawl ``spec``, or None when it is on the demo site."""
        start = spec.config.get("startUrl")
        start_site = site_of(spec.domain, start if isinstance(start, str) else None)
        others = {site_of(spec.domain), start_site} - self.sites
        if not others:
            return None
        return f"the demo crawls its own site only ({', '.join(self.origins)}), not {min(others)}"

    async def crawl(self, spec: CrawlSpec, on_pages: OnPages) -> CrawlSummary:
        refusal = self.refusal(spec)
        if refusal is not None:
            raise CrawlFailed(Failure(ErrorType.INVALID_URL, refusal))
        return await super().crawl(spec, on_pages)
