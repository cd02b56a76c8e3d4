"""Bounded request bodies: a size limit (413) and a timeout for a stalled body (408).

A pure ASGI middleware in front of every route. It reads a request's whole
body itself, through ``receive``, before any route runs:

- a declared ``Content-Length`` over the limit is refused at once, without
  reading a byte of the body;
- a body without one (``Transfer-Encoding: chunked``) is counted as its
  chunks arrive and refused as soon as the count passes the limit;
- a client that sends no body bytes for ``client_timeout`` seconds gets 408.

Both refusals are the seed's error envelope with ``Connection: close``, so
the server drops the rest of the body instead of reading it. A body within
the limit is replayed to the route unchanged. Reading it here, rather than
counting while the route reads it, means nothing is parsed or written for a
refused request, and no route's own body handling (FastAPI turns errors
raised while it reads a body into 400s) can change the answer.

Headers are bounded by the server, not here: an ASGI app is first called
once the headers are complete (``web/serving.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scrapejobs.web.envelope import failure

__all__ = ["BoundedRequests", "has_body"]

CLOSE = {"Connection": "close"}


class _Refused(Exception):
    """Why a body was not read to its end: the status and envelope to answer with."""

    def __init__(self, status: int, error: str, details: Any) -> None:
        super().__init__(error)
        self.status, self.error, self.details = status, error, details


class _ClientGone(Exception):
    """The client disconnected before its body was complete: nobody to answer."""


class BoundedRequests:
    """Refuse bodies over ``max_body_bytes`` (413) and bodies stalled ``client_timeout`` s (408)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, client_timeout: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.client_timeout = client_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_body(scope):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
        except _ClientGone:
            return
        except _Refused as refused:
            response = failure(refused.status, refused.error, refused.details, headers=CLOSE)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            raise self._too_large(f"Content-Length is {declared} bytes")
        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await self._next_message(receive)
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large(f"the streamed body passed {self.max_body_bytes} bytes")
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        return b"".join(chunks)

    async def _next_message(self, receive: Receive) -> Message:
        try:
            async with asyncio.timeout(self.client_timeout):
                return await receive()
        except TimeoutError:
            raise _Refused(
                408,
                "Request timeout",
                f"no body bytes received for {self.client_timeout:g} seconds",
            ) from None

    def _too_large(self, what: str) -> _Refused:
        return _Refused(
            413, "Request body too large", f"{what}; the limit is {self.max_body_bytes} bytes"
        )


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", ())}


def has_body(scope: Scope) -> bool:
    """HTTP/1.1 framing: a request has a body only when it declares one (RFC 9112, 6.3)."""
    headers = _headers(scope)
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0"


def _content_length(scope: Scope) -> int | None:
    value = _headers(scope).get(b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:  # the server refuses a malformed length; count the bytes anyway
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read above as one message, then the server's own ``receive`` (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
