"""Browser fixtures for the dashboard tests: Debian's Chromium, and where screenshots go.

Chromium is not optional: without it the dashboard tests fail with a message
saying how to install it (``.ci/run`` and ``make test`` do), never skip.
Playwright's own browser download does not work here, so the tests launch
the system's ``chromium`` (``SCRAPEJOBS_TEST_CHROMIUM`` overrides the path).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

SCREENSHOTS = pytest.StashKey[Path]()


def chromium_executable() -> str:
    configured = os.environ.get("SCRAPEJOBS_TEST_CHROMIUM")
    candidates = [configured] if configured else [shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(
        f"Chromium not found (looked for {', '.join(str(c) for c in candidates)}). "
        "The dashboard tests drive Debian's chromium: install it with "
        "`apt-get install chromium` (.ci/run and `make test` do), "
        "or point SCRAPEJOBS_TEST_CHROMIUM at a Chromium binary.",
        pytrace=False,
    )


OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
"""Every host name but loopback's fails to resolve, as on a machine without a network."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, one per test module, with no route to any host but loopback:
    every page is tested as on a machine without internet (no CDN, no web font)."""
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=[OFFLINE]
        )
        yield launched
        launched.close()


def policy_violation(message: ConsoleMessage) -> bool:
    """A console message that says the Content-Security-Policy refused something."""
    return "Content Security Policy" in message.text or "Refused to" in message.text


@pytest.fixture(scope="module")
def laptop(browser: Browser) -> Iterator[BrowserContext]:
    """One laptop-sized browser context for the module (a context per test costs seconds)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(laptop: BrowserContext) -> Iterator[Page]:
    """A fresh page that fails the test on script errors or CSP violations."""
    page = laptop.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if policy_violation(message) else None,
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield page
    page.close()
    assert not problems, problems


@pytest.fixture(scope="session")
def screenshot_dir(pytestconfig: pytest.Config) -> Path:
    """``test-artifacts/screenshots/`` (gitignored), emptied of the last run's PNGs."""
    path = pytestconfig.rootpath / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    pytestconfig.stash[SCREENSHOTS] = path
    return path


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    path = config.stash.get(SCREENSHOTS, None)
    if path is not None:
        count = len(list(path.glob("*.png")))
        terminalreporter.write_line(f"dashboard screenshots: {path} ({count} PNG files)")
