"""In real Chromium: another site's page cannot change anything, and signing in works.

The service runs as ``scrapejobs serve`` on ``127.0.0.1``; the attacker's page
is served from ``localhost`` (another site to the browser) and fires what a
hostile page can send without the user's help: form posts to the API and to
the dashboard, ``navigator.sendBeacon`` and ``no-cors`` fetches. The server's
own request metrics say when they all arrived; the jobs say nothing changed.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from scrapejobs.access import Role
from scrapejobs.manager import JobManager
from scrapejobs.storage import SqlStore, migrate
from tests.factories import failed_job, job_request
from tests.servers import serve

JOBS = "/api/scrape-jobs"
ATTACKS = 6


def attacker_page(base: str, failed: str) -> str:
    return f"""<!doctype html><html><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="api" method="post" action="{base}{JOBS}/{failed}/retry" target="sink1"></form>
<form id="dash" method="post" action="{base}/jobs/{failed}/retry" target="sink2">
  <input name="x" value="1"></form>
<script>
navigator.sendBeacon("{base}{JOBS}/next", "claim");
navigator.sendBeacon("{base}{JOBS}", '{{"domain": "beacon.example"}}');
fetch("{base}{JOBS}/next", {{method: "POST", mode: "no-cors"}});
fetch("{base}{JOBS}", {{method: "POST", mode: "no-cors", body: '{{"domain": "fetch.example"}}'}});
document.getElementById("api").submit();
document.getElementById("dash").submit();
</script></body></html>"""


@pytest.fixture
def attacker() -> Iterator[tuple[str, dict[str, str]]]:
    """A site on ``localhost``: yields its origin and the pages it serves, by path."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "not found").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}", pages
    server.shutdown()


def seed(url: str, *, key: bool = False) -> dict[str, str]:
    """The jobs (and a key) to test with; in a thread, beside Playwright's event loop."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _seed(url, key=key)).result()


async def _seed(url: str, *, key: bool) -> dict[str, str]:
    store = SqlStore.from_url(url)
    await migrate.upgrade(store.engine)
    manager = JobManager(store)
    try:
        ids = {"failed": (await failed_job(manager)).id}
        pending, _ = await manager.create_job(job_request(domain="pending.example"))
        ids["pending"] = pending.id
        if key:
            _, ids["token"] = await manager.keys.create("ops", Role.OPERATOR, by="test")
        return ids
    finally:
        await store.close()


def refusals(base: str) -> int:
    text = httpx.get(f"{base}/metrics").text
    pattern = r'scrapejobs_http_request_duration_seconds_count\{[^}]*status="403"[^}]*\} (\S+)'
    return int(sum(float(count) for count in re.findall(pattern, text)))


def test_another_sites_page_changes_nothing(
    page: Page, tmp_path: Path, attacker: tuple[str, dict[str, str]]
) -> None:
    url = f"sqlite:///{tmp_path / 'access.db'}"
    ids = seed(url)
    origin, pages = attacker
    with serve(url, log=tmp_path / "serve.log") as base:
        pages["/"] = attacker_page(base, ids["failed"])
        page.goto(origin + "/")
        for _ in range(200):  # until all arrived (each is one request the server counts)
            if refusals(base) >= ATTACKS:
                break
            page.wait_for_timeout(50)
        assert refusals(base) == ATTACKS
        failed = httpx.get(f"{base}{JOBS}/{ids['failed']}").json()["data"]
        assert (failed["status"], failed["retry_count"]) == ("failed", 0)
        pending = httpx.get(f"{base}{JOBS}/{ids['pending']}").json()["data"]
        assert pending["status"] == "pending" and pending["attempts"] == []
        assert httpx.get(f"{base}{JOBS}").json()["pagination"]["total"] == 2

        # The dashboard's own page may: the guard refuses other sites, not the site.
        page.goto(f"{base}/jobs")
        status = page.evaluate(f"fetch('{JOBS}/next', {{method: 'POST'}}).then(r => r.status)")
        assert status == 200
        assert httpx.get(f"{base}{JOBS}/{ids['pending']}").json()["data"]["status"] == "running"


def test_signing_in_and_out_in_the_browser(page: Page, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'signin.db'}"
    ids = seed(url, key=True)
    with serve(url, log=tmp_path / "serve.log") as base:
        page.goto(f"{base}/jobs/{ids['failed']}")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.get_by_label("Token").fill("sjk_not-a-token")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#login-error")).to_contain_text("not the token of an active key")
        page.get_by_label("Token").fill(ids["token"])
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{base}/jobs/{ids['failed']}")
        expect(page.locator("#signed-in-as")).to_have_text("ops")
        cookie = next(c for c in page.context.cookies() if c["name"] == "scrapejobs_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        page.locator("#retry-button").click()
        expect(page.locator("#retry-status")).to_contain_text("Job scheduled for retry")
        job = httpx.get(
            f"{base}{JOBS}/{ids['failed']}", headers={"Authorization": f"Bearer {ids['token']}"}
        ).json()["data"]
        assert job["metadata"]["retriedBy"] == "ops"
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{base}/login")
        page.goto(f"{base}/jobs")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fjobs"))
