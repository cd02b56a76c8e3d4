"""``scrapejobs demo`` as a newcomer runs it: a real process, its own site, its own jobs.

One run of the demo serves the module (it takes about 20 s): its jobs reach
the states README's "Demo" section promises, every request its crawler made
went to its own loopback site, jobs for anything else are refused without a
request, and SIGINT stops it with exit status 0 and its temporary database
gone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.servers import free_port, scrapejobs, wait_healthy

JOBS = "/api/scrape-jobs"
DEADLINE = 90  # seconds for every demo job to end; about 20 s here
ENDED = {"completed", "failed"}
REQUEST_LINE = re.compile(r"demo site :(\d+): GET (\S+) -> (\S+)")

# README's promises: status, retry_count, the first attempt's errorType
# (None: it did not fail), failurePattern of a failed job.
PROMISES: dict[str, tuple[str, int, str | None, str | None]] = {
    "shop": ("completed", 0, None, None),
    "flaky": ("completed", 1, "service_unavailable", None),
    "busy": ("completed", 0, "rate_limited", None),
    "slow": ("completed", 1, "timeout", None),
    "gone": ("failed", 0, "not_found", "content_missing"),
    "private": ("failed", 0, "robots_disallowed", "configuration"),
}


@dataclass
class Demo:
    base: str
    process: subprocess.Popen[bytes]
    stdout: Path
    log: Path
    tmp: Path
    jobs: dict[str, dict[str, Any]]
    """The demo's jobs by scenario name, once all of them ended, with attempts."""
    exit_status: int | None = None


def _api(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base}{path}", params=params, timeout=10)
    response.raise_for_status()
    return response.json()["data"]


def _wait_until_ended(base: str, process: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DEADLINE
    while True:
        jobs = [job for job in _api(base, JOBS, limit=100) if "demo" in job["metadata"]]
        if len(jobs) == len(PROMISES) and all(job["status"] in ENDED for job in jobs):
            return jobs
        assert process.poll() is None, f"the demo exited with {process.returncode}"
        states = {job["metadata"]["demo"]: job["status"] for job in jobs}
        assert time.monotonic() < deadline, f"demo jobs not ended: {states}"
        time.sleep(0.25)


def _stop(demo: Demo) -> None:
    if demo.exit_status is not None:
        return
    demo.process.send_signal(signal.SIGINT)
    try:
        demo.exit_status = demo.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        demo.process.kill()
        demo.process.wait()
        raise


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("demo")
    port = free_port()
    # TMPDIR: the demo's temporary database directory goes here, so the test
    # can see it deleted. SCRAPEJOBS_DATABASE_URL: the demo must ignore it.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)}
    env["SCRAPEJOBS_DATABASE_URL"] = f"sqlite:///{tmp / 'not-the-demo.db'}"
    stdout, log = tmp / "demo.out", tmp / "demo.log"
    with stdout.open("wb") as out, log.open("wb") as err:
        process = subprocess.Popen(
            scrapejobs("demo", "--port", str(port)), stdout=out, stderr=err, env=env
        )
    base = f"http://127.0.0.1:{port}"
    demo = Demo(base, process, stdout, log, tmp, {})
    try:
        wait_healthy(base, process)
        for job in _wait_until_ended(base, process):
            demo.jobs[job["metadata"]["demo"]] = _api(base, f"{JOBS}/{job['id']}")
        yield demo
    finally:
        _stop(demo)


@pytest.mark.parametrize("name", PROMISES)
def test_each_job_reaches_the_state_the_readme_promises(demo: Demo, name: str) -> None:
    status, retry_count, first_error, pattern = PROMISES[name]
    job = demo.jobs[name]
    assert (job["status"], job["retry_count"]) == (status, retry_count)
    first = job["attempts"][0]
    assert first["errorType"] == first_error
    if status == "completed":
        assert job["pages_crawled"] == 3  # the page and the two below it
        assert job["attempts"][-1]["outcome"] == "completed"
    else:
        assert len(job["attempts"]) == 1  # permanent: no automatic retry
        assert job["metadata"]["failurePattern"] == pattern
        assert job["metadata"]["noRetryReason"]
        assert job["error_message"]


def test_the_retries_changed_the_config_as_the_readme_says(demo: Demo) -> None:
    flaky, busy, slow = demo.jobs["flaky"], demo.jobs["busy"], demo.jobs["slow"]
    assert flaky["metadata"]["retryReason"] == "Automatic retry after service_unavailable error"
    assert flaky["metadata"]["retriedBy"] == "system"
    # The 429's Retry-After cooled the site down: the job waited, no retry spent,
    # and went again with one connection and a delay.
    assert (busy["config"]["maxConcurrentRequests"], busy["config"]["delay"]) == (1, 2000)
    assert [a["outcome"] for a in busy["attempts"]] == ["failed", "completed"]
    assert slow["config"]["timeout"] == 3000
    assert slow["metadata"]["retryReason"] == "Automatic retry after timeout error"


def test_the_crawler_only_ever_asked_the_demo_site(demo: Demo) -> None:
    ports = {urlsplit(job["domain"]).port for job in demo.jobs.values()}
    assert len(ports) == len(PROMISES)  # a site (port) per behaviour
    for job in demo.jobs.values():
        assert urlsplit(job["domain"]).hostname == "127.0.0.1"
        assert job["config"]["startUrl"].startswith(job["domain"] + "/")
        results = httpx.get(f"{demo.base}{JOBS}/{job['id']}/results", params={"format": "jsonl"})
        pages = [json.loads(line) for line in results.text.splitlines()]
        assert len(pages) == job["pages_crawled"]
        for page in pages:
            assert page["url"].startswith(job["domain"] + "/")
            assert page["final_url"].startswith(job["domain"] + "/")
    requests = REQUEST_LINE.findall(demo.log.read_text())
    assert requests, "the demo site logged no requests"
    assert {int(port) for port, _, _ in requests} <= ports
    paths = [path for _, path, _ in requests]
    assert "/private/" not in paths  # robots.txt respected
    assert paths.count("/gone/") == 1  # a 404 is not retried
    flaky = [status for _, path, status in requests if path == "/flaky/"]
    assert flaky == ["503", "503", "503", "200"]  # three in the first attempt, then the retry


@pytest.mark.parametrize("domain", ["example.com", "http://127.0.0.1:{service_port}"])
def test_a_job_for_anything_else_is_refused_without_a_request(demo: Demo, domain: str) -> None:
    domain = domain.format(service_port=urlsplit(demo.base).port)
    created = httpx.post(f"{demo.base}{JOBS}", json={"domain": domain}).json()["data"]
    deadline = time.monotonic() + 30
    while (job := _api(demo.base, f"{JOBS}/{created['id']}"))["status"] not in ENDED:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert job["status"] == "failed"
    assert job["metadata"]["errorType"] == "invalid_url"
    assert "the demo crawls its own site only" in job["error_message"]
    assert job["retry_count"] == 0


def test_the_guide_names_the_dashboard_and_every_job(demo: Demo) -> None:
    guide = demo.stdout.read_text()
    assert f"{demo.base}/analytics" in guide and f"{demo.base}/domains" in guide
    for job in demo.jobs.values():
        assert f"{demo.base}/jobs/{job['id']}" in guide


def test_sigint_stops_it_cleanly_and_deletes_its_database(demo: Demo) -> None:
    _stop(demo)
    assert demo.exit_status == 0
    assert "Traceback" not in demo.log.read_text()
    assert "demo stopped" in demo.stdout.read_text()
    assert not list(demo.tmp.glob("scrapejobs-demo-*"))  # its temporary directory
    assert not (demo.tmp / "not-the-demo.db").exists()
