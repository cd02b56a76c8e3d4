"""``/docs`` (Swagger UI) and ``/redoc`` in Chromium, with the machine offline.

The service must work without internet, so every request for a host other
than the server's own loopback address is aborted, as it would fail on a
machine without a network. Each page must then render the API's operations
with no request aborted, no script error, no Content-Security-Policy
violation and no failed local request. Screenshots go to
``test-artifacts/screenshots/api-docs-*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, Route, expect

from tests.e2e.conftest import policy_violation
from tests.servers import serve

RETRY_PATH = "/api/scrape-jobs/{job_id}/retry"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("api-docs")
    with serve(f"sqlite:///{folder / 'docs.db'}", workers=0, log=folder / "serve.log") as url:
        yield url


@dataclass
class Offline:
    """A page that can reach only loopback, and what went wrong on it."""

    page: Page
    aborted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def block_the_internet(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.aborted.append(route.request.url)
            route.abort("internetdisconnected")

    def on_console(self, message: ConsoleMessage) -> None:
        if policy_violation(message):
            self.problems.append(message.text)

    def on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} {response.url}")


@pytest.fixture
def offline(browser: Browser) -> Iterator[Offline]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    offline = Offline(context.new_page())
    context.route("**/*", offline.block_the_internet)  # workers and popups too
    offline.page.on("console", offline.on_console)
    offline.page.on("pageerror", lambda error: offline.problems.append(f"page error: {error}"))
    offline.page.on("response", offline.on_response)
    yield offline
    context.close()
    assert offline.aborted == [], "requests that need the internet"
    assert offline.problems == []


def assert_scripts_from_self_only(response: Response) -> None:
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy, policy


def test_swagger_ui_renders_offline_from_the_dashboard_link(
    base: str, offline: Offline, screenshot_dir: Path
) -> None:
    page = offline.page
    page.goto(base + "/")
    with page.expect_response(base + "/docs") as docs:
        page.get_by_role("link", name="API", exact=True).click()
    assert_scripts_from_self_only(docs.value)
    expect(page).to_have_title("scrapejobs - Swagger UI")
    retry = page.locator(f'.opblock-post .opblock-summary-path[data-path="{RETRY_PATH}"]')
    expect(retry).to_be_visible()
    expect(page.locator(".opblock")).not_to_have_count(0)
    retry.click()  # the operation opens: Swagger UI is running, not just painted
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    page.screenshot(path=screenshot_dir / "api-docs-swagger.png", full_page=True)


def test_redoc_renders_offline(base: str, offline: Offline, screenshot_dir: Path) -> None:
    page = offline.page
    response = page.goto(base + "/redoc")
    assert response is not None
    assert_scripts_from_self_only(response)
    expect(page).to_have_title("scrapejobs - ReDoc")
    expect(page.get_by_role("heading", name="scrapejobs (0.1.0)")).to_be_visible()
    operation = page.get_by_role("heading", name="Retry a failed job (the seed's endpoint)")
    expect(operation).to_be_visible()
    expect(page.get_by_text(RETRY_PATH, exact=True).first).to_be_attached()
    page.get_by_placeholder("Search...").fill("retry a failed")  # the search runs in a worker
    expect(page.get_by_role("menuitem", name="Retry a failed job")).not_to_have_count(0)
    page.screenshot(path=screenshot_dir / "api-docs-redoc.png")
