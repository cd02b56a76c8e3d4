"""2,000 one-page ``page_scrape`` jobs end to end against a local nginx: jobs/s.

The end-to-end figure of issue 14 ("2,000 one-page jobs against local nginx:
118-145 jobs/s"; goal 3x). A private nginx (the one ``crawl_vs_scrapy.py``
starts, imported from it) serves ``--jobs`` small HTML pages,
``/p/1.html`` ... ``/p/N.html``, on 127.0.0.1. One ``scrapejobs serve`` with
its default embedded workers (the autoscaled pool) and
``--allow-private-networks`` runs on a fresh database; ``--clients``
concurrent httpx clients create one job per page through
``POST /api/scrape-jobs`` (``respectRobots: false``), then the script polls
the counts until every job has ended.

Scenarios (database x site limits), side by side in one run:

- ``sqlite``: a temporary SQLite file (serve migrates it on start);
- ``postgresql``: a fresh database on ``--postgres-url`` (``scrapejobs db
  upgrade`` first), dropped afterwards;
- ``site default``: the site keeps its default limit, 8 requests in flight
  across the fleet (docs/sites.md): realistic politeness;
- ``site raised``: ``PATCH /api/domains/{site}`` with
  ``maxConcurrentRequests`` 64 and ``maxRequestsPerSecond`` 10,000 before the
  jobs are created.

Timing uses the jobs' own timestamps, read back at the end: the first
``created_at`` to the last ``completed_at`` (create + drain), and the first
``completed_at`` to the last (drain once running).

Usage::

    .venv/bin/python bench/end_to_end.py [--jobs 2000] [--clients 8]
        [--databases sqlite,postgresql] [--limits default,raised]
        [--source-dir /tmp/before/src]

``--source-dir`` runs another checkout's ``src`` (``PYTHONPATH``, same venv),
for a before/after comparison against an older commit. Prints a Markdown
table for ``docs/benchmarks.md`` ("End to end: one-page jobs against nginx").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_vs_scrapy import (
    Site,
    cpu_model,
    ensure_nginx,
    free_port,
    running_nginx,
    stop_process,
)

DEFAULT_POSTGRES = os.environ.get(
    "SCRAPEJOBS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BEFORE_REFERENCE = "118-145"  # issue 14, measured on this machine before its work
RAISED_LIMITS = {"maxConcurrentRequests": 64, "maxRequestsPerSecond": 10000}
PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>Page {n}</title></head>\n<body><h1>Page {n}</h1>\n"
    "<p>A small page for the end-to-end benchmark: one job fetches it, stores it, completes.</p>"
    '\n<p><a href="/p/{n}.html">itself</a></p></body></html>\n'
)


@dataclass
class Result:
    database: str
    limits: str
    jobs: int
    completed: int = 0
    failed: int = 0
    other: int = 0
    create_seconds: float = 0.0
    total_seconds: float = 0.0  # first created_at -> last completed_at
    drain_seconds: float = 0.0  # first completed_at -> last completed_at
    error: str = ""


def write_pages(root: Path, count: int) -> Site:
    (root / "p").mkdir(parents=True)
    for n in range(1, count + 1):
        (root / "p" / f"{n}.html").write_text(PAGE.format(n=n))
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    return Site(root=root, depths={}, private=())


def command(source_dir: Path | None, *args: str) -> tuple[list[str], dict[str, str]]:
    """The scrapejobs command line and environment (another checkout's src if given)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if source_dir is None:
        return [str(Path(sys.executable).with_name("scrapejobs")), *args], env
    env["PYTHONPATH"] = str(source_dir)
    return [sys.executable, "-m", "scrapejobs", *args], env


@contextlib.contextmanager
def serving(
    database_url: str, extra: tuple[str, ...], log: Path, source_dir: Path | None = None
) -> Iterator[str]:
    """``scrapejobs serve`` on a free port until the block ends; yields its base URL."""
    port = free_port()
    argv, env = command(
        source_dir, "serve", "--port", str(port), "--database-url", database_url, *extra
    )
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
        yield base
    finally:
        stop_process(process, signal.SIGINT)


async def _admin(postgres_url: str, *statements: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(postgres_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def database(kind: str, workdir: Path, postgres_url: str, name: str) -> Iterator[str]:
    """A fresh, empty database URL of ``kind``; dropped (or deleted) afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / (name + '.db')}"
        return
    from sqlalchemy.engine import make_url

    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    asyncio.run(_admin(postgres_url, drop, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(postgres_url, drop))


def upgrade(url: str, source_dir: Path | None) -> None:
    argv, env = command(source_dir, "db", "upgrade", "--database-url", url)
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=120)


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def total(client: httpx.AsyncClient, status: str) -> int:
    response = await client.get("/api/scrape-jobs", params={"status": status, "limit": 1})
    response.raise_for_status()
    return int(response.json()["pagination"]["total"])


async def create_jobs(client: httpx.AsyncClient, site: str, jobs: int, clients: int) -> None:
    numbers = iter(range(1, jobs + 1))

    async def creator() -> None:
        for n in numbers:
            body = {
                "domain": site,
                "job_type": "page_scrape",
                "config": {"startUrl": f"http://{site}/p/{n}.html", "respectRobots": False},
            }
            response = await client.post("/api/scrape-jobs", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"create -> {response.status_code}: {response.text[:300]}")

    await asyncio.gather(*(creator() for _ in range(clients)))


async def all_jobs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    while True:
        response = await client.get("/api/scrape-jobs", params={"limit": 200, "offset": len(jobs)})
        response.raise_for_status()
        page = response.json()["data"]
        jobs += page
        if len(page) < 200:
            return jobs


async def drive(base: str, site: str, result: Result, clients: int, wait_s: float) -> None:
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        if result.limits == "raised":
            response = await client.patch(f"/api/domains/{site}", json=RAISED_LIMITS)
            if response.status_code >= 400:
                raise RuntimeError(f"PATCH domain -> {response.status_code}: {response.text}")
        start = time.monotonic()
        await create_jobs(client, site, result.jobs, clients)
        result.create_seconds = time.monotonic() - start
        deadline = start + wait_s
        while time.monotonic() < deadline:
            done = await total(client, "completed") + await total(client, "failed")
            if done >= result.jobs:
                break
            await asyncio.sleep(0.25)
        else:
            result.error = f"not all ended after {wait_s:.0f} s"
        jobs = await all_jobs(client)
    created = [parse_time(job["created_at"]) for job in jobs]
    ended = [parse_time(job["completed_at"]) for job in jobs if job["status"] == "completed"]
    result.completed = len(ended)
    result.failed = sum(job["status"] == "failed" for job in jobs)
    result.other = len(jobs) - result.completed - result.failed
    if ended:
        result.total_seconds = max(ended) - min(created)
        result.drain_seconds = max(ended) - min(ended)


def run_scenario(
    kind: str, limits: str, args: argparse.Namespace, site: str, workdir: Path
) -> Result:
    result = Result(kind, limits, args.jobs)
    name = f"bench_e2e_{kind}_{limits}_{os.getpid()}"
    extra = ("--allow-private-networks", "--log-level", "warning")
    with database(kind, workdir, args.postgres_url, name) as url:
        if kind == "postgresql":
            upgrade(url, args.source_dir)
        with serving(url, extra, workdir / f"{name}.log", args.source_dir) as base:
            asyncio.run(drive(base, site, result, args.clients, args.timeout))
    return result


def rate(jobs: int, seconds: float) -> str:
    return f"{jobs / seconds:.0f}" if seconds > 0 else "-"


def table(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"{args.jobs} one-page `page_scrape` jobs, {args.clients} creating clients; "
        "jobs/s = completed jobs over the jobs' own timestamps.",
        "",
        "| scenario | site limits | completed | failed | other | create s "
        "| first create -> last completion s | jobs/s | from first completion jobs/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        label = r.database + (" (" + args.label + ")" if args.label else "")
        lines.append(
            f"| {label} | {r.limits} | {r.completed} | {r.failed} | {r.other} "
            f"| {r.create_seconds:.1f} | {r.total_seconds:.1f} "
            f"| {rate(r.completed, r.total_seconds)} | {rate(r.completed, r.drain_seconds)} |"
            + (f" {r.error}" if r.error else "")
        )
    lines.append(
        f"| issue 14's before (not rerun) | default | 2000 | | | | | {BEFORE_REFERENCE} | |"
    )
    lines += ["", f"- CPU: {cpu_model()}, nproc {os.cpu_count()}"]
    lines.append(f"- Python: {platform.python_version()}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent creating clients")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--limits", default="default,raised")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--timeout", type=float, default=180, help="seconds per scenario")
    parser.add_argument("--source-dir", type=Path, help="run this checkout's src instead")
    parser.add_argument("--label", default="", help="added to each row's scenario name")
    args = parser.parse_args()
    ensure_nginx()
    results = []
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        workdir.chmod(0o755)  # nginx workers may run as another user
        site_root = write_pages(workdir / "site", args.jobs)
        with running_nginx(workdir, site_root) as nginx:
            site = nginx.base_url.removeprefix("http://")
            for kind in args.databases.split(","):
                for limits in args.limits.split(","):
                    print(f"running {kind}, site {limits}...", file=sys.stderr, flush=True)
                    results.append(run_scenario(kind, limits, args, site, workdir))
    print(table(results, args))


if __name__ == "__main__":
    main()
