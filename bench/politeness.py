"""Politeness across a fleet: scrapejobs' shared site limits against Scrapy's AutoThrottle.

Scenario 1, a rate-limited site. A local site allows ``--rate`` R requests/s
per client address (a token bucket, one second of burst) and answers 429
with ``Retry-After: 1`` above it. ``--jobs`` jobs (default 100), each a start
page linking ``--pages`` pages, are crawled by 4 processes of concurrency 8:

- scrapejobs: 4 ``scrapejobs worker --concurrency 8`` processes on one
  PostgreSQL database (the fleet discovers R: no limit is configured);
- Scrapy: 4 processes of one spider, a quarter of the start URLs each,
  ``CONCURRENT_REQUESTS`` 8, ``AUTOTHROTTLE_ENABLED`` with its defaults.

The site logs every request: the report is the achieved rate of accepted
requests (their count over the time from the first to the last), the share
of 429s after the first 10 s, and the total time, for both, in one run.

Scenario 2, a dead site. ``--dead-jobs`` jobs (default 500, 3 retries, 1 s
between) on a port where nothing listens, 4 worker processes of concurrency
8 for ``--dead-seconds`` (default 60): the attempts made with the circuit
breaker (the default) and without it (``--circuit-failures 0``, as before).

Usage::

    .venv/bin/python bench/politeness.py [--rate 50] [--jobs 100] [--pages 10]
        [--syncs 1,0.25] [--dead-jobs 500] [--dead-seconds 60] [--only limited|dead]
        [--write-docs]

``make bench-politeness`` installs the ``bench`` extra (Scrapy) first.
PostgreSQL comes from ``--postgres-url`` (default ``SCRAPEJOBS_TEST_POSTGRES_URL`` or
``postgresql://postgres@127.0.0.1:5432/test``); the script makes a database
of its own there and drops it at the end. The script re-runs itself with
``--scrapy-child CONFIG`` to run one Scrapy process; that option is internal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOCS_FILE = REPO / "docs" / "benchmarks.md"
DOCS_SECTION = "## Politeness across a fleet: scrapejobs vs Scrapy AutoThrottle"
HOST = "127.0.0.1"
PROCESSES, CONCURRENCY = 4, 8
WARM_UP_S = 10.0
SCRAPEJOBS = str(Path(sys.executable).with_name("scrapejobs"))
DEFAULT_POSTGRES = os.environ.get(
    "SCRAPEJOBS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


# -- the rate-limited site -------------------------------------------------------


@dataclass
class Log:
    """Every request the site answered: (monotonic time, status)."""

    answers: list[tuple[float, int]] = field(default_factory=list)

    def report(self) -> dict[str, float]:
        ok = [at for at, status in self.answers if status == 200]
        if not ok:
            return {"ok": 0, "rate": 0.0, "late_429_share": 0.0, "seconds": 0.0}
        start, end = self.answers[0][0], self.answers[-1][0]
        late = [status for at, status in self.answers if at >= start + WARM_UP_S]
        limited = sum(1 for status in late if status == 429)
        return {
            "ok": len(ok),
            "rate": (len(ok) - 1) / max(ok[-1] - ok[0], 1e-9),
            "late_429_share": limited / len(late) if late else 0.0,
            "limited": sum(1 for _, status in self.answers if status == 429),
            "seconds": end - start,
        }


class LimitedSite:
    """An aiohttp site in a thread: a start page per job linking its pages, at R/s."""

    def __init__(self, rate: float, jobs: int, pages: int) -> None:
        self.rate, self.jobs, self.pages = rate, jobs, pages
        self.log = Log()
        self.port = free_port()
        self._tokens = rate
        self._refilled = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start_urls(self) -> list[str]:
        return [f"{self.origin}/{job}/" for job in range(self.jobs)]

    def _allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        if not self._allow():
            self.log.answers.append((time.monotonic(), 429))
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        self.log.answers.append((time.monotonic(), 200))
        parts = request.path.strip("/").split("/")
        if request.path == "/robots.txt":
            return web.Response(status=404)
        if len(parts) == 1 and parts[0]:
            links = "".join(f'<a href="/{parts[0]}/{n}">p{n}</a>' for n in range(self.pages))
            return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")
        return web.Response(text="<html><body>page</body></html>", content_type="text/html")

    def _serve(self) -> None:
        from aiohttp import web

        async def start() -> None:
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, HOST, self.port).start()

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> LimitedSite:
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# -- scrapejobs ------------------------------------------------------------------------


@contextmanager
def database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database, migrated; dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    name = f"scrapejobs_bench_{uuid.uuid4().hex[:8]}"
    base, _, _ = postgres_url.rpartition("/")

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = f"{base}/{name}"
    try:
        subprocess.run([SCRAPEJOBS, "db", "upgrade", "--database-url", url], check=True)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _submit(url: str, starts: list[str], config: dict[str, Any], max_retries: int) -> None:
    from scrapejobs.manager import JobManager
    from scrapejobs.schemas import JobCreate
    from scrapejobs.storage import SqlStore

    store = SqlStore.from_url(url)
    try:
        manager = JobManager(store)
        for start in starts:
            request = JobCreate.model_validate(
                {
                    "domain": start.rsplit("/", 2)[0],
                    "max_retries": max_retries,
                    "config": {"startUrl": start, **config},
                }
            )
            await manager.create_job(request)
    finally:
        await store.close()


async def _attempts_and_done(url: str) -> tuple[int, int, int]:
    """(attempts started, jobs completed, jobs) in the database."""
    import sqlalchemy as sa

    from scrapejobs.storage import SqlStore

    store = SqlStore.from_url(url)
    try:
        async with store.engine.connect() as conn:
            started = await conn.scalar(
                sa.text("SELECT count(*) FROM job_events WHERE event = 'started'")
            )
            done = await conn.scalar(
                sa.text("SELECT count(*) FROM jobs WHERE status IN ('completed', 'failed')")
            )
            jobs = await conn.scalar(sa.text("SELECT count(*) FROM jobs"))
        return int(started or 0), int(done or 0), int(jobs or 0)
    finally:
        await store.close()


def _workers(url: str, *extra: str) -> list[subprocess.Popen[bytes]]:
    command = [SCRAPEJOBS, "worker", "--database-url", url, "--concurrency", str(CONCURRENCY)]
    command += ["--allow-private-networks", *extra]
    return [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(PROCESSES)
    ]


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()


def limited_with_scrapejobs(args: argparse.Namespace, sync: float) -> dict[str, float]:
    with database(args.postgres_url) as url, LimitedSite(args.rate, args.jobs, args.pages) as site:
        asyncio.run(_submit(url, site.start_urls(), {"depth": 1, "respectRobots": False}, 3))
        workers = _workers(url, "--site-sync-interval", f"{sync:g}")
        try:
            deadline = time.monotonic() + args.timeout
            while asyncio.run(_attempts_and_done(url))[1] < args.jobs:
                if time.monotonic() > deadline:
                    raise SystemExit("scrapejobs did not finish the jobs in time")
                time.sleep(0.5)
        finally:
            _stop(workers)
        return site.log.report()


def dead_site_attempts(args: argparse.Namespace, *extra: str) -> int:
    origin = f"http://{HOST}:{free_port()}"  # nothing listens there
    starts = [f"{origin}/{n}/" for n in range(args.dead_jobs)]
    with database(args.postgres_url) as url:
        asyncio.run(_submit(url, starts, {"depth": 0, "respectRobots": False}, 3))
        workers = _workers(url, "--retry-delays", "1", *extra)
        try:
            time.sleep(args.dead_seconds)
        finally:
            _stop(workers)
        return asyncio.run(_attempts_and_done(url))[0]


# -- Scrapy ------------------------------------------------------------------------------


def scrapy_child(config_path: str) -> None:
    """One Scrapy process: its share of the start URLs, AutoThrottle on."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    config = json.loads(Path(config_path).read_text())

    class Jobs(scrapy.Spider):  # type: ignore[misc]
        name = "jobs"
        start_urls = config["start_urls"]

        def parse(self, response: Any) -> Any:
            yield {"url": response.url}
            if response.meta.get("depth", 0) < 1:
                yield from response.follow_all(css="a::attr(href)", callback=self.parse)

    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": CONCURRENCY,
            "CONCURRENT_REQUESTS_PER_DOMAIN": CONCURRENCY,
            "AUTOTHROTTLE_ENABLED": True,
            "ROBOTSTXT_OBEY": False,
            "RETRY_TIMES": 3,
            "LOG_LEVEL": "ERROR",
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    process.crawl(Jobs)
    process.start()


def limited_with_scrapy(args: argparse.Namespace) -> dict[str, float]:
    with (
        LimitedSite(args.rate, args.jobs, args.pages) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        starts = site.start_urls()
        children = []
        for n in range(PROCESSES):
            config = Path(tmp) / f"child{n}.json"
            config.write_text(json.dumps({"start_urls": starts[n::PROCESSES]}))
            children.append(
                subprocess.Popen([sys.executable, __file__, "--scrapy-child", str(config)])
            )
        for child in children:
            child.wait(args.timeout)
        return site.log.report()


# -- the report -----------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def render(args: argparse.Namespace, results: dict[str, Any]) -> str:
    lines = [
        DOCS_SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} with `bench/politeness.py "
        f"--rate {args.rate:g} --jobs {args.jobs} --pages {args.pages} "
        f"--syncs {','.join(f'{sync:g}' for sync in args.syncs)} --dead-jobs "
        f"{args.dead_jobs} --dead-seconds {args.dead_seconds:g}` on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Scrapy {_version('scrapy')}, PostgreSQL at {HOST}).",
        "",
    ]
    if "limited" in results:
        lines += [
            f"A site allowing {args.rate:g} requests/s (429 with `Retry-After: 1` above), "
            f"{args.jobs} jobs of 1 + {args.pages} pages, {PROCESSES} processes x "
            f"concurrency {CONCURRENCY}:",
            "",
            "| crawler | pages (of "
            f"{args.jobs * (1 + args.pages)}) | achieved rate | vs allowed | 429s after 10 s "
            "| 429s in all | total time |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, report in results["limited"].items():
            lines.append(
                f"| {name} | {report['ok']} | {report['rate']:.1f}/s | "
                f"{report['rate'] / args.rate:.0%} | {report['late_429_share']:.1%} | "
                f"{report['limited']} | {report['seconds']:.1f} s |"
            )
        lines.append("")
    if "dead" in results:
        with_breaker, without = results["dead"]
        lines += [
            f"A site that refuses every connection, {args.dead_jobs} jobs with 3 retries "
            f"(1 s apart), {PROCESSES} worker processes x {CONCURRENCY}, "
            f"{args.dead_seconds:g} s:",
            "",
            "| | attempts |",
            "|---|---|",
            f"| with the circuit breaker (default) | {with_breaker} |",
            f"| without (`--circuit-failures 0`, as before) | {without} |",
            "",
        ]
    return "\n".join(lines)


def write_docs(section: str) -> None:
    text = DOCS_FILE.read_text()
    if DOCS_SECTION in text:
        before, _, rest = text.partition(DOCS_SECTION)
        after = rest[rest.find("\n## ") :] if "\n## " in rest else ""
        text = before + section.rstrip() + "\n" + after
    else:
        text = text.rstrip() + "\n\n" + section.rstrip() + "\n"
    DOCS_FILE.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--dead-jobs", type=int, default=500)
    parser.add_argument("--dead-seconds", type=float, default=60.0)
    parser.add_argument("--only", choices=("limited", "dead"))
    parser.add_argument(
        "--syncs",
        type=lambda text: [float(part) for part in text.split(",")],
        default=[1.0, 0.25],
        help="scrapejobs runs, one per --site-sync-interval (seconds, comma-separated)",
    )
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--scrapy-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scrapy_child:
        scrapy_child(args.scrapy_child)
        return
    results: dict[str, Any] = {}
    if args.only in (None, "limited"):
        results["limited"] = {
            f"scrapejobs, `--site-sync-interval {sync:g}`"
            + (" (default)" if sync == 1 else ""): limited_with_scrapejobs(args, sync)
            for sync in args.syncs
        }
        results["limited"]["Scrapy, AutoThrottle"] = limited_with_scrapy(args)
        print(json.dumps(results["limited"], indent=2), flush=True)
    if args.only in (None, "dead"):
        results["dead"] = (
            dead_site_attempts(args),
            dead_site_attempts(args, "--circuit-failures", "0"),
        )
        print(json.dumps({"dead": results["dead"]}), flush=True)
    section = render(args, results)
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
