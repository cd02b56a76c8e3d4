"""The demo site: a small web site on loopback that misbehaves on purpose, one page per behaviour.

Served with ``aiohttp.web`` on 127.0.0.1, on ports the system picks (the
same pages on each; the demo gives each behaviour a port, so each is a site
of its own), in the demo's own event loop. Every answer depends only on how many times its
page was asked for, never on the clock, so each demo run ends the same way::

    /robots.txt   disallows /private/ for every user agent
    /shop/        answers at once
    /flaky/       503 to its first ``failing`` requests, then 200
    /busy/        429 with ``Retry-After: 3`` to its first ``failing`` requests, then 200
    /slow/        answers after SLOW_SECONDS (2.4 s)
    /gone/        404 (as does any path not listed here)
    /private/     a page robots.txt forbids; it counts if anyone asks for it anyway

Each page but the 404 links to two pages below it (``/shop/1``,
``/shop/2``...), which answer at once, so a crawl records three pages.
``failing`` is what one attempt of a job asks for a failing start page: its
first request and the crawler's in-crawl retries.

Every request is logged (``scrapejobs.demo``, with its port) and counted
in :attr:`DemoSite.hits`, so what the crawler asked for can be checked.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import escape

from aiohttp import web

__all__ = ["DISALLOWED", "HOST", "RETRY_AFTER_SECONDS", "SLOW_SECONDS", "DemoSite", "serving"]

log = logging.getLogger("scrapejobs.demo")

HOST = "127.0.0.1"
SLOW_SECONDS = 2.4
"""How long /slow/ takes: over the slow job's first timeout (2 s), under the
timeout its automatic retry gets (2 s x 1.5 = 3 s)."""
RETRY_AFTER_SECONDS = 3
DISALLOWED = "/private/"
ROBOTS_TXT = f"User-agent: *\nDisallow: {DISALLOWED}\n"
SECTIONS = {
    "shop": "A page that simply works.",
    "flaky": "Answers 503 Service Unavailable to a first attempt, then works.",
    "busy": f"Answers 429 Too Many Requests (Retry-After: {RETRY_AFTER_SECONDS}) at first.",
    "slow": f"Takes {SLOW_SECONDS} s to answer.",
    "private": "robots.txt disallows this page.",
}
"""The sections with pages (``/gone/`` has none), and what each does."""


def _html(title: str, body: str) -> str:
    head = f"<head><title>{escape(title)}</title></head>"
    return f"<!doctype html><html>{head}<body>{body}</body></html>"


def _section_page(section: str) -> str:
    links = "".join(f'<li><a href="/{section}/{n}">{section} {n}</a></li>' for n in (1, 2))
    body = f"<p>{escape(SECTIONS[section])}</p><ul>{links}</ul>"
    return _html(f"{section} - scrapejobs demo", body)


def _index_page() -> str:
    items = "".join(
        f'<li><a href="/{name}/">/{name}/</a>: {escape(text)}</li>'
        for name, text in SECTIONS.items()
    )
    gone = '<li><a href="/gone/">/gone/</a>: 404 Not Found.</li>'
    return _html("scrapejobs demo site", f"<h1>scrapejobs demo site</h1><ul>{items}{gone}</ul>")


@dataclass(eq=False)
class DemoSite:
    """The site's behaviour, where it listens and what it was asked for."""

    failing: int = 3
    """Requests of /flaky/ and /busy/ that fail before they work."""
    ports: int = 1
    """Ports to listen on, the same pages on each: each port is a site of its own
    for scrapejobs (its politeness, cooldowns and circuit), so the demo gives each
    behaviour one, and one page's cooldown does not hold back the others."""
    origins: list[str] = field(default_factory=list)
    """``http://127.0.0.1:<port>``, one per port, once :func:`serving` has started it."""
    hits: Counter[tuple[int, str]] = field(default_factory=Counter)
    """Requests per (port, path)."""

    async def handle(self, request: web.Request) -> web.Response:
        path, port = request.path, _port_of(request)
        self.hits[port, path] += 1
        try:
            response = await self.answer(path, self.hits[port, path])
        except asyncio.CancelledError:
            log.info("demo site :%d: %s %s -> the client gave up", port, request.method, path)
            raise
        log.info("demo site :%d: %s %s -> %d", port, request.method, path, response.status)
        return response

    def hits_of(self, path: str) -> int:
        """Requests of ``path``, on any port."""
        return sum(count for (_, hit_path), count in self.hits.items() if hit_path == path)

    async def answer(self, path: str, hit: int) -> web.Response:
        """The answer to the ``hit``-th request of ``path`` (1 for the first)."""
        if path == "/robots.txt":
            return web.Response(text=ROBOTS_TXT)
        if path == "/":
            return web.Response(text=_index_page(), content_type="text/html")
        section, _, rest = path.strip("/").partition("/")
        if section not in SECTIONS or rest not in ("", "1", "2"):
            return web.Response(status=404, text="404: Not Found")
        if rest:
            up = f'<p>Page {rest} of <a href="/{section}/">{section}</a>.</p>'
            return web.Response(text=_html(f"{section} {rest}", up), content_type="text/html")
        if section == "flaky" and hit <= self.failing:
            return web.Response(status=503, text="503: Service Unavailable (on purpose)")
        if section == "busy" and hit <= self.failing:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            return web.Response(status=429, text="429: Too Many Requests", headers=headers)
        if section == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        return web.Response(text=_section_page(section), content_type="text/html")


def _port_of(request: web.Request) -> int:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if sockname else 0


@asynccontextmanager
async def serving(site: DemoSite) -> AsyncIterator[DemoSite]:
    """Serve ``site`` on 127.0.0.1, on ``site.ports`` free ports, until the block ends."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", site.handle)
    # handler_cancellation: a crawler that gave up on /slow/ cancels its answer.
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, handler_cancellation=True, shutdown_timeout=1.0
    )
    await runner.setup()
    try:
        for _ in range(site.ports):
            await web.TCPSite(runner, HOST, 0).start()
        site.origins = [f"http://{HOST}:{address[1]}" for address in runner.addresses]
        yield site
    finally:
        await runner.cleanup()
