"""Queue throughput: scrapejobs against pgqueuer and procrastinate, on the same PostgreSQL.

The benchmark of issue 14. Each run enqueues ``--jobs`` no-op jobs and drains
them (claim, then complete, nothing in between) with 1, 4 and 16 consumers in
one process and with 16 consumers in 2 processes, in a fresh database each
time, for four systems side by side in the same run:

- scrapejobs on PostgreSQL and on SQLite: the store of ``scrapejobs.service.
  open_store``, ``JobManager.create_job`` to enqueue (page_scrape jobs over
  ``--domains`` domains); to drain, as a worker with ``consumers`` slots does:
  one ``claim_jobs`` fills the free slots, each job then ``complete_attempt``;
- pgqueuer: ``Queries.enqueue`` (one job a call, over an asyncpg pool) to
  enqueue, ``PgQueuer.run(mode=drain)`` with a no-op entrypoint whose
  ``concurrency_limit`` is the number of consumers (a limit the database
  enforces across processes) to drain, ``batch_size`` the consumers of a
  process up to its default 10 (a done job keeps its slot of the limit until
  the log buffer of ``batch_size`` entries flushes, or 0.1 s pass: a batch
  larger than the limit holds the queue to a few batches a second);
  its default (durable) tables;
- procrastinate: ``Task.defer_async`` (one job a call) over its
  ``PsycopgConnector``, ``App.run_worker_async(concurrency=N, wait=False)``.

Enqueueing runs in as many concurrent tasks as there are consumers. Rates are
jobs over wall time, from the first process starting to the last finishing.
Rounds alternate the systems (their order rotates each round); the tables give
the median over rounds with the range, and the ratios of the medians.

Every run is checked, and the benchmark fails loudly when a check fails: each
job ran exactly once (as the consumers saw it), and for scrapejobs the rows
agree: every job ``completed``, one ``created``, one ``started`` and one
``completed`` event per job, and the running counts (``job_counts``) equal to
the rows counted by status and by their full key.

Idle claim latency: one consumer waits on an empty queue (for scrapejobs a
real ``Worker`` with its default concurrency and poll interval, over a crawler
that does nothing; pgqueuer and procrastinate with LISTEN/NOTIFY), and jobs
are enqueued one at a time ``--idle-pause`` seconds apart (jittered); the
latency is from the enqueue's commit to the claim returning.

Usage::

    .venv/bin/python bench/queue_throughput.py [--jobs 5000] [--rounds 3] [--consumers 1,4,16]
        [--processes 2] [--domains 1000] [--only SYSTEM,...] [--idle-samples 10]
        [--idle-pause 2] [--quick] [--postgres-url URL] [--write-docs]

PostgreSQL comes from ``--postgres-url`` (default ``SCRAPEJOBS_TEST_POSTGRES_URL`` or
``postgresql://postgres@127.0.0.1:5432/test``); each run creates a database
``bench_queue_<system>`` there and drops it after. The script re-runs itself
with ``--child SPEC`` for the consumer processes; that option is internal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import random
import select
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOCS_FILE = REPO / "docs" / "benchmarks.md"
DOCS_SECTION = "## Queue throughput"
DEFAULT_POSTGRES = os.environ.get(
    "SCRAPEJOBS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SCRAPEJOBS_PG, SCRAPEJOBS_SQLITE = "scrapejobs-postgresql", "scrapejobs-sqlite"
PGQUEUER, PROCRASTINATE = "pgqueuer", "procrastinate"
SYSTEMS = (SCRAPEJOBS_PG, SCRAPEJOBS_SQLITE, PGQUEUER, PROCRASTINATE)
SCRAPEJOBS = (SCRAPEJOBS_PG, SCRAPEJOBS_SQLITE)
PEERS = (PROCRASTINATE, PGQUEUER)
ENTRYPOINT = "noop"
GOAL_DRAIN = 1000.0
GOAL_X = {PROCRASTINATE: 2.0, PGQUEUER: 0.25}
GOAL_IDLE_P50_MS = 50.0
REPLY_TIMEOUT_S = 1800.0


class BenchmarkError(Exception):
    """A run failed or a check did not hold."""


def now() -> float:
    """One clock for every process of a run (CLOCK_MONOTONIC is system-wide)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


# -- the systems, as driven inside a consumer process ------------------------------


class Scrapejobs:
    """scrapejobs through its JobManager, as the API and the workers use it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    async def open(self) -> None:
        from scrapejobs.jobs import JobType
        from scrapejobs.manager import JobManager
        from scrapejobs.schemas import JobCreate
        from scrapejobs.service import open_store
        from scrapejobs.settings import Settings

        settings = Settings(database_url=self.spec["url"])
        self.store = await open_store(settings)
        self.manager = JobManager(self.store, settings.policy)
        domains = self.spec["domains"]
        self.requests = [
            JobCreate(domain=f"site{number % domains}.example", job_type=JobType.PAGE_SCRAPE)
            for number in range(*self.spec["numbers"])
        ]
        # Open the pool's connections before the clock starts.
        await asyncio.gather(*(self.manager.ping() for _ in range(self.spec["consumers"])))

    async def enqueue(self) -> None:
        pending = iter(self.requests)

        async def producer() -> None:
            for request in pending:
                await self.manager.create_job(request)

        await asyncio.gather(*(producer() for _ in range(self.spec["consumers"])))

    async def drain(self) -> list[Any]:
        """As a worker with ``consumers`` slots drains: one claim fills the free slots
        (``claim_jobs``), each job is completed on its own, with the job as claimed."""
        seen: list[str] = []
        worker_id, slots = f"bench-{os.getpid()}", self.spec["consumers"]
        running: set[asyncio.Task[Any]] = set()

        async def complete(job: Any) -> None:
            token = job.lease_token
            await self.manager.complete_attempt(
                job.id, worker_id=worker_id, lease_token=token, job=job
            )

        while True:
            free = slots - len(running)
            batch = await self.manager.claim_jobs(worker_id, free) if free else []
            for job in batch:
                seen.append(job.id)
                task = asyncio.create_task(complete(job))
                running.add(task)
                task.add_done_callback(running.discard)
            if not batch and not running:
                return seen
            if not batch or len(running) >= slots:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)

    async def idle(self, samples: int, pause: float, rng: random.Random) -> list[float]:
        """A real Worker (default concurrency and polling) over a crawler that does nothing."""
        from scrapejobs.worker import Worker

        claimed: dict[str, float] = {}
        woken = asyncio.Event()
        manager = _timed_manager(self.store, claimed, woken)
        worker = Worker(manager, _NoCrawl())  # type: ignore[arg-type]
        running = asyncio.create_task(worker.run())
        request = self.requests[0]

        async def enqueue() -> str:
            job, _ = await self.manager.create_job(request)
            return job.id

        try:
            return await _sample_idle(enqueue, claimed, woken, samples, pause, rng)
        finally:
            worker.stop()
            await running

    async def close(self) -> None:
        await self.store.close()


def _timed_manager(store: Any, claimed: dict[str, float], woken: asyncio.Event) -> Any:
    """A JobManager that notes when each claim returned a job (the worker calls it)."""
    from scrapejobs.manager import JobManager
    from scrapejobs.settings import Settings

    class TimedManager(JobManager):
        async def claim_jobs(self, worker_id: str, limit: int, **options: Any) -> Any:
            jobs = await super().claim_jobs(worker_id, limit, **options)
            for job in jobs:
                claimed[job.id] = now()
                woken.set()
            return jobs

    return TimedManager(store, Settings().policy)


class _NoCrawl:
    """What the Worker needs of a Crawler: a gate, and a crawl that stores no page."""

    def __init__(self) -> None:
        from scrapejobs.crawler import SiteGate

        self.gate = SiteGate()

    async def crawl(self, spec: Any, on_pages: Any) -> Any:
        from scrapejobs.crawler.model import CrawlSummary

        return CrawlSummary(pages=0, errors=0)

    async def close(self) -> None:
        return None


class _Peer:
    """What a peer's driver keeps: its spec, the jobs its consumers saw, and when
    each idle-latency job was claimed."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.seen: list[int] = []
        self.claimed: dict[int, float] = {}
        self.woken = asyncio.Event()


class Pgqueuer(_Peer):
    """pgqueuer 1.x: Queries.enqueue over an asyncpg pool, PgQueuer over one connection."""

    async def open(self) -> None:
        import asyncpg
        from pgqueuer import PgQueuer
        from pgqueuer.queries import Queries

        size = self.spec["consumers"] + 1
        self.pool = await asyncpg.create_pool(self.spec["dsn"], min_size=size, max_size=size)
        self.queries = Queries.from_asyncpg_pool(self.pool)
        self.connection = await asyncpg.connect(self.spec["dsn"])
        self.pgq = PgQueuer.from_asyncpg_connection(self.connection)

        @self.pgq.entrypoint(ENTRYPOINT, concurrency_limit=self.spec["limit"])
        async def noop(job: Any) -> None:
            number = int(job.payload)
            self.seen.append(number)
            self.claimed[number] = now()
            self.woken.set()

        self.payloads = [str(number).encode() for number in range(*self.spec["numbers"])]

    async def enqueue(self) -> None:
        pending = iter(self.payloads)

        async def producer() -> None:
            for payload in pending:
                await self.queries.enqueue(ENTRYPOINT, payload)

        await asyncio.gather(*(producer() for _ in range(self.spec["consumers"])))

    async def drain(self) -> list[Any]:
        from pgqueuer.types import QueueExecutionMode

        # Its log buffer flushes at batch_size completions (or after 0.1 s), and until
        # then the done jobs hold their slots of the limit: a batch of at most the limit.
        batch = max(1, min(10, self.spec["limit"] // self.spec["processes"]))
        await self.pgq.run(mode=QueueExecutionMode.drain, batch_size=batch)
        return self.seen

    async def idle(self, samples: int, pause: float, rng: random.Random) -> list[float]:
        running = asyncio.create_task(self.pgq.run())
        counter = iter(range(10**9))

        async def enqueue() -> int:
            number = next(counter)
            await self.queries.enqueue(ENTRYPOINT, str(number).encode())
            return number

        try:
            return await _sample_idle(enqueue, self.claimed, self.woken, samples, pause, rng)
        finally:
            self.pgq.shutdown.set()
            await running

    async def close(self) -> None:
        await self.connection.close()
        await self.pool.close()


class Procrastinate(_Peer):
    """procrastinate 3.x: Task.defer_async and App.run_worker_async over PsycopgConnector."""

    async def open(self) -> None:
        import procrastinate

        # The worker holds a connection per job slot, one to listen and a few for upkeep.
        size = self.spec["consumers"] + 4
        connector = procrastinate.PsycopgConnector(
            conninfo=self.spec["dsn"], min_size=size, max_size=size
        )
        self.app = procrastinate.App(connector=connector)

        @self.app.task(name=ENTRYPOINT)
        async def noop(number: int) -> None:
            self.seen.append(number)
            self.claimed[number] = now()
            self.woken.set()

        self.task = noop
        self.numbers = list(range(*self.spec["numbers"]))
        await self.app.open_async()

    async def enqueue(self) -> None:
        pending = iter(self.numbers)

        async def producer() -> None:
            for number in pending:
                await self.task.defer_async(number=number)

        await asyncio.gather(*(producer() for _ in range(self.spec["consumers"])))

    async def drain(self) -> list[Any]:
        await self.app.run_worker_async(
            concurrency=self.spec["consumers"], wait=False, install_signal_handlers=False
        )
        return self.seen

    async def idle(self, samples: int, pause: float, rng: random.Random) -> list[float]:
        running = asyncio.create_task(
            self.app.run_worker_async(wait=True, install_signal_handlers=False)
        )
        counter = iter(range(10**9))

        async def enqueue() -> int:
            number = next(counter)
            await self.task.defer_async(number=number)
            return number

        try:
            return await _sample_idle(enqueue, self.claimed, self.woken, samples, pause, rng)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    async def close(self) -> None:
        await self.app.close_async()


ADAPTERS = {
    SCRAPEJOBS_PG: Scrapejobs,
    SCRAPEJOBS_SQLITE: Scrapejobs,
    PGQUEUER: Pgqueuer,
    PROCRASTINATE: Procrastinate,
}


async def _sample_idle(
    enqueue: Any,
    claimed: dict[Any, float],
    woken: asyncio.Event,
    samples: int,
    pause: float,
    rng: random.Random,
) -> list[float]:
    """Enqueue one job at a time into an idle queue; seconds from commit to claim.

    The first sample warms up and is dropped."""
    latencies = []
    await asyncio.sleep(pause)
    for _ in range(samples + 1):
        key = await enqueue()
        committed = now()
        deadline = committed + 60
        while key not in claimed:
            woken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), 1)
            if now() > deadline:
                raise BenchmarkError("an idle consumer did not claim a job within 60 s")
        # A claim that returns before the enqueue does counts as instant.
        latencies.append(max(0.0, claimed[key] - committed))
        await asyncio.sleep(pause * rng.uniform(0.5, 1.5))
    return latencies[1:]


def child(spec_text: str) -> None:
    """One consumer process: JSON lines out, a command line in for each phase."""
    spec = json.loads(spec_text)
    replies = sys.stdout
    sys.stdout = sys.stderr  # the libraries' prints must not mix with the replies
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    _quiet_procrastinate()
    asyncio.run(_child(spec, replies))


def _quiet_procrastinate() -> None:
    """procrastinate warns that its App is made in ``__main__`` (its CLI could not import
    it by name); the workers here run in the process that registered the task."""
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)


def _reply(replies: Any, message: dict[str, Any]) -> None:
    replies.write(json.dumps(message) + "\n")
    replies.flush()


async def _child(spec: dict[str, Any], replies: Any) -> None:
    system = ADAPTERS[spec["system"]](spec)
    await system.open()
    try:
        if spec.get("idle"):
            rng = random.Random(spec["seed"])
            latencies = await system.idle(spec["idle"], spec["pause"], rng)
            _reply(replies, {"latencies": latencies})
            return
        _reply(replies, {"ready": True})
        for phase in ("enqueue", "drain"):
            command = sys.stdin.readline().strip()
            if command != phase:
                raise BenchmarkError(f"expected {phase!r}, got {command!r}")
            start = now()
            seen = await getattr(system, phase)()
            _reply(replies, {"start": start, "end": now(), "seen": seen})
    finally:
        await system.close()


# -- databases -------------------------------------------------------------------------


def _dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _admin(postgres_url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(postgres_url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    from scrapejobs.storage import SqlStore, migrate

    store = SqlStore.from_url(url)
    try:
        await migrate.upgrade(store.engine)
    finally:
        await store.close()


async def _install_pgqueuer(url: str) -> None:
    import asyncpg
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(_dsn(url))
    try:
        await Queries.from_asyncpg_connection(conn).install()
    finally:
        await conn.close()


async def _install_procrastinate(url: str) -> None:
    import procrastinate

    _quiet_procrastinate()
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=_dsn(url)))
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


INSTALLERS = {
    SCRAPEJOBS_PG: _migrate,
    PGQUEUER: _install_pgqueuer,
    PROCRASTINATE: _install_procrastinate,
}


@dataclass
class Databases:
    """Where the runs' databases come from: PostgreSQL, and a migrated SQLite template."""

    postgres_url: str
    workdir: Path
    template: Path = field(init=False)

    def __post_init__(self) -> None:
        self.template = self.workdir / "template.db"
        asyncio.run(_migrate(f"sqlite:///{self.template}"))

    @contextlib.contextmanager
    def fresh(self, system: str) -> Iterator[str]:
        """A new, empty database with the system's schema; gone afterwards."""
        if system == SCRAPEJOBS_SQLITE:
            path = self.workdir / f"run-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(self.template, path)
            try:
                yield f"sqlite:///{path}"
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        name = f"bench_queue_{system.replace('-', '_')}"
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        asyncio.run(_admin(self.postgres_url, drop, f'CREATE DATABASE "{name}"'))
        try:
            url = _with_database(self.postgres_url, name)
            asyncio.run(INSTALLERS[system](url))
            yield url
        finally:
            asyncio.run(_admin(self.postgres_url, drop))


# -- the checks ----------------------------------------------------------------------------


def _check_seen(system: str, seen: list[Any], jobs: int) -> None:
    """Each job reached a consumer exactly once."""
    repeated = sum(1 for count in Counter(seen).values() if count > 1)
    if len(seen) != jobs or repeated:
        raise BenchmarkError(
            f"{system}: consumers ran {len(seen)} jobs ({len(set(seen))} distinct, "
            f"{repeated} more than once) of {jobs}"
        )


# Each query's rows must equal the expected rows, in order.
JOB_KEY = (
    "domain, job_type, status, retry_count, coalesce(error_type, ''),"
    " coalesce(failure_pattern, ''), CASE WHEN retry_count >= max_retries THEN 1 ELSE 0 END"
)
COUNT_KEY = "domain, job_type, status, retry_count, error_type, failure_pattern, exhausted"


async def _scrapejobs_rows(url: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from scrapejobs.storage import SqlStore

    queries = {
        "statuses": "SELECT status, count(*) FROM jobs GROUP BY status ORDER BY status",
        "counted statuses": "SELECT status, sum(jobs) FROM job_counts GROUP BY status"
        " HAVING sum(jobs) <> 0 ORDER BY status",
        "rows by key": f"SELECT {JOB_KEY}, count(*) FROM jobs GROUP BY {JOB_KEY} ORDER BY 1, 2",
        "counts by key": f"SELECT {COUNT_KEY}, jobs FROM job_counts WHERE jobs <> 0 ORDER BY 1, 2",
        "events": "SELECT event, count(*), count(DISTINCT job_id) FROM job_events"
        " WHERE event IN ('created', 'started', 'completed') GROUP BY event ORDER BY event",
        "failure counts": "SELECT coalesce(sum(events), 0) FROM failure_counts",
    }
    store = SqlStore.from_url(url)
    try:
        async with store.engine.connect() as conn:
            return {
                name: [tuple(row) for row in await conn.execute(sa.text(query))]
                for name, query in queries.items()
            }
    finally:
        await store.close()


def check_scrapejobs(system: str, url: str, jobs: int) -> None:
    """Every job completed once, with its events, and the running counts equal to the rows."""
    rows = asyncio.run(_scrapejobs_rows(url))
    problems = []
    if rows["statuses"] != [("completed", jobs)]:
        problems.append(f"job statuses {rows['statuses']}, expected {jobs} completed")
    expected_events = [(event, jobs, jobs) for event in ("completed", "created", "started")]
    if rows["events"] != expected_events:
        problems.append(f"events (kind, events, jobs) {rows['events']}, expected one each")
    counted_statuses = [(status, int(n)) for status, n in rows["counted statuses"]]
    if counted_statuses != rows["statuses"]:
        problems.append(f"job_counts by status {counted_statuses} != rows {rows['statuses']}")
    counted = [(*key, int(n)) for *key, n in rows["counts by key"]]
    if counted != rows["rows by key"]:
        differ = set(counted) ^ set(rows["rows by key"])
        problems.append(f"job_counts differ from the rows in {len(differ)} keys")
    if rows["failure counts"] != [(0,)]:
        problems.append(f"failure_counts sum to {rows['failure counts']}, expected 0")
    if problems:
        raise BenchmarkError(f"{system}: " + "; ".join(problems))


async def _peer_rows(system: str, url: str) -> list[tuple[Any, ...]]:
    import asyncpg

    query = {
        PGQUEUER: "SELECT status::text, count(*) FROM pgqueuer GROUP BY status",
        PROCRASTINATE: "SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status",
    }[system]
    conn = await asyncpg.connect(_dsn(url))
    try:
        return [tuple(row) for row in await conn.fetch(query)]
    finally:
        await conn.close()


def check_peer(system: str, url: str, jobs: int) -> None:
    """pgqueuer deletes a done job from its queue; procrastinate keeps it, succeeded."""
    rows = asyncio.run(_peer_rows(system, url))
    expected = [] if system == PGQUEUER else [("succeeded", jobs)]
    if rows != expected:
        raise BenchmarkError(f"{system}: queue rows {rows} after the drain, expected {expected}")


# -- runs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    consumers: int
    processes: int = 1
    domains: int = 1000

    @property
    def label(self) -> str:
        per = self.consumers // self.processes
        text = f"{self.processes} x {per}" if self.processes > 1 else str(self.consumers)
        return text + (", 1 domain" if self.domains == 1 else "")


@dataclass(frozen=True)
class Run:
    system: str
    case: Case
    label: str
    jobs: int
    enqueue_s: float
    drain_s: float

    @property
    def enqueue_rate(self) -> float:
        return self.jobs / self.enqueue_s

    @property
    def drain_rate(self) -> float:
        return self.jobs / self.drain_s


def _spawn(spec: dict[str, Any]) -> subprocess.Popen[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _hear(process: subprocess.Popen[str], what: str) -> dict[str, Any]:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], REPLY_TIMEOUT_S)
    line = process.stdout.readline() if readable else ""
    if not line:
        process.kill()
        raise BenchmarkError(f"a consumer process gave no {what} (exit {process.wait()})")
    return dict(json.loads(line))


def _tell(processes: list[subprocess.Popen[str]], command: str) -> None:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(command + "\n")
        process.stdin.flush()


def _phases(specs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Run the consumer processes through enqueue, then drain, all starting together."""
    processes = [_spawn(spec) for spec in specs]
    try:
        for process in processes:
            _hear(process, "ready")
        replies = {}
        for phase in ("enqueue", "drain"):
            _tell(processes, phase)
            replies[phase] = [_hear(process, phase) for process in processes]
        for process in processes:
            if process.wait(60) != 0:
                raise BenchmarkError(f"a consumer process exited with {process.returncode}")
        return replies
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _wall(replies: list[dict[str, Any]]) -> float:
    return max(r["end"] for r in replies) - min(r["start"] for r in replies)


def _spec(system: str, url: str, case: Case, numbers: list[int], **extra: Any) -> dict[str, Any]:
    """What one consumer process is to do (``numbers``: its jobs, a range)."""
    return {
        "system": system,
        "url": url,
        "dsn": url if system == SCRAPEJOBS_SQLITE else _dsn(url),
        "numbers": numbers,
        "consumers": case.consumers // case.processes,
        "limit": case.consumers,
        "processes": case.processes,
        "domains": case.domains,
        **extra,
    }


def run_once(databases: Databases, system: str, case: Case, jobs: int, label: str) -> Run:
    """One system, one case, a fresh database: enqueue, drain, check."""
    with databases.fresh(system) as url:
        shares = [part * jobs // case.processes for part in range(case.processes + 1)]
        specs = [
            _spec(system, url, case, shares[part : part + 2]) for part in range(case.processes)
        ]
        replies = _phases(specs)
        _check_seen(system, [n for r in replies["drain"] for n in r["seen"]], jobs)
        if system in SCRAPEJOBS:
            check_scrapejobs(system, url, jobs)
        else:
            check_peer(system, url, jobs)
    run = Run(system, case, label, jobs, _wall(replies["enqueue"]), _wall(replies["drain"]))
    print(
        f"  {label:>8}  {case.label:<16} {system:<22} enqueue {run.enqueue_rate:>8,.0f}/s"
        f"  drain {run.drain_rate:>8,.0f}/s  (checked)",
        flush=True,
    )
    return run


def idle_once(
    databases: Databases, system: str, args: argparse.Namespace, seed: int
) -> list[float]:
    """Idle claim latencies (ms) of one consumer process."""
    with databases.fresh(system) as url:
        extra = {"idle": args.idle_samples, "pause": args.idle_pause, "seed": seed}
        process = _spawn(_spec(system, url, Case(1, 1, 1), [0, 1], **extra))
        try:
            reply = _hear(process, "latencies")
        finally:
            if process.wait(60) != 0:
                raise BenchmarkError(
                    f"{system}: the idle consumer exited with {process.returncode}"
                )
    latencies = [seconds * 1000 for seconds in reply["latencies"]]
    print(
        f"  idle      {system:<22} p50 {percentile(latencies, 50):>7.1f} ms"
        f"  max {max(latencies):>7.1f} ms",
        flush=True,
    )
    return latencies


def cases(args: argparse.Namespace) -> list[Case]:
    found = [Case(consumers, 1, args.domains) for consumers in args.consumers]
    most = max(args.consumers)
    if args.processes > 1:
        found.append(Case(most - most % args.processes, args.processes, args.domains))
    return found


def rotated(systems: tuple[str, ...], shift: int) -> list[str]:
    shift %= len(systems)
    return list(systems[shift:] + systems[:shift])


@dataclass
class Results:
    runs: list[Run] = field(default_factory=list)
    idle: dict[str, list[float]] = field(default_factory=dict)


def benchmark(args: argparse.Namespace, databases: Databases) -> Results:
    results = Results()
    plan = cases(args)
    one_domain = Case(max(args.consumers), 1, 1) if args.domains > 1 else None
    if args.warm_up:
        for system in args.systems:
            run_once(databases, system, plan[-1], min(args.jobs, 500), "warm-up")
    for number in range(1, args.rounds + 1):
        label = f"round-{number}"
        for case in plan:
            for system in rotated(args.systems, number - 1):
                results.runs.append(run_once(databases, system, case, args.jobs, label))
        for system in args.systems:
            if one_domain and system in SCRAPEJOBS:
                results.runs.append(run_once(databases, system, one_domain, args.jobs, label))
        if args.idle_samples:
            for system in rotated(args.systems, number - 1):
                latencies = idle_once(databases, system, args, seed=number)
                results.idle.setdefault(system, []).extend(latencies)
    return results


# -- the report -------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]  # nearest rank


def _rates(runs: list[Run], system: str, case: Case, what: str) -> list[float]:
    return [getattr(r, what) for r in runs if r.system == system and r.case == case]


def _median(runs: list[Run], system: str, case: Case, what: str) -> float | None:
    rates = _rates(runs, system, case, what)
    return statistics.median(rates) if rates else None


def _spread(rates: list[float]) -> str:
    if len(rates) == 1:
        return f"{rates[0]:,.0f}"
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"


def _throughput_table(runs: list[Run]) -> list[str]:
    lines = [
        "| system | consumers | enqueue jobs/s | drain jobs/s |",
        "|---|---|---:|---:|",
    ]
    seen_cases = list(dict.fromkeys(run.case for run in runs))
    for case in seen_cases:
        for system in SYSTEMS:
            enqueue = _rates(runs, system, case, "enqueue_rate")
            if enqueue:
                drain = _rates(runs, system, case, "drain_rate")
                lines.append(f"| {system} | {case.label} | {_spread(enqueue)} | {_spread(drain)} |")
    return lines


def _ratio(runs: list[Run], system: str, case: Case, peer: str, peer_case: Case, what: str) -> str:
    ours, theirs = _median(runs, system, case, what), _median(runs, peer, peer_case, what)
    return "" if ours is None or theirs is None else f"{ours / theirs:.2f}x"


def _ratio_table(runs: list[Run]) -> list[str]:
    lines = [
        "| scrapejobs | consumers | drain x procrastinate | drain x pgqueuer "
        "| enqueue x procrastinate | enqueue x pgqueuer |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for case in dict.fromkeys(run.case for run in runs):
        for system in SCRAPEJOBS:
            if _median(runs, system, case, "drain_rate") is None:
                continue
            # The peers have no domains: a one-domain row compares with their run of its size.
            peer_case = next(
                (
                    r.case
                    for r in runs
                    if r.system in PEERS
                    and (r.case.consumers, r.case.processes) == (case.consumers, case.processes)
                ),
                case,
            )
            cells = [
                _ratio(runs, system, case, peer, peer_case, what)
                for what in ("drain_rate", "enqueue_rate")
                for peer in PEERS
            ]
            if any(cells):
                lines.append(
                    f"| {system.split('-')[1]} | {case.label} | " + " | ".join(cells) + " |"
                )
    return lines


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def _goals(runs: list[Run], idle: dict[str, list[float]]) -> list[str]:
    single = [run.case for run in runs if run.case.processes == 1 and run.case.domains > 1]
    if not single:
        return []
    case = max(single, key=lambda c: c.consumers)
    lines = [f"Goals (issue 14), at {case.consumers} consumers in one process:", ""]
    for system in SCRAPEJOBS:
        drain = _median(runs, system, case, "drain_rate")
        if drain is None:
            continue
        lines.append(
            f"- {system} drains {drain:,.0f} jobs/s (goal {GOAL_DRAIN:,.0f}: "
            f"{_verdict(drain >= GOAL_DRAIN)})"
        )
        for peer in PEERS:
            theirs = _median(runs, peer, case, "drain_rate")
            if theirs:
                goal = GOAL_X[peer]
                lines.append(
                    f"- {system} / {peer}: {drain / theirs:.2f}x (goal {goal:g}x: "
                    f"{_verdict(drain / theirs >= goal)})"
                )
    if SCRAPEJOBS_PG in idle:
        p50 = percentile(idle[SCRAPEJOBS_PG], 50)
        lines.append(
            f"- {SCRAPEJOBS_PG} idle claim latency p50 {p50:.0f} ms (goal under "
            f"{GOAL_IDLE_P50_MS:g} ms: {_verdict(p50 < GOAL_IDLE_P50_MS)})"
        )
    return [*lines, ""]


def _idle_table(idle: dict[str, list[float]], args: argparse.Namespace) -> list[str]:
    if not idle:
        return []
    lines = [
        f"Idle claim latency, enqueue commit to claim, one job at a time about "
        f"{args.idle_pause:g} s apart ({args.idle_samples} per round):",
        "",
        "| system | samples | p50 ms | p90 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for system in SYSTEMS:
        if values := idle.get(system):
            lines.append(
                f"| {system} | {len(values)} | {percentile(values, 50):.1f} "
                f"| {percentile(values, 90):.1f} | {max(values):.1f} |"
            )
    return [*lines, ""]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


async def _postgres_version(postgres_url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(_dsn(postgres_url))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def machine_facts(postgres_url: str) -> dict[str, str]:
    packages = ("scrapejobs", "pgqueuer", "procrastinate", "asyncpg", "psycopg", "SQLAlchemy")
    return {
        "CPU": f"{_cpu_model()}, nproc {len(os.sched_getaffinity(0))}",
        "PostgreSQL": asyncio.run(_postgres_version(postgres_url)),
        "SQLite": sqlite3.sqlite_version,
        "Python": platform.python_version(),
        **{package: _version(package) for package in packages},
    }


def report(results: Results, args: argparse.Namespace) -> str:
    """The results as Markdown: setup, throughput, ratios, goals, idle latency, machine."""
    lines = [
        f"{args.jobs:,} no-op jobs a run, a fresh database each run; scrapejobs jobs over "
        f"{args.domains:,} domains unless the row says 1 domain. Median of {args.rounds} "
        "round(s) (range in brackets); consumers `P x N` are P processes of N.",
        "",
        *_throughput_table(results.runs),
        "",
        "Ratios of the medians (scrapejobs over the peer, the same consumers):",
        "",
        *_ratio_table(results.runs),
        "",
        *_goals(results.runs, results.idle),
        *_idle_table(results.idle, args),
    ]
    lines.extend(f"- {name}: {value}" for name, value in machine_facts(args.postgres_url).items())
    return "\n".join(lines)


SECTION_INTRO = """\
What is measured: `bench/queue.py` enqueues no-op jobs and drains them
(claim, then complete) with 1, 4 and 16 consumers in one process and 16 in
2 processes, on the same PostgreSQL in the same run, alternating, a fresh
database each run:

- scrapejobs on PostgreSQL and on SQLite: `JobManager.create_job`, then
  a worker's slots: one `claim_jobs` fills the free ones, each job then `complete_attempt`;
- pgqueuer: `Queries.enqueue`, then `PgQueuer.run(mode=drain)` with the
  consumers as the entrypoint's `concurrency_limit` and a process's
  consumers (up to 10) as `batch_size`;
- procrastinate: `defer_async`, then `run_worker_async(concurrency=N,
  wait=False)`.

Enqueueing runs in as many concurrent tasks as there are consumers, one job
a call. Every run is checked: each job ran exactly once, and for scrapejobs
one `created`, `started` and `completed` event per job and the running
counts (`job_counts`) equal to the rows. Idle claim latency: one waiting
consumer (scrapejobs: a real `Worker`, polling as it does; the peers with
LISTEN/NOTIFY), jobs enqueued one at a time, from the enqueue's commit to
the claim returning.

Rerun with `make bench-queue` (installs the `bench` extra), or
`make bench-queue BENCH_ARGS=--write-docs` to update this section.
"""


def update_docs(path: Path, results: str, command: str) -> None:
    """Replace (or add) this benchmark's section of ``path``; the others stay as they are."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    today = datetime.now(UTC).date().isoformat()
    section = f"{DOCS_SECTION}\n\n{SECTION_INTRO}\nRun on {today}: `{command}`\n\n{results}\n"
    start = text.find(DOCS_SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(DOCS_SECTION))
        rest = "" if end < 0 else text[end:]
        text = text[:start] + section + rest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def _systems(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(","))
    if unknown := set(chosen) - set(SYSTEMS):
        raise argparse.ArgumentTypeError(f"unknown systems {sorted(unknown)}: use {SYSTEMS}")
    return chosen


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000, help="jobs a run (5000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (3)")
    parser.add_argument("--consumers", type=_numbers, default=[1, 4, 16], help="1,4,16")
    parser.add_argument(
        "--processes", type=int, default=2, help="the most consumers split over P processes (2)"
    )
    parser.add_argument("--domains", type=int, default=1000, help="scrapejobs domains (1000)")
    parser.add_argument(
        "--only", type=_systems, dest="systems", default=SYSTEMS, help=",".join(SYSTEMS)
    )
    parser.add_argument("--idle-samples", type=int, default=10, help="idle claims a round (10)")
    parser.add_argument("--idle-pause", type=float, default=2.0, help="seconds between them (2)")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    parser.add_argument("--quick", action="store_true", help="a smoke test: small and short")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--write-docs", action="store_true", help=f"update {DOCS_FILE.name}")
    parser.add_argument("--docs-file", type=Path, default=DOCS_FILE, help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:  # smaller defaults; options given still count
        quick = {"jobs": 200, "rounds": 1, "idle_samples": 3, "idle_pause": 0.5, "warm_up": False}
        for name, value in quick.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    if args.jobs < 1 or args.rounds < 1 or min(args.consumers) < 1 or args.domains < 1:
        parser.error("--jobs, --rounds, --consumers and --domains must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="scrapejobs-queue-"))
    try:
        results = benchmark(args, Databases(args.postgres_url, workdir))
    except BenchmarkError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = report(results, args)
    print("\n" + text)
    if args.write_docs:
        command = shlex.join(["python", "bench/queue.py", *(argv or sys.argv[1:])])
        update_docs(args.docs_file, text, command)
        print(f"\nwrote {args.docs_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
