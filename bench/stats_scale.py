"""Time the stats endpoint and the filtered job list on 1,000,000 jobs, SQLite and PostgreSQL.

The scale benchmark of issue "retry analytics". It loads ``--jobs`` jobs with
realistic attempt histories (below) into a fresh SQLite file and a fresh
PostgreSQL database (schema by scrapejobs' own migrations), starts a real
``scrapejobs serve --workers 0`` on each, and times HTTP requests against it:

- ``GET /api/scrape-jobs/stats``: unfiltered, by domain, by job type, since 7 days;
- ``GET /api/scrape-jobs?...&limit=50``: by status, by domain, by failure pattern,
  by status and domain, and a deep page (offset 5000).

Each request is sent once to warm up, then ``--repeat`` times; the table gives
the median and the 95th percentile. Two peers run in the same server, on the
same data, so the figures read as ratios too:

- ``GET /healthz``: the HTTP floor (one trivial query through the same server);
- ``stats ?since=1970-01-01``: the same report counted from the million rows
  (a ``since`` makes the store count rows, as the running counts cannot tell
  when a job was created), against the running counts the plain request reads.

Histories (seeded, deterministic): 68% complete on the first attempt; 8% fail
for good (404, 403, 401, robots.txt, DNS); 14% fail transiently (timeout,
429, 503, refused, 5xx) and complete after 1-3 retries; 5% exhaust their 3
retries; the rest are pending, running, cancelled, or pending after a
retry. Domains are skewed (a few very busy ones), as in real crawl queues.

Usage::

    .venv/bin/python bench/stats_scale.py [--jobs 1000000] [--repeat 20]
        [--databases sqlite,postgresql] [--postgres-url URL] [--write-docs] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import serve  # noqa: E402

from scrapejobs.failures import ErrorType  # noqa: E402
from scrapejobs.sites import site_of  # noqa: E402
from scrapejobs.storage import SqlStore, migrate  # noqa: E402

NOW = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=90)
DOMAINS = 5000
PERMANENT = [
    (ErrorType.NOT_FOUND, 404, 0.5),
    (ErrorType.FORBIDDEN, 403, 0.2),
    (ErrorType.UNAUTHORIZED, 401, 0.1),
    (ErrorType.ROBOTS_DISALLOWED, None, 0.1),
    (ErrorType.DNS_RESOLUTION, None, 0.1),
]
TRANSIENT = [
    (ErrorType.TIMEOUT, None, 0.4),
    (ErrorType.RATE_LIMITED, 429, 0.25),
    (ErrorType.SERVICE_UNAVAILABLE, 503, 0.15),
    (ErrorType.CONNECTION_REFUSED, None, 0.1),
    (ErrorType.SERVER_ERROR, 500, 0.1),
]
JOB_COLUMNS = (
    "id", "domain", "job_type", "status", "priority", "retry_count", "max_retries", "config",
    "metadata", "failure_message", "failure_pattern", "error_type", "http_status", "retry_reason",
    "last_error", "retried_at", "retried_by", "created_at", "updated_at", "scheduled_at",
    "started_at", "completed_at", "attempts", "worker_id", "lease_expires_at", "version", "site",
)  # fmt: skip
EVENT_COLUMNS = (
    "job_id", "at", "event", "from_status", "to_status", "actor", "attempt", "retry_count",
    "error_message", "error_type", "failure_pattern", "http_status", "domain", "job_type",
    "job_created_at",
)  # fmt: skip
METADATA = json.dumps({"source": "bench"})
CONFIG = json.dumps(
    {"depth": 3, "maxPages": 100, "timeout": 30000, "respectRobots": True, "autoRetry": True}
)


def _pick(rng: random.Random, table: list[tuple[ErrorType, int | None, float]]) -> Any:
    roll, total = rng.random(), 0.0
    for row in table:
        total += row[2]
        if roll < total:
            return row
    return table[-1]


@dataclass
class History:
    """One generated job: its row and its event rows (tuples in column order)."""

    job: tuple[Any, ...]
    events: list[tuple[Any, ...]] = field(default_factory=list)


class Generator:
    """Seeded jobs with realistic attempt histories."""

    def __init__(self, jobs: int, seed: int = 42) -> None:
        self.jobs = jobs
        self.rng = random.Random(seed)

    def __iter__(self) -> Iterator[History]:
        for index in range(self.jobs):
            yield self.history(index)

    def history(self, index: int) -> History:
        rng = self.rng
        created = NOW - SPAN + SPAN * (index / self.jobs)
        domain = f"site{int(DOMAINS * rng.random() ** 3)}.example"
        job_type = rng.choices(["domain_scrape", "page_scrape", "sitemap_scrape"], [7, 2, 1])[0]
        roll = rng.random()
        if roll < 0.68:
            plan, final = [], "completed"
        elif roll < 0.76:
            plan, final = [_pick(rng, PERMANENT)], "failed"
        elif roll < 0.90:
            error = _pick(rng, TRANSIENT)
            plan, final = [error] * rng.choices([1, 2, 3], [6, 3, 1])[0], "completed"
        elif roll < 0.95:
            plan, final = [_pick(rng, TRANSIENT)] * 4, "failed"
        else:
            final = rng.choice(["pending", "running", "cancelled", "retried"])
            plan = [_pick(rng, TRANSIENT)] if final == "retried" else []
        return self.build(str(uuid.UUID(int=rng.getrandbits(128))), domain, job_type,
                          created, plan, final)  # fmt: skip

    def build(
        self,
        job_id: str,
        domain: str,
        job_type: str,
        created: datetime,
        plan: list[tuple[ErrorType, int | None, float]],
        final: str,
    ) -> History:
        events: list[tuple[Any, ...]] = []
        at = created
        retried_at: datetime | None = None

        def event(
            kind: str,
            frm: str | None,
            to: str,
            actor: str,
            attempt: int | None,
            retries: int,
            error: tuple[ErrorType, int | None, float] | None = None,
        ) -> None:
            nonlocal at, retried_at
            at += timedelta(seconds=1 + self.rng.random() * 30)
            retried_at = at if kind == "retried" else retried_at
            error_type = error[0] if error else None
            events.append((
                job_id, at, kind, frm, to, actor, attempt, retries,
                error_type.value if error_type else None,
                error_type.value if error_type else None,
                error_type.pattern.value if error_type else None,
                error[1] if error else None, domain, job_type, created,
            ))  # fmt: skip

        event("created", None, "pending", "api", None, 0)
        attempts = retries = 0
        started = completed = None
        for number, error in enumerate(plan):
            attempts += 1
            event("started", "pending", "running", "w1", attempts, retries)
            started = at
            event("failed", "running", "failed", "w1", attempts, retries, error)
            last = number == len(plan) - 1
            if not last or final in ("completed", "retried"):
                event("retried", "failed", "pending", "system", None, retries, error)
                retries += 1
        status = {"retried": "pending"}.get(final, final)
        if final == "completed":
            attempts += 1
            event("started", "pending", "running", "w1", attempts, retries)
            started = at
            event("completed", "running", "completed", "w1", attempts, retries)
            completed = at
        elif final == "running":
            attempts += 1
            event("started", "pending", "running", "w1", attempts, retries)
            started = at
        elif final == "cancelled":
            event("cancelled", "pending", "cancelled", "api", None, 0)
            completed = at
        elif final == "failed":
            completed = at
        # The current failure: the last one, unless the job completed since (Job.failure).
        current = plan[-1] if plan and status != "completed" else None
        error_type = current[0] if current else None
        answered = plan[-1][0].value if plan else None
        job = (
            job_id, domain, job_type, status, self.rng.randint(1, 10), retries, 3, CONFIG,
            METADATA,
            error_type.value if error_type else None,
            error_type.pattern.value if error_type else None,
            error_type.value if error_type else None,
            current[1] if current else None,
            f"Automatic retry after {answered} error" if retries else None,
            answered if retries else None,
            retried_at if retries else None,
            "system" if retries else None,
            created, at, at, started, completed, attempts,
            "w1" if status == "running" else None,
            at + timedelta(minutes=1) if status == "running" else None, len(events),
            site_of(domain),
        )  # fmt: skip
        return History(job, events)


def _batches(generator: Generator, size: int = 20_000) -> Iterator[tuple[list[Any], list[Any]]]:
    jobs: list[Any] = []
    events: list[Any] = []
    for history in generator:
        jobs.append(history.job)
        events.extend(history.events)
        if len(jobs) >= size:
            yield jobs, events
            jobs, events = [], []
    if jobs:
        yield jobs, events


async def _migrate(url: str) -> None:
    store = SqlStore.from_url(url)
    try:
        await migrate.upgrade(store.engine)
    finally:
        await store.close()


async def _recount(url: str) -> None:
    """Fill the running counts the store keeps, as scrapejobs itself would have."""
    store = SqlStore.from_url(url)
    try:
        await store.recount()
    finally:
        await store.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def load_sqlite(path: Path, jobs: int) -> int:
    asyncio.run(_migrate(f"sqlite:///{path}"))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    job_sql, event_sql = (
        f"INSERT INTO {table} ({','.join(columns)}) VALUES ({','.join('?' * len(columns))})"
        for table, columns in (("jobs", JOB_COLUMNS), ("job_events", EVENT_COLUMNS))
    )
    # Loading without indexes and building them after is many times faster.
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    events = 0
    with conn:
        for job_rows, event_rows in _batches(Generator(jobs)):
            conn.executemany(job_sql, ([_sqlite_value(v) for v in row] for row in job_rows))
            conn.executemany(event_sql, ([_sqlite_value(v) for v in row] for row in event_rows))
            events += len(event_rows)
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.close()
    asyncio.run(_recount(f"sqlite:///{path}"))
    return events


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def load_postgres(url: str, jobs: int) -> int:
    await _migrate(url)
    conn = await asyncpg.connect(_dsn(url))
    events = 0
    try:
        # Loading without indexes and building them after is many times faster.
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('jobs', 'job_events')"
            " AND indexname LIKE 'ix_%'"
        )
        for index in indexes:
            await conn.execute(f"DROP INDEX {index['indexname']}")
        for job_rows, event_rows in _batches(Generator(jobs)):
            await conn.copy_records_to_table("jobs", records=job_rows, columns=JOB_COLUMNS)
            await conn.copy_records_to_table(
                "job_events", records=event_rows, columns=EVENT_COLUMNS
            )
            events += len(event_rows)
        for index in indexes:
            await conn.execute(index["indexdef"])
        await _recount(url)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return events


def _requests(busy_domain: str) -> list[tuple[str, str]]:
    since = (NOW - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stats = "/api/scrape-jobs/stats"
    jobs = "/api/scrape-jobs?limit=50"
    return [
        ("healthz (HTTP floor)", "/healthz"),
        ("stats", stats),
        ("stats ?since=1970 (counted from the rows)", f"{stats}?since=1970-01-01"),
        ("stats ?domain (busiest)", f"{stats}?domain={busy_domain}"),
        ("stats ?job_type=page_scrape", f"{stats}?job_type=page_scrape"),
        ("stats ?since=7 days", f"{stats}?since={since}"),
        ("list ?status=failed", f"{jobs}&status=failed"),
        ("list ?domain (busiest)", f"{jobs}&domain={busy_domain}"),
        ("list ?failure_pattern=rate_limiting", f"{jobs}&failure_pattern=rate_limiting"),
        ("list ?status=failed&domain", f"{jobs}&status=failed&domain={busy_domain}"),
        ("list ?status=completed&offset=5000", f"{jobs}&status=completed&offset=5000"),
    ]


def time_requests(base: str, requests: list[tuple[str, str]], repeat: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=300) as client:
        for name, path in requests:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code, response.text)
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                client.get(path).raise_for_status()
                samples.append((time.perf_counter() - start) * 1000)
            samples.sort()
            results[name] = {
                "median": statistics.median(samples),
                "p95": samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))],
            }
    return results


def bench_database(name: str, url: str, repeat: int) -> dict[str, Any]:
    with serve(url) as base:
        timed = time_requests(base, _requests("site0.example"), repeat)
    print(f"{name}: done", file=sys.stderr)
    return timed


def _row(name: str, timed: dict[str, Any], floor: float) -> str:
    cells = [name, f"{timed['median']:.1f}", f"{timed['p95']:.1f}"]
    cells.append(f"{timed['median'] / floor:.1f}x")
    return "| " + " | ".join(cells) + " |"


def report(results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"{meta['jobs']:,} jobs and {meta['events']:,} events; {meta['repeat']} timed requests "
        f"per row after one warm-up, through `scrapejobs serve` over HTTP; {meta['machine']}.",
        "",
    ]
    for database, result in results.items():
        floor = result["healthz (HTTP floor)"]["median"]
        lines += [
            f"**{database}** (load: {meta['load'][database]:.0f} s)",
            "",
            "| request | median ms | p95 ms | x healthz |",
            "|---|---:|---:|---:|",
        ]
        lines += [_row(name, timed, floor) for name, timed in result.items()]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "SCRAPEJOBS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()

    results: dict[str, dict[str, Any]] = {}
    meta: dict[str, Any] = {"jobs": args.jobs, "repeat": args.repeat, "load": {}}
    meta["machine"] = f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    workdir = Path(tempfile.mkdtemp(prefix="scrapejobs-stats-"))
    for database in args.databases.split(","):
        start = time.perf_counter()
        if database == "sqlite":
            path = workdir / "bench.db"
            meta["events"] = load_sqlite(path, args.jobs)
            url = f"sqlite:///{path}"
        else:
            url, admin = _postgres_database(args.postgres_url)
            meta["events"] = asyncio.run(load_postgres(url, args.jobs))
        meta["load"][database] = time.perf_counter() - start
        print(f"{database}: loaded in {meta['load'][database]:.0f} s", file=sys.stderr)
        try:
            results[database] = bench_database(database, url, args.repeat)
        finally:
            if database == "postgresql" and not args.keep:
                asyncio.run(_drop_database(admin, url))
    text = report(results, meta)
    print(text)
    if args.write_docs:
        _write_docs(text)


def _postgres_database(base_url: str) -> tuple[str, str]:
    name = f"scrapejobs_bench_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(_dsn(base_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), base_url


async def _drop_database(admin_url: str, url: str) -> None:
    conn = await asyncpg.connect(_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


MARK_BEGIN = "<!-- stats_scale:begin -->"
MARK_END = "<!-- stats_scale:end -->"


def _write_docs(text: str) -> None:
    docs = ROOT / "docs" / "benchmarks.md"
    content = docs.read_text()
    block = f"{MARK_BEGIN}\n{text}\n{MARK_END}"
    if MARK_BEGIN in content:
        head, rest = content.split(MARK_BEGIN, 1)
        content = head + block + rest.split(MARK_END, 1)[1]
    else:
        content += f"\n## Analytics at scale (`bench/stats_scale.py`)\n\n{block}\n"
    docs.write_text(content)


if __name__ == "__main__":
    main()
