"""What every dashboard page shares: templates, security headers, the cross-site guard.

The dashboard's routes (``dashboard.py``, ``job_page.py``) render through
:func:`render`; templates autoescape everything, since domains, errors,
metadata and the titles of crawled pages are other people's text. Every page
is sent with a strict Content-Security-Policy (scripts and styles from
``/static`` only, no inline code, no eval). Every page needs a viewer
(:data:`PAGES`, ``auth.py``), and templates see who is signed in (``caller``)
and what they may do (``may("operator")``), to show only the buttons that
work; ``auth.CrossSiteGuard`` refuses other sites' posts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from scrapejobs.access import Caller, Role
from scrapejobs.errors import ScrapeJobsError
from scrapejobs.failures import FailurePattern
from scrapejobs.jobs import JobStatus, JobType
from scrapejobs.manager import JobManager
from scrapejobs.web import views
from scrapejobs.web.auth import allow
from scrapejobs.web.envelope import STATUS_OF_ERROR, validation_details

__all__ = [
    "HTMX_VERSION",
    "PAGES",
    "PAGE_METHODS",
    "STATIC_DIR",
    "Manager",
    "api_validation_details",
    "is_htmx",
    "render",
    "static_files",
    "status_of",
]

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
HTMX_VERSION = "2.0.11"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Vary": "HX-Request",
    "Cache-Control": "no-store",
}

PAGE_METHODS = ["GET", "HEAD"]  # pages answer HEAD too, for uptime checks


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=views.when, shorten=views.shorten, safe_href=views.safe_href)
    env.globals.update(
        statuses=[status.value for status in JobStatus],
        job_types=[job_type.value for job_type in JobType],
        failure_patterns=[pattern.value for pattern in FailurePattern],
        htmx_version=HTMX_VERSION,
    )
    return env


templates = Jinja2Templates(env=_environment())


def static_files() -> StaticFiles:
    """``/static``: htmx, the stylesheet and the small error-reporting script."""
    return StaticFiles(directory=STATIC_DIR)


def get_manager(request: Request) -> JobManager:
    manager: JobManager = request.app.state.manager
    return manager


Manager = Annotated[JobManager, Depends(get_manager)]


PAGES = [Depends(allow(Role.VIEWER))]
"""Every dashboard router's dependency: a signed-in viewer (or no keys at all)."""


def is_htmx(request: Request) -> bool:
    headers = request.headers
    return headers.get("hx-request") == "true" and "hx-history-restore-request" not in headers


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response: HTMLResponse = templates.TemplateResponse(
        request,
        name,
        {"nav": "", **_access(request), **context},
        status_code=status_code,
        headers={**PAGE_HEADERS, **(headers or {})},
    )
    return response


def _access(request: Request) -> dict[str, Any]:
    caller: Caller | None = getattr(request.state, "caller", None)
    return {
        "caller": caller,
        "may": lambda role: caller is not None and caller.role.allows(Role(role)),
    }


def api_validation_details(exc: ValidationError) -> list[dict[str, str]]:
    """A body's validation errors exactly as the API reports them (``envelope.py``)."""
    errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
    _, details = validation_details(RequestValidationError(errors))
    return details


def status_of(exc: ScrapeJobsError) -> int:
    return next(code for kind, code in STATUS_OF_ERROR if isinstance(exc, kind))
