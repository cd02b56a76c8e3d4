"""The API docs, ``/docs`` (Swagger UI) and ``/redoc``, served from the package.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN (and ReDoc's
fonts from Google), so they are blank on a machine without internet. The app
turns them off (``docs_url=None, redoc_url=None``) and these routes serve the
same pages, with the same titles and OpenAPI URL, from ``/static``:
Swagger UI 5.35.0 and ReDoc 2.5.4, vendored like htmx (``docs/dashboard.md``
says why). Nothing on these pages asks for another host.

Swagger UI starts from ``static/swagger-ui-init.js`` instead of FastAPI's
inline script, so the pages are sent with a Content-Security-Policy that allows
scripts from ``'self'`` only. Styles may be inline: ReDoc writes its styles
into ``<style>`` elements at run time, and its search runs in a worker made
from a ``blob:`` URL. There is no OAuth2 redirect page, as the API has no OAuth.
"""

from __future__ import annotations

import html
import json

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, swagger_ui_default_parameters
from fastapi.responses import HTMLResponse

__all__ = ["DOCS_CONTENT_SECURITY_POLICY", "router"]

STATIC = "/static"
FAVICON = "data:,"  # as on the dashboard: no icon, and no request for one
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
DOCS_HEADERS = {
    "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Swagger UI's default validatorUrl is a public service; a null one asks nothing of it.
OFFLINE_PARAMETERS = {"validatorUrl": None}

router = APIRouter(include_in_schema=False)


def _root(request: Request) -> str:
    """The ASGI root path, so the pages work behind a proxy's prefix, as FastAPI's do."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def swagger_ui_page(title: str, static: str, config: dict[str, object]) -> str:
    """FastAPI's ``get_swagger_ui_html`` page, with its inline start-up script moved out."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="{FAVICON}">
<link rel="stylesheet" href="{html.escape(static)}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-config="{html.escape(json.dumps(config))}"></div>
<script src="{html.escape(static)}/swagger-ui-bundle.js"></script>
<script src="{html.escape(static)}/swagger-ui-init.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    app, root = request.app, _root(request)
    config = {
        "url": f"{root}{app.openapi_url}",
        **swagger_ui_default_parameters,
        **(app.swagger_ui_parameters or {}),
        **OFFLINE_PARAMETERS,
    }
    page = swagger_ui_page(f"{app.title} - Swagger UI", root + STATIC, config)
    return HTMLResponse(page, headers=DOCS_HEADERS)


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    app, root = request.app, _root(request)
    response = get_redoc_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{STATIC}/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )
    response.headers.update(DOCS_HEADERS)
    return response
