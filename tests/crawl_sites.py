"""Local web sites for crawler tests: real servers on loopback, one scripted behaviour each.

A :class:`ScriptedSite` maps paths to handlers and records every request it
gets (path, query, time, headers), so a test can assert what a crawler
asked for, how often and how fast. :func:`serve` runs it with aiohttp on
127.0.0.1 (or any loopback address) on a free port. For faults below HTTP
there are :func:`raw_server` (an asyncio server with a connection callback),
:func:`reset_after_request` (answers with a TCP RST) and :func:`closed_port`
(nothing listens).

Handlers are built with small factories: :func:`page`, :func:`links`,
:func:`statuses`, :func:`redirect`, :func:`content`, and ``site.hang``
(never answers until the site stops). :func:`tree_site` generates a whole
site with a known depth for every page.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import escape

from aiohttp import web

__all__ = [
    "Handler",
    "Hit",
    "ScriptedSite",
    "closed_port",
    "content",
    "depth_counts",
    "html_page",
    "links",
    "page",
    "raw_server",
    "read_request",
    "redirect",
    "reset_after_request",
    "serve",
    "statuses",
    "tree_site",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class Hit:
    """One request a site received."""

    path: str
    query: str
    at: float
    """``time.monotonic()`` when the request arrived (the event loop's clock too)."""
    headers: Mapping[str, str]


@dataclass
class ScriptedSite:
    """A site whose routes a test scripts; unknown paths are 404s."""

    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    origin: str = ""
    """``http://host:port`` once served."""
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    """Set at each request (a test clears it to wait for the next one)."""
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the server stops: :meth:`hang` handlers return then."""

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def paths(self, *, robots: bool = False) -> list[str]:
        """Paths requested, in order (``/robots.txt`` left out unless asked)."""
        return [hit.path for hit in self.hits if robots or hit.path != "/robots.txt"]

    def count(self, path: str) -> int:
        return Counter(self.paths(robots=True))[path]

    def times(self, *, robots: bool = False) -> list[float]:
        return [hit.at for hit in self.hits if robots or hit.path != "/robots.txt"]

    async def hang(self, _request: web.Request) -> web.StreamResponse:
        """A handler that answers only when the site stops (for timeouts, cancellation)."""
        await self.closing.wait()
        return web.Response(text="too late")

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(
            Hit(request.path, request.query_string, time.monotonic(), dict(request.headers))
        )
        self.arrived.set()
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)


@asynccontextmanager
async def serve(
    site: ScriptedSite | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[ScriptedSite]:
    """Serve ``site`` on ``host`` (a free port by default) until the block ends."""
    site = site or ScriptedSite()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", site._dispatch)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    tcp = web.TCPSite(runner, host, port)
    await tcp.start()
    server = tcp._server
    assert isinstance(server, asyncio.Server)
    site.port = server.sockets[0].getsockname()[1]
    site.origin = f"http://[{host}]:{site.port}" if ":" in host else f"http://{host}:{site.port}"
    try:
        yield site
    finally:
        site.closing.set()
        await runner.cleanup()


def html_page(body: str = "", title: str = "page", head: str = "") -> web.Response:
    document = f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>"
    return web.Response(text=document, content_type="text/html")


def page(body: str = "", title: str = "page", head: str = "") -> Handler:
    """An HTML page."""

    async def handler(_request: web.Request) -> web.Response:
        return html_page(body, title, head)

    return handler


def links(*hrefs: str, title: str = "page", head: str = "") -> Handler:
    """An HTML page that links to ``hrefs``."""
    anchors = "".join(f'<a href="{escape(href)}">{escape(href)}</a> ' for href in hrefs)
    return page(f"<p>{anchors}</p>", title, head)


def statuses(
    *codes: int, headers: Mapping[str, str] | None = None, then: Handler | None = None
) -> Handler:
    """Answer with each status in turn, then with ``then`` (a page by default) for ever."""
    queue = list(codes)

    async def handler(request: web.Request) -> web.StreamResponse:
        if queue:
            return web.Response(status=queue.pop(0), headers=headers, text="error")
        return await (then or page())(request)

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handler


def content(body: bytes, content_type: str, *, chunked: bool = False, status: int = 200) -> Handler:
    """Any body, written in 1 KiB pieces; ``chunked`` sends no Content-Length."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status)
        response.headers["Content-Type"] = content_type
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(body)
        await response.prepare(request)
        for start in range(0, len(body), 1024):
            await response.write(body[start : start + 1024])
        await response.write_eof()
        return response

    return handler


def tree_site(fanout: int, depth: int) -> tuple[ScriptedSite, dict[str, int]]:
    """A site of ``fanout``-ary tree pages down to ``depth``, and each page's depth.

    Every page links to its children, back to ``/`` and to its parent (so
    that only de-duplication keeps a crawl finite).
    """
    site = ScriptedSite()
    depths: dict[str, int] = {}

    def add(path: str, level: int, parent: str) -> None:
        depths[path] = level
        stem = path.strip("/") or "r"
        children = [] if level == depth else [f"/{stem}-{k}" for k in range(fanout)]
        site.routes[path] = links(*children, "/", parent, title=path)
        for child in children:
            add(child, level + 1, path)

    add("/", 0, "/")
    return site, depths


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` where nothing listens (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def raw_server(
    on_connection: ConnectionHandler, host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """A plain TCP server calling ``on_connection``; yields its ``http://host:port`` origin."""
    server = await asyncio.start_server(on_connection, host, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The head of one HTTP request (empty if the client went away first)."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""


def reset_after_request(requests: list[bytes]) -> ConnectionHandler:
    """Read a request (appended to ``requests``), then abort the connection with an RST."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await read_request(reader))
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    return on_connection


def depth_counts(depths: Iterable[int]) -> dict[int, int]:
    """How many items at each depth, e.g. ``{0: 1, 1: 3}``."""
    return dict(sorted(Counter(depths).items()))
