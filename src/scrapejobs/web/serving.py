"""How ``scrapejobs serve`` runs uvicorn so that slow or idle clients cannot hold it.

Two bounds that only the server can set (bodies are bounded in
``web/bounds.py``):

- **Open files.** Every connection is a file descriptor. Under the usual soft
  limit of 1,024, about a thousand clients that merely stay connected leave
  ``accept()`` failing (``EMFILE``) and every new connection, ``/healthz``
  included, is dropped. ``serve`` raises the soft limit to the hard limit
  (at most :data:`OPEN_FILES_CEILING`) before it listens.
- **Request headers.** uvicorn has no timeout for a request whose headers
  never finish (its keep-alive timeout covers only the gap between two
  requests, and any byte resets it), so a client that connects and sends
  nothing, or a header a byte at a time, holds its connection for good.
  :func:`header_deadline_protocol` gives each request ``seconds`` from the
  connection (or from its first byte, on a kept-alive connection) to the end
  of its headers, then closes the connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["OPEN_FILES_CEILING", "header_deadline_protocol", "raise_open_file_limit", "run"]

log = logging.getLogger(__name__)

OPEN_FILES_CEILING = 65_536
"""Enough connections for one process; kept finite when the hard limit is unlimited."""


def raise_open_file_limit(ceiling: int = OPEN_FILES_CEILING) -> int | None:
    """Raise this process's soft ``RLIMIT_NOFILE`` to its hard limit (capped); the new soft limit.

    Never lowers it. None where the platform has no such limit.
    """
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    return soft


class _HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's headers."""

    header_timeout: float = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a kept-alive connection's next request
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.debug("closing a connection whose request headers took %gs", self.header_timeout)
            self.transport.close()


def header_deadline_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's ``http`` protocol class, closing connections whose headers take ``seconds``."""
    return type("HeaderDeadlineProtocol", (_HeaderDeadline,), {"header_timeout": seconds})


def run(app: Any, *, host: str, port: int, log_level: str, client_timeout: float) -> None:
    """Serve ``app`` with uvicorn, after raising the open-file limit."""
    open_files = raise_open_file_limit()
    log.info(
        "open-file limit %s; request headers and bodies time out after %gs",
        open_files,
        client_timeout,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=header_deadline_protocol(client_timeout),
    )
