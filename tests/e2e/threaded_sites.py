"""Local web sites for synchronous e2e tests: ``crawl_sites`` servers on a background loop.

The CLI and client tests are plain (sync) tests that run subprocesses and
block on HTTP calls, so the sites they crawl live on an event loop of their
own, in a daemon thread, for as long as the ``with`` block lasts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager

from aiohttp import web

from tests.crawl_sites import Handler, ScriptedSite, serve

__all__ = ["always", "sites_in_background"]

WAIT = 30


@contextmanager
def sites_in_background(*sites: ScriptedSite) -> Iterator[tuple[ScriptedSite, ...]]:
    """Serve every site on 127.0.0.1 (each gets its ``origin``) until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-sites", daemon=True)
    thread.start()
    stack = AsyncExitStack()

    async def start() -> None:
        for site in sites:
            await stack.enter_async_context(serve(site))

    try:
        asyncio.run_coroutine_threadsafe(start(), loop).result(WAIT)
        yield sites
    finally:
        asyncio.run_coroutine_threadsafe(stack.aclose(), loop).result(WAIT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        loop.close()


def always(status: int) -> Handler:
    """Answer every request with ``status``."""

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(status=status, text="error")

    return handler
