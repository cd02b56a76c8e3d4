"""``scrapejobs.Client`` against a real ``scrapejobs serve`` crawling local sites: every
operation, each typed exception in its own case, and the README's Python examples, run
as they are written there.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import scrapejobs
from scrapejobs import (
    Client,
    ClientError,
    JobNotFoundError,
    LeaseLostError,
    RequestRejectedError,
    RetryLimitExceededError,
    RetryNotAllowedError,
    ServerError,
    ServerUnavailableError,
)
from scrapejobs.client import server_url
from tests.crawl_sites import ScriptedSite, tree_site
from tests.e2e.threaded_sites import always, sites_in_background
from tests.servers import free_port, serve
from tests.unit.test_architecture import PACKAGE, imported_modules, is_within

README = PACKAGE.parents[1] / "README.md"
TIMEOUT = 60


@dataclass
class Sites:
    tree: ScriptedSite
    """Seven pages: / links to two pages, each linking to two more."""
    missing: ScriptedSite
    """404 everywhere: fails at once, never retried automatically."""
    odd: ScriptedSite
    """400 everywhere: an ``unknown`` failure, retried automatically (and at once, unlike
    a 503, which the crawl itself retries first) until the job's limit."""
    hang: ScriptedSite
    """Never answers until the site stops."""


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    tree, _ = tree_site(2, 2)
    missing, odd, hang = ScriptedSite(), ScriptedSite(), ScriptedSite()
    missing.routes["/"] = always(404)
    odd.routes["/"] = always(400)
    hang.routes["/"] = hang.hang
    with sites_in_background(tree, missing, odd, hang):
        yield Sites(tree, missing, odd, hang)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sites: Sites) -> Iterator[str]:
    home = tmp_path_factory.mktemp("client")
    with serve(
        f"sqlite:///{home / 'client.db'}",
        *("--allow-private-networks", "--retry-delays", "0.1", "--lease-seconds", "3"),
        workers=2,
        log=home / "server.log",
    ) as base:
        yield base


@pytest.fixture
def client(server: str) -> Iterator[Client]:
    with Client(server) as client:
        yield client


def finished(client: Client, domain: str, **fields: Any) -> dict[str, Any]:
    """A job of ``domain``, once it has completed, failed or been cancelled."""
    job = client.create_job(domain, **fields)
    return client.wait_for(job["id"], timeout=TIMEOUT, poll_interval=0.1)


# -- the operations ------------------------------------------------------------------------


def test_create_get_list_cancel_delete(client: Client, sites: Sites) -> None:
    fields: dict[str, Any] = {
        "job_type": "page_scrape",
        "priority": 8,
        "max_retries": 1,
        "config": {"depth": 0, "timeout": 60_000},
        "metadata": {"ticket": "OPS-2"},
        "idempotency_key": f"client-{uuid.uuid4()}",
    }
    job = client.create_job(sites.hang.origin, **fields)
    assert (job["job_type"], job["priority"], job["max_retries"]) == ("page_scrape", 8, 1)
    assert job["config"]["timeout"] == 60_000
    assert job["metadata"] == {"source": "api", "ticket": "OPS-2"}
    assert client.create_job(sites.hang.origin, **fields)["id"] == job["id"]

    fetched = client.get_job(job["id"])
    assert {"attempts", "pages_crawled"} <= set(fetched)
    page = client.list_jobs(domain=sites.hang.origin, job_type="page_scrape", limit=1)
    assert [listed["id"] for listed in page.jobs] == [job["id"]]
    assert (page.total, page.limit, page.offset) == (1, 1, 0)

    assert client.cancel_job(job["id"])["status"] == "cancelled"
    client.delete_job(job["id"])
    with pytest.raises(JobNotFoundError):
        client.get_job(job["id"])


def test_wait_for_follows_a_crawl_and_iter_results_streams_its_pages(
    client: Client, sites: Sites
) -> None:
    job = client.create_job(sites.tree.origin, config={"depth": 1})
    seen: list[dict[str, Any]] = []
    done = client.wait_for(job["id"], poll_interval=0.1, on_update=seen.append)
    assert done["status"] == "completed"
    assert done["pages_crawled"] == 3
    assert seen[-1] == done
    pages = list(client.iter_results(job["id"]))
    assert sorted(page["url"] for page in pages) == [
        f"{sites.tree.origin}/{path}" for path in ("", "r-0", "r-1")
    ]


def test_wait_for_gives_up_after_its_timeout(client: Client, sites: Sites) -> None:
    job = client.create_job(sites.hang.origin)
    with pytest.raises(TimeoutError, match=f"job {job['id']} is still"):
        client.wait_for(job["id"], timeout=0.2, poll_interval=0.05)
    client.cancel_job(job["id"])


def test_retry_and_bulk_retry(client: Client, sites: Sites) -> None:
    failed = finished(client, sites.missing.origin, max_retries=2)
    other = finished(client, sites.missing.origin, max_retries=2)
    assert failed["status"] == other["status"] == "failed"

    retried = client.retry_job(failed["id"], delay_seconds=600)
    assert (retried["status"], retried["retry_count"]) == ("pending", 1)
    assert retried["metadata"]["retriedBy"] == "api"

    results = client.bulk_retry(ids=[failed["id"], other["id"]], error_contains="HTTP 404")
    assert results == [
        {
            "jobId": other["id"],
            "success": True,
            "message": "Job scheduled for retry (attempt 1/2)",
            "retry_count": 1,
        }
    ]  # the first is pending now: only failed jobs match


def test_stats(client: Client, sites: Sites) -> None:
    finished(client, sites.missing.origin, max_retries=0)
    report = client.stats(domain=sites.missing.origin, since="2000-01-01T00:00:00Z")
    assert report["scope"]["domain"] == sites.missing.origin
    assert report["jobs"]["byStatus"]["failed"] >= 1
    assert {"retryMetrics", "failureAnalysis"} <= set(report)


# -- typed exceptions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.get_job(str(uuid.uuid4())),
        lambda client: client.get_job("not-a-uuid"),
        lambda client: client.retry_job(str(uuid.uuid4())),
        lambda client: client.cancel_job(str(uuid.uuid4())),
        lambda client: client.delete_job(str(uuid.uuid4())),
        lambda client: list(client.iter_results(str(uuid.uuid4()))),
    ],
)
def test_job_not_found(client: Client, call: Callable[[Client], Any]) -> None:
    with pytest.raises(JobNotFoundError) as raised:
        call(client)
    assert (raised.value.status, raised.value.message) == (404, "Job not found")
    assert isinstance(raised.value, ClientError)


def test_retry_not_allowed_for_a_job_that_has_not_failed(client: Client, sites: Sites) -> None:
    done = finished(client, sites.tree.origin, config={"depth": 0})
    assert done["status"] == "completed"
    with pytest.raises(RetryNotAllowedError) as raised:
        client.retry_job(done["id"])
    assert type(raised.value) is RetryNotAllowedError
    assert (raised.value.status, raised.value.message) == (400, "Job cannot be retried")
    assert raised.value.details == {
        "currentStatus": "completed",
        "reason": "Job is not in a failed state",
    }


def test_retry_limit_exceeded_after_the_automatic_retries(client: Client, sites: Sites) -> None:
    failed = finished(client, sites.missing.origin, max_retries=0)
    with pytest.raises(RetryLimitExceededError) as raised:
        client.retry_job(failed["id"])
    error = raised.value
    assert isinstance(error, RetryNotAllowedError) and isinstance(error, RequestRejectedError)
    assert (error.status, error.message) == (400, "Job has exceeded maximum retry attempts")
    assert error.details == {
        "jobId": failed["id"],
        "currentRetries": 0,
        "maxRetries": 0,
        "lastError": f"HTTP 404 from {sites.missing.origin}/",
        "failurePattern": "content_missing",
    }


def test_request_rejected(client: Client, sites: Sites) -> None:
    with pytest.raises(RequestRejectedError) as invalid:
        client.create_job("example.com", priority=11)
    assert (invalid.value.status, invalid.value.message) == (400, "Invalid request")
    assert invalid.value.details[0]["field"] == "body.priority"

    with pytest.raises(RequestRejectedError) as unfiltered:
        client.bulk_retry()
    assert "give at least one of" in str(unfiltered.value.details)

    done = finished(client, sites.tree.origin, config={"depth": 0})
    with pytest.raises(RequestRejectedError) as refused:
        client.cancel_job(done["id"])
    assert type(refused.value) is RequestRejectedError
    assert refused.value.message == "Job cannot go from 'completed' to 'cancelled'"
    assert refused.value.details == {"currentStatus": "completed", "requestedStatus": "cancelled"}


def test_a_worker_claims_renews_and_reports_under_its_lease_token(tmp_path: Path) -> None:
    """The worker's calls: the claim's token on every heartbeat and report; a stale
    one is a LeaseLostError (stop working on that job), a missing one a 400."""
    with serve(f"sqlite:///{tmp_path / 'leases.db'}") as base, Client(base) as client:
        job = client.create_job("example.com", config={"autoRetry": False})
        claimed = client.claim_next(worker_id="W", lease_seconds=30)
        assert claimed is not None and claimed["id"] == job["id"]
        token = claimed["leaseToken"]
        assert "leaseToken" not in client.get_job(job["id"])
        renewed = client.heartbeat(job["id"], token, worker_id="W", lease_seconds=60)
        assert renewed["lease_expires_at"] >= claimed["lease_expires_at"]
        failed = client.fail(job["id"], token, "Request timeout", worker_id="W")
        assert failed["status"] == "failed"
        with pytest.raises(LeaseLostError) as stale:
            client.heartbeat(job["id"], token)
        assert stale.value.status == 409 and stale.value.message == "Lease is no longer held"

        client.retry_job(job["id"])
        again = client.claim_next(worker_id="W")
        assert again is not None and again["leaseToken"] != token
        with pytest.raises(LeaseLostError):
            client.complete(job["id"], token, worker_id="W")  # attempt 1's token
        with pytest.raises(RequestRejectedError) as missing:
            client.complete(job["id"], "", worker_id="W")
        assert missing.value.status == 400
        done = client.complete(job["id"], again["leaseToken"], note="one page")
        assert done["status"] == "completed"
        assert client.claim_next() is None


def test_server_unavailable() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with Client(nowhere) as client:
        for call in (client.list_jobs, lambda: list(client.iter_results(str(uuid.uuid4())))):
            with pytest.raises(ServerUnavailableError) as raised:
                call()
            assert raised.value.message == (
                f"cannot reach scrapejobs server at {nowhere} (connection refused)"
            )
            assert raised.value.status is None
            assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_an_answer_that_is_not_scrapejobs_is_a_server_error(sites: Sites) -> None:
    with Client(sites.tree.origin) as client, pytest.raises(ServerError) as raised:
        client.get_job(str(uuid.uuid4()))
    assert raised.value.status == 404
    assert raised.value.message.startswith("unexpected answer from the server: HTTP 404")


def test_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRAPEJOBS_SERVER", raising=False)
    assert server_url() == "http://localhost:3000"
    assert server_url("127.0.0.1:8080/") == "http://127.0.0.1:8080"
    monkeypatch.setenv("SCRAPEJOBS_SERVER", "https://jobs.example")
    assert Client().server == "https://jobs.example"
    assert server_url("http://other:1") == "http://other:1"
    with pytest.raises(ValueError, match="http"):
        server_url("ftp://jobs.example")


def test_the_package_exports_the_client_and_its_exceptions() -> None:
    for name in scrapejobs.__all__:
        assert hasattr(scrapejobs, name), name
    assert {"Client", "ClientError", "RetryLimitExceededError"} <= set(scrapejobs.__all__)


def test_only_the_client_touches_httpx_and_the_cli_uses_no_server_internals() -> None:
    httpx_users = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(is_within(module, "httpx") for module in imported_modules(path))
    )
    assert httpx_users == ["client.py"]
    internals = ["storage", "web", "manager", "service", "worker", "crawler", "settings"]
    for path in [PACKAGE / "client.py", *(PACKAGE / "console").glob("*.py")]:
        used = {
            module
            for module in imported_modules(path)
            for internal in internals
            if is_within(module, f"scrapejobs.{internal}")
        }
        assert not used, f"{path.name} imports {sorted(used)}"


# -- the README's examples -----------------------------------------------------------------


def readme_python_blocks() -> list[str]:
    """The ```python blocks of the README's "Python API" section, in order."""
    section = README.read_text(encoding="utf-8").split("\n## Python API\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def run_example(code: str, **replace: str) -> list[str]:
    """Run ``code`` with each placeholder (which must be there) replaced; what it printed."""
    for placeholder, value in replace.items():
        assert placeholder in code, placeholder
        code = code.replace(placeholder, value)
    printed: list[str] = []

    def capture(*args: Any, **_kwargs: Any) -> None:
        printed.append(" ".join(str(arg) for arg in args))

    exec(compile(code, str(README), "exec"), {"__name__": "__readme__", "print": capture})
    return printed


def test_the_readme_client_example_runs(server: str, sites: Sites) -> None:
    client_example = readme_python_blocks()[0]

    def against(site: ScriptedSite) -> list[str]:
        return run_example(
            client_example,
            **{'"http://localhost:3000"': repr(server), '"example.com"': repr(site.origin)},
        )

    with ThreadPoolExecutor(2) as pool:
        crawled, exhausted = pool.map(against, [sites.tree, sites.odd])
    origin = sites.tree.origin
    assert crawled[0] == "completed 3 pages after 0 retries"
    assert sorted(crawled[1:]) == [f"200 {origin}/", f"200 {origin}/r-0", f"200 {origin}/r-1"]
    assert exhausted == [
        "failed 0 pages after 2 retries",
        "Job has exceeded maximum retry attempts 2 of 2",
    ]


def test_the_readme_embedding_example_runs_again_and_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # a second run must not find the first run's job (issue 17)
        printed = run_example(readme_python_blocks()[1])
        status, retries, error_type, _scheduled = printed[0].split(" ", 3)
        assert (status, retries, error_type) == ("pending", "1", "service_unavailable")
        assert printed[1] == (
            "Job cannot be retried {'currentStatus': 'pending', 'reason': 'Job is already queued'}"
        )
        assert printed[2:] == ["original failed service_unavailable"]
    assert list(tmp_path.iterdir()) == []  # never ./scrapejobs.db, the file `make run` uses
