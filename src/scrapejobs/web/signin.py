"""The dashboard's sign-in: a key's token in, a session cookie out; and sign-out.

The cookie holds the token itself, so a session lasts as long as its key:
revoking the key signs every session out at once, on every server, with no
session table to keep. It is ``HttpOnly`` (page scripts cannot read it),
``SameSite=Strict`` (no other site's request carries it) and ``Secure`` when
the dashboard is served over https (behind a proxy: ``X-Forwarded-Proto``).
A page asked for without a session answers with the sign-in form, and back
to the page after it.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from scrapejobs.errors import Unauthenticated
from scrapejobs.web.auth import SESSION_COOKIE
from scrapejobs.web.envelope import on_domain_error
from scrapejobs.web.pages import PAGE_METHODS, Manager, is_htmx, render

__all__ = ["install_sign_in", "router"]

router = APIRouter(include_in_schema=False)
SESSION_SECONDS = 7 * 24 * 3600
"""How long a browser keeps the session (the key may be revoked sooner)."""
NOT_PAGES = ("/api/", "/metrics", "/healthz", "/openapi.json", "/docs", "/redoc", "/static/")


def _local(target: str | None) -> str:
    """Where to go after signing in: a path of this site, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/jobs"
    return target


def _form(request: Request, target: str, error: str | None = None) -> HTMLResponse:
    context = {"nav": "login", "next": target, "error": error}
    return render(request, "login.html", context, status_code=401 if error else 200)


@router.api_route("/login", methods=PAGE_METHODS)
async def login_page(request: Request, manager: Manager, next: str | None = None) -> Response:
    if not await manager.keys.required():  # nothing to sign in to
        return RedirectResponse(_local(next), status_code=303)
    return _form(request, _local(next))


@router.post("/login")
async def sign_in(request: Request, manager: Manager) -> Response:
    form = await request.form()
    token, target = str(form.get("token") or "").strip(), _local(str(form.get("next") or ""))
    try:
        await manager.keys.authenticate(token or None)
    except Unauthenticated:
        return _form(request, target, "That is not the token of an active key.")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def sign_out() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    """A page without a session goes to the sign-in form; the API answers 401."""
    if request.url.path.startswith(NOT_PAGES):
        return await on_domain_error(request, exc)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = f"/login?next={quote(here, safe='')}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def install_sign_in(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(Unauthenticated, _to_sign_in)
