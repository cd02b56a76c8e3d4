"""Who a request acts as, what its role lets it do, and the guard against other sites.

A request names its key with ``Authorization: Bearer <token>``, or, from the
dashboard, with the session cookie set at sign-in (which holds the same
token). Routes declare the role they need (:data:`Viewer`, :data:`Worker`,
:data:`Operator`, :data:`Admin`); a missing or unknown key is a 401, a role
too low a 403, both in the envelope. While no key exists every request acts
with every right, as ``api`` (``dashboard`` from the dashboard's pages).

:class:`CrossSiteGuard` refuses, before any route runs, a state-changing
request that a browser marks as sent by another site's page (a form post,
``sendBeacon``, a ``no-cors`` fetch), keys or not: only a request with an
``Authorization`` header, which no page of another site can make a browser
add, is let through. A JSON route also refuses a body that is not JSON
(415), the other way a form or a beacon could pass for an API call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from scrapejobs.access import Caller, Role
from scrapejobs.manager import JobManager
from scrapejobs.web.bounds import has_body
from scrapejobs.web.envelope import failure
from scrapejobs.web.views import is_cross_site

__all__ = [
    "SESSION_COOKIE",
    "Admin",
    "CrossSiteGuard",
    "Operator",
    "Viewer",
    "Worker",
    "allow",
    "current_caller",
    "via",
]

SESSION_COOKIE = "scrapejobs_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="An API key's token: `scrapejobs keys create`")
_session = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Dashboard sign-in")


async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_session)],
) -> Caller:
    manager: JobManager = request.app.state.manager
    token = credentials.credentials if credentials else session
    caller = await manager.keys.authenticate(token or None, anonymous_as=via(request.url.path))
    request.state.caller = caller  # for the dashboard's templates
    return caller


def allow(role: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency: the request's caller, if its role allows ``role``; else a 403."""

    async def caller_with(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
        return caller.require(role)

    return caller_with


Viewer = Annotated[Caller, Depends(allow(Role.VIEWER))]
Worker = Annotated[Caller, Depends(allow(Role.WORKER))]
Operator = Annotated[Caller, Depends(allow(Role.OPERATOR))]
Admin = Annotated[Caller, Depends(allow(Role.ADMIN))]


def via(path: str) -> str:
    """``api`` for the JSON API's paths, ``dashboard`` for the rest: how a request came in."""
    return "api" if path.startswith("/api/") else "dashboard"


class CrossSiteGuard:
    """ASGI middleware: no state-changing request from another site's page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            refusal = _refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _refusal(scope: Scope) -> ASGIApp | None:
    headers = Headers(scope=scope)
    cross_site = is_cross_site(
        headers.get("origin"), headers.get("host"), headers.get("sec-fetch-site")
    )
    if cross_site and "authorization" not in headers:
        return failure(
            403,
            "Cross-site request refused",
            "a page of another site cannot change anything here; API clients send no Origin, "
            "or an Authorization header",
        )
    if via(scope["path"]) == "api" and has_body(scope) and not _is_json(headers):
        return failure(415, "Unsupported media type", "send the body as application/json")
    return None


def _is_json(headers: Headers) -> bool:
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")
