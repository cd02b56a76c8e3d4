"""The operator commands as a person or a script runs them: the real ``scrapejobs`` executable
against a real ``scrapejobs serve`` (SQLite, two embedded workers) crawling local sites.

One server and one set of sites serve the whole module; every test works on
jobs of its own (its own site as the domain, or the ids it created). Jobs a
test only needs as a starting point are made with :class:`scrapejobs.Client`;
the commands under test run as subprocesses, independent ones side by side
(each start of the executable costs a second or two of imports), and checks
beyond the ones of the executable itself run in-process (``invoke``).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scrapejobs import Client
from scrapejobs.cli import app
from tests.crawl_sites import ScriptedSite, tree_site
from tests.e2e.threaded_sites import always, sites_in_background
from tests.servers import free_port, scrapejobs, serve

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMEOUT = 60
Result = subprocess.CompletedProcess[str]


@dataclass
class Sites:
    tree: ScriptedSite
    """Seven pages: / links to two pages, each linking to two more."""
    missing: ScriptedSite
    """Answers 404 to everything: a permanent failure, never retried automatically."""
    bulk: ScriptedSite
    """Also 404 everywhere; only the bulk retry test submits to it."""
    hang: ScriptedSite
    """Never answers until the site stops: a job that stays running."""


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    tree, _ = tree_site(2, 2)
    missing, bulk, hang = ScriptedSite(), ScriptedSite(), ScriptedSite()
    missing.routes["/"] = always(404)
    hang.routes["/"] = hang.hang
    with sites_in_background(tree, missing, bulk, hang):
        yield Sites(tree, missing, bulk, hang)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sites: Sites) -> Iterator[str]:
    home = tmp_path_factory.mktemp("cli")
    with serve(
        f"sqlite:///{home / 'cli.db'}",
        *("--allow-private-networks", "--retry-delays", "0.1"),
        # Heartbeats every second: a cancelled crawl frees its worker at once.
        *("--lease-seconds", "3"),
        workers=2,
        log=home / "server.log",
    ) as base:
        yield base


def run(*args: str, server: str | None = None, **env: str) -> Result:
    """``scrapejobs ARGS --server SERVER``; never a traceback, whatever the outcome."""
    command = scrapejobs(*args, *(("--server", server) if server else ()))
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, **env}
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def invoke(*args: str, server: str | None = None, **env: str) -> Result:
    """The same command in this process (no start-up cost): for checks beyond the executable's."""
    command = [*args, *(("--server", server) if server else ())]
    result = CliRunner().invoke(app, command, env=env)
    assert not isinstance(result.exception, AssertionError | KeyError | TypeError), result.exception
    return subprocess.CompletedProcess(command, result.exit_code, result.stdout, result.stderr)


def run_all(*commands: Sequence[str], server: str | None = None, **env: str) -> list[Result]:
    """Independent commands, side by side; results in order."""
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return list(pool.map(lambda args: run(*args, server=server, **env), commands))


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def first_id(text: str) -> str:
    found = UUID.search(text)
    assert found, text
    return found.group(0)


def failed_jobs(server: str, domain: str, *each: dict[str, Any]) -> list[dict[str, Any]]:
    """One job of ``domain`` (a 404 site) per set of fields, once they have all failed."""
    with Client(server) as client:
        created = [client.create_job(domain, **fields) for fields in each]
        return [client.wait_for(job["id"], timeout=TIMEOUT, poll_interval=0.1) for job in created]


# -- submit --wait, results ------------------------------------------------------------


def test_submit_wait_crawls_a_site_and_results_exports_its_pages(
    server: str, sites: Sites, tmp_path: Path
) -> None:
    origin = sites.tree.origin
    done = run("submit", origin, "--depth", "1", "--wait", "--poll-interval", "0.1", server=server)
    assert done.returncode == 0, done.stdout + done.stderr
    job_id = first_id(done.stdout)
    assert f"Job {job_id} completed: 3 pages crawled, retries 0/3" in done.stdout

    out = tmp_path / "pages.csv"
    jsonl, exported = run_all(
        ["results", job_id, "--format", "jsonl"],
        ["results", job_id, "--format", "csv", "-o", str(out)],
        server=server,
    )
    assert jsonl.returncode == 0
    pages = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert sorted(page["url"] for page in pages) == [f"{origin}/", f"{origin}/r-0", f"{origin}/r-1"]
    assert {page["status"] for page in pages} == {200}

    assert exported.returncode == 0
    assert exported.stdout == ""
    assert exported.stderr == f"wrote 3 pages to {out}\n"
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["url"] for row in rows] == [page["url"] for page in pages]
    assert (rows[0]["title"], rows[0]["depth"], rows[0]["error"]) == ("/", "0", "")
    assert not list(tmp_path.glob("*.part"))


def test_a_job_that_fails_ends_submit_wait_with_exit_1_and_its_error(
    server: str, sites: Sites
) -> None:
    failed = run("submit", sites.missing.origin, "--max-retries", "0", "--wait", server=server)
    assert failed.returncode == 1
    job_id = first_id(failed.stdout)
    assert f"Job {job_id} failed" in failed.stdout
    assert f"error: HTTP 404 from {sites.missing.origin}/" in failed.stdout
    assert "errorType not_found, failurePattern content_missing, httpStatus 404" in failed.stdout
    assert "not retried automatically" in failed.stdout

    at_limit, unknown = run_all(["retry", job_id], ["retry", str(uuid.uuid4())], server=server)
    assert at_limit.returncode == 1
    assert at_limit.stdout == ""
    assert at_limit.stderr.splitlines() == [
        "error: Job has exceeded maximum retry attempts",
        f"  jobId: {job_id}",
        "  currentRetries: 0",
        "  maxRetries: 0",
        f"  lastError: HTTP 404 from {sites.missing.origin}/",
        "  failurePattern: content_missing",
    ]
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert unknown.stderr == "error: Job not found\n"


def test_a_job_cancelled_while_submit_waits_ends_it_with_exit_1(server: str, sites: Sites) -> None:
    waiting = subprocess.Popen(
        scrapejobs(
            "submit", sites.hang.origin, "--wait", "--poll-interval", "0.1", "--server", server
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiting.stdout is not None
    job_id = first_id(waiting.stdout.readline())  # "Job <id> submitted: ..."
    cancelled = run("cancel", job_id, server=server)
    assert cancelled.returncode == 0
    assert cancelled.stdout == f"Job {job_id} cancelled\n"
    out, err = waiting.communicate(timeout=TIMEOUT)
    assert waiting.returncode == 1
    assert f"Job {job_id} cancelled" in out
    assert "Traceback" not in err

    again = invoke("cancel", job_id, server=server)
    assert again.returncode == 1
    assert again.stderr.splitlines() == [
        "error: Job cannot go from 'cancelled' to 'cancelled'",
        "  currentStatus: cancelled",
        "  requestedStatus: cancelled",
    ]


def test_submit_sends_every_job_field_and_shows_the_servers_refusals(
    server: str, sites: Sites
) -> None:
    origin = sites.missing.origin
    created, refused = (
        invoke(*args, server=server)
        for args in (
            [
                *("submit", origin, "--job-type", "page_scrape", "--priority", "9"),
                *("--max-retries", "5", "--depth", "0", "--max-pages", "1", "--timeout", "1000"),
                *(
                    "--delay",
                    "10",
                    "--max-concurrent-requests",
                    "2",
                    "--user-agent",
                    "cli-test/1.0",
                ),
                *("--start-url", f"{origin}/start", "--no-respect-robots"),
                *("--no-respect-retry-after", "--no-auto-retry", "--metadata", '{"team": "ops"}'),
                *("--idempotency-key", f"cli-{uuid.uuid4()}", "--json"),
            ],
            ["submit", origin, "--priority", "11"],
        )
    )
    assert created.returncode == 0, created.stderr
    job = as_json(created)
    assert (job["job_type"], job["priority"], job["max_retries"]) == ("page_scrape", 9, 5)
    assert job["config"] == {
        "depth": 0,
        "maxPages": 1,
        "timeout": 1000,
        "delay": 10,
        "maxConcurrentRequests": 2,
        "userAgent": "cli-test/1.0",
        "startUrl": f"{origin}/start",
        "respectRobots": False,
        "respectRetryAfter": False,
        "autoRetry": False,
    }
    assert job["metadata"] == {"source": "api", "team": "ops"}

    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "error: Invalid request",
        "  body.priority: Input should be less than or equal to 10",
    ]


# -- retry -------------------------------------------------------------------------------


def test_bulk_retry_by_domain_prints_one_result_per_job(server: str, sites: Sites) -> None:
    origin = sites.bulk.origin
    jobs = failed_jobs(server, origin, {"max_retries": 2}, {"max_retries": 2}, {"max_retries": 0})
    retryable, exhausted = [job["id"] for job in jobs[:2]], jobs[2]["id"]

    result = run(
        "retry", "--domain", origin, "--delay-seconds", "600", server=server, COLUMNS="120"
    )
    assert result.returncode == 0
    rows = {first_id(line): line for line in result.stdout.splitlines() if UUID.search(line)}
    assert set(rows) == {*retryable, exhausted}
    for job_id in retryable:
        assert "retried" in rows[job_id]
        assert "Job scheduled for retry (attempt 1/2)" in rows[job_id]
    assert "refused" in rows[exhausted]
    assert "Job has exceeded maximum retry attempts" in rows[exhausted]
    assert "Retried 2 of 3 matching failed jobs." in result.stdout

    again = invoke(
        "retry", "--domain", origin, "--pattern", "content_missing", "--json", server=server
    )
    assert again.returncode == 0
    assert as_json(again) == [
        {"jobId": exhausted, "success": False, "message": "Job has exceeded maximum retry attempts"}
    ]


# -- the views: jobs, show, retry, stats ---------------------------------------------------


def test_jobs_search_and_sort(server: str) -> None:
    """``--search`` finds jobs by URL text (or an id's start), ``--sort`` orders them in the
    database; the footer says how."""
    marker = f"sorted-{uuid.uuid4().hex[:8]}.example"
    with Client(server) as client:
        made = {
            priority: client.create_job(marker, priority=priority)["id"] for priority in (3, 9, 6)
        }
    listed = invoke("jobs", "--search", marker, "--sort", "-priority", server=server, COLUMNS="160")
    assert listed.returncode == 0, listed.stderr
    ids = [first_id(line) for line in listed.stdout.splitlines() if UUID.search(line)]
    assert ids == [made[9], made[6], made[3]]
    assert "Jobs 1-3 of 3, sorted by -priority." in listed.stdout
    by_id = invoke("jobs", "--search", made[6][:8], "--json", server=server)
    assert [job["id"] for job in as_json(by_id)] == [made[6]]


def test_jobs_show_retry_and_stats_for_people(server: str, sites: Sites) -> None:
    origin = sites.missing.origin
    older, newer, to_retry = failed_jobs(
        server,
        origin,
        {"max_retries": 0},
        {"max_retries": 0, "metadata": {"ticket": "OPS-1"}, "config": {"depth": 1}},
        {"max_retries": 3},
    )
    host_port = origin.removeprefix("http://")  # a domain filter matches the site (issue 17)
    listed, shown, retried, report = run_all(
        ["jobs", "--domain", host_port],
        ["show", newer["id"]],
        ["retry", to_retry["id"], "--delay-seconds", "600"],
        ["stats", "--domain", host_port, "--since", "1h"],
        server=server,
        COLUMNS="160",
    )
    assert listed.returncode == 0
    ids = [first_id(line) for line in listed.stdout.splitlines() if UUID.search(line)]
    assert ids[:3] == [to_retry["id"], newer["id"], older["id"]]  # newest first
    assert re.search(rf"{newer['id']} +failed +0/0 +{re.escape(origin)} ", listed.stdout)
    assert "HTTP 404 from" in listed.stdout
    paged = invoke("jobs", "--domain", origin, "--limit", "1", "--offset", "1", server=server)
    assert re.search(r"Jobs 2-2 of \d+, newest first\. Next page: --offset 2", paged.stdout)

    assert shown.returncode == 0
    for pattern in (
        rf"ID +{newer['id']}",
        r"Status +failed",
        r"Retries +0/0",
        rf"Error +HTTP 404 from {re.escape(origin)}/",
        r"depth +1\b",
        r"ticket +OPS-1",
        r"Attempts \(1\)",
        r"original +failed .* not_found ",
    ):
        assert re.search(pattern, shown.stdout), pattern

    assert retried.returncode == 0
    assert retried.stdout.startswith(
        f"Job scheduled for retry (attempt 1/3): {to_retry['id']} due "
    )

    assert report.returncode == 0, report.stderr
    assert f"Retry report - domain {host_port}, since " in report.stdout
    for heading in ("Jobs", "Retry metrics", "Common failure patterns", "Recommendations"):
        assert f"\n{heading}\n" in report.stdout, heading
    assert re.search(r"content_missing +\d+ +100\.0%", report.stdout)


# -- every command: --json, exit codes -------------------------------------------------------


def test_json_output_parses_on_every_command(server: str, sites: Sites) -> None:
    submitted = run("submit", sites.tree.origin, "--depth", "0", "--json", server=server)
    crawled = as_json(submitted)
    assert crawled["status"] == "pending"
    with Client(server) as client:
        client.wait_for(crawled["id"], timeout=TIMEOUT, poll_interval=0.1)
        to_cancel = client.create_job(sites.hang.origin)["id"]
    (to_retry,) = failed_jobs(server, sites.missing.origin, {"max_retries": 1})
    commands = {
        "jobs": ["jobs"],
        "show": ["show", crawled["id"]],
        "results": ["results", crawled["id"], "--json"],
        "stats": ["stats"],
        "retry": ["retry", to_retry["id"], "--delay-seconds", "600"],
        "bulk retry": ["retry", "--domain", sites.bulk.origin],
        "cancel": ["cancel", to_cancel],
        "submit --wait": ["submit", sites.missing.origin, "--max-retries", "0", "--wait"],
    }
    results = run_all(*([*args, "--json"] for args in commands.values()), server=server)
    data = {}
    for name, result in zip(commands, results, strict=True):
        assert result.returncode == (1 if name == "submit --wait" else 0), (name, result.stderr)
        data[name] = as_json(result)
    assert crawled["id"] in {job["id"] for job in data["jobs"]}
    assert data["show"]["attempts"][0]["outcome"] == "completed"
    assert [page["url"] for page in data["results"]] == [f"{sites.tree.origin}/"]
    assert {"scope", "jobs", "retryMetrics", "failureAnalysis"} <= set(data["stats"])
    assert data["retry"]["retry_count"] == 1
    assert all({"jobId", "success", "message"} <= set(row) for row in data["bulk retry"])
    assert data["cancel"]["status"] == "cancelled"
    assert data["submit --wait"]["status"] == "failed"


def test_an_unreachable_server_exits_3_with_one_line() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    line = f"error: cannot reach scrapejobs server at {nowhere} (connection refused)\n"
    for result in run_all(
        ["submit", "example.com", "--wait", "--server", nowhere],
        ["results", str(uuid.uuid4()), "--format", "csv"],  # the server from the environment
        SCRAPEJOBS_SERVER=nowhere,
    ):
        assert (result.returncode, result.stdout, result.stderr) == (3, "", line)


# In-process from here: what click decides before any request, and the rest of the
# command matrix.


@pytest.mark.parametrize(
    "args",
    [
        ["retry"],
        ["retry", "some-id", "--domain", "example.com"],
        ["submit", "example.com", "--metadata", "not json"],
        ["submit", "example.com", "--metadata", "[1, 2]"],
        ["jobs", "--status", "lost"],
        ["jobs", "--server", "ftp://example.com"],
        ["results", "some-id", "--json", "--format", "csv"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
    assert not isinstance(result.exception, AssertionError)


@pytest.mark.parametrize(
    "args",
    [
        ["jobs"],
        ["show", str(uuid.uuid4())],
        ["retry", str(uuid.uuid4())],
        ["retry", "--domain", "example.com"],
        ["cancel", str(uuid.uuid4())],
        ["stats"],
    ],
)
def test_every_command_exits_3_when_the_server_is_down(args: list[str]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, [*args, "--server", nowhere])
    assert result.exit_code == 3
    assert (
        result.output
        == f"error: cannot reach scrapejobs server at {nowhere} (connection refused)\n"
    )


def test_server_option_wins_over_the_environment(server: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        app, ["jobs", "--json", "--server", server], env={"SCRAPEJOBS_SERVER": nowhere}
    )
    assert result.exit_code == 0
    assert isinstance(json.loads(result.output), list)


def test_domains_lists_pauses_and_resumes_a_site(server: str) -> None:
    """``--server`` goes after the subcommand, like every other option of it."""
    name = f"paused-{uuid.uuid4().hex[:8]}.example"
    with Client(server) as client:
        client.create_job(name)
    paused = run("domains", "pause", name, "--json", server=server)
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["state"] == "paused"
    listed = invoke("domains", "--state", "paused", "--json", server=server)
    assert [site["site"] for site in json.loads(listed.stdout)] == [name]
    table = invoke("domains", "show", name, server=server)
    assert name in table.stdout and "paused" in table.stdout and "until resumed" in table.stdout
    resumed = invoke("domains", "resume", name, "--json", server=server)
    assert json.loads(resumed.stdout)["state"] == "open"
    missing = invoke("domains", "show", "nowhere.example", server=server)
    assert missing.returncode == 1 and "Site not found" in missing.stderr


def test_domains_limit_sets_and_removes_a_sites_fleet_limits(server: str) -> None:
    name = f"limited-{uuid.uuid4().hex[:8]}.example"
    with Client(server) as client:
        client.create_job(name)
    limited = invoke(
        "domains", "limit", name, "--rate", "2.5", "--concurrency", "3", "--json", server=server
    )
    limits = json.loads(limited.stdout)["limits"]
    assert (limits["rateLimit"], limits["concurrencyLimit"]) == (2.5, 3)
    table = invoke("domains", "show", name, server=server)
    assert "2.5/s, 3 at once" in table.stdout
    removed = invoke("domains", "limit", name, "--rate", "0", "--json", server=server)
    limits = json.loads(removed.stdout)["limits"]
    assert (limits["rateLimit"], limits["concurrencyLimit"]) == (None, 3)
    nothing = invoke("domains", "limit", name, server=server)
    assert nothing.returncode == 2 and "give --rate, --concurrency or both" in nothing.stderr
