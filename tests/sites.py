"""Scripted local web sites for worker tests: real aiohttp servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hit:
    path: str
    at: float
    user_agent: str


@dataclass
class Site:
    """A site whose routes a test scripts; it records every request it gets."""

    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    origin: str = ""

    def hits_of(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(Hit(request.path, time.monotonic(), request.headers.get("User-Agent", "")))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)


def html(body: str, title: str = "page") -> web.Response:
    page = f"<html><head><title>{title}</title></head><body>{body}</body></html>"
    return web.Response(text=page, content_type="text/html")


def page(body: str = "", title: str = "page") -> Handler:
    async def handler(_request: web.Request) -> web.Response:
        return html(body, title)

    return handler


@asynccontextmanager
async def serve_site(site: Site, port: int = 0) -> AsyncIterator[Site]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", site._dispatch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", port)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    site.origin = f"http://127.0.0.1:{port}"
    try:
        yield site
    finally:
        await runner.cleanup()


@dataclass
class Seen:
    """What a counting site saw: every arrival, and the most requests in flight at once
    from ``since`` on (a test sets it once the fleet under test has settled)."""

    since: float = float("inf")
    in_flight: int = 0
    peak: int = 0
    arrivals: list[float] = field(default_factory=list)

    def most_in(self, window: float) -> int:
        """The most arrivals from ``since`` on within any ``window`` seconds."""
        times = [at for at in self.arrivals if at >= self.since]
        return max(sum(1 for t in times if start <= t < start + window) for start in times)

    def counted(self, body: str, pause: float) -> Handler:
        """A page that answers after ``pause`` seconds, each request counted."""

        async def handler(_request: web.Request) -> web.Response:
            arrived = time.monotonic()
            self.arrivals.append(arrived)
            self.in_flight += 1
            if arrived >= self.since:
                self.peak = max(self.peak, self.in_flight)
            try:
                await asyncio.sleep(pause)
                return html(body)
            finally:
                self.in_flight -= 1

        return handler


def counting_site(seen: Seen, jobs: int, pages: int, pause: float) -> Site:
    """Jobs' start pages ``/{job}/`` link to ``pages`` pages each; every request counted."""
    site = Site()
    for job in range(jobs):
        links = "".join(f'<a href="/{job}/{n}">p</a>' for n in range(pages))
        site.routes[f"/{job}/"] = seen.counted(links, pause)
        for n in range(pages):
            site.routes[f"/{job}/{n}"] = seen.counted("page", pause)
    return site
