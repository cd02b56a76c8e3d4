"""Mixed API load on one ``scrapejobs serve --workers 0``: req/s, p50 and p99, and the claim drain.

The "API under load" figures of issue 14 (before: "mixed API traffic (wrk, 50
connections) 273 req/s, p99 488 ms"; "over HTTP (8 clients, one serve
--workers 0) claim + PATCH pairs drain at 138 jobs/s, p50 56 ms"). For each
database (a temporary SQLite file; a fresh PostgreSQL database on
``--postgres-url``, ``scrapejobs db upgrade`` first, dropped afterwards):

1. **Mixed load.** A fresh ``serve --workers 0`` is seeded through the API
   with ``--seed`` jobs (default 2,000) on 20 domains, of which 15 % are
   claimed and completed and 15 % claimed and failed with a 404 (so they
   stay ``failed``; ``POST /next`` + ``PATCH`` with the ``leaseToken``).
   Then ``--clients`` concurrent clients (default 50) each loop for
   ``--seconds`` (default 20), picking at random: 50 % ``GET
   /api/scrape-jobs?limit=50`` (half of them with a ``status`` and/or
   ``domain`` filter), 20 % ``GET /api/scrape-jobs/{id}``, 10 % ``GET
   /api/scrape-jobs/stats``, 10 % ``POST /api/scrape-jobs``, 5 % a claim and
   its report (``POST /next``, then ``PATCH`` completed or failed with a 404,
   half and half), 5 % ``POST /api/scrape-jobs/{id}/retry`` of a failed job.
   Each HTTP request is timed on its own (a claim and its report are two).
2. **Claim drain.** A fresh ``serve --workers 0`` with ``--drain-jobs``
   pending jobs (default 1,000); ``--drain-clients`` clients (default 8)
   loop ``POST /next`` then ``PATCH`` completed with the lease token until
   no job is left: jobs/s and the pair's p50 / p99.

The load generator is Python (httpx.AsyncClient, one event loop, a pool
sized to the clients) on the same 2 cores as the server, so it takes CPU
from the server; the figures are a floor for what the server alone does.

Usage::

    .venv/bin/python bench/api_load.py [--clients 50] [--seconds 20] [--seed 2000]
        [--drain-jobs 1000] [--drain-clients 8] [--databases sqlite,postgresql]
        [--source-dir /tmp/before/src]

``--source-dir`` runs another checkout's ``src`` (``PYTHONPATH``, same venv).

Prints Markdown tables for ``docs/benchmarks.md`` ("API under load").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from end_to_end import DEFAULT_POSTGRES, cpu_model, database, serving, upgrade

DOMAINS = [f"site{i}.example" for i in range(20)]
STATUSES = ["pending", "running", "completed", "failed"]
MIX = [  # (kind, share)
    ("list", 0.25),
    ("list filtered", 0.25),
    ("get", 0.20),
    ("stats", 0.10),
    ("create", 0.10),
    ("claim+report", 0.05),
    ("retry", 0.05),
]
KINDS = ["list", "list filtered", "get", "stats", "create", "claim", "report", "retry"]
FAIL_404 = {"status": "failed", "httpStatus": 404, "error_message": "Not found"}
BEFORE_MIXED = "| (issue 14's before, wrk, not rerun) | 50 | | 273 | | 488 | |"
BEFORE_DRAIN = "| (issue 14's before, not rerun) | 8 | | 138 | 56 | |"


@dataclass
class Load:
    database: str
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class Drain:
    database: str
    jobs: int = 0
    seconds: float = 0.0
    pairs: list[float] = field(default_factory=list)
    errors: int = 0


class Pools:
    """What the clients know: job ids, and the failed jobs that a retry may take."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.failed: list[str] = []


def job_body(rng: random.Random) -> dict[str, Any]:
    domain = rng.choice(DOMAINS)
    return {
        "domain": domain,
        "job_type": "page_scrape",
        "priority": rng.randint(1, 10),
        "config": {"startUrl": f"https://{domain}/p/{rng.randint(1, 10**6)}"},
    }


def client(base: str, size: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=60)


async def claim(http: httpx.AsyncClient) -> dict[str, Any] | None:
    response = await http.post("/api/scrape-jobs/next", json={"workerId": "bench"})
    response.raise_for_status()
    data: dict[str, Any] | None = response.json()["data"]
    return data


async def report(http: httpx.AsyncClient, job: dict[str, Any], failed: bool) -> httpx.Response:
    body = {**(FAIL_404 if failed else {"status": "completed"}), "workerId": "bench"}
    if job.get("leaseToken"):  # commits before issue 15 had no lease tokens
        body["leaseToken"] = job["leaseToken"]
    return await http.patch(f"/api/scrape-jobs/{job['id']}", json=body)


async def seed(base: str, count: int, pools: Pools) -> None:
    rng = random.Random(14)
    bodies = iter([job_body(rng) for _ in range(count)])
    async with client(base, 16) as http:

        async def create() -> None:
            for body in bodies:
                response = await http.post("/api/scrape-jobs", json=body)
                response.raise_for_status()
                pools.ids.append(response.json()["data"]["id"])

        await asyncio.gather(*(create() for _ in range(16)))
        ends = iter(["completed", "failed"] * int(count * 0.15))

        async def settle() -> None:
            for end in ends:
                job = await claim(http)
                if job is None:
                    return
                (await report(http, job, end == "failed")).raise_for_status()
                if end == "failed":
                    pools.failed.append(job["id"])

        await asyncio.gather(*(settle() for _ in range(8)))


def list_params(rng: random.Random, filtered: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": 50}
    if filtered:
        choice = rng.random()
        if choice < 0.4 or choice >= 0.7:
            params["status"] = rng.choice(STATUSES)
        if choice >= 0.4:
            params["domain"] = rng.choice(DOMAINS)
    return params


class Timed:
    """Requests timed one by one into a :class:`Load`."""

    def __init__(self, http: httpx.AsyncClient, load: Load) -> None:
        self.http, self.load = http, load

    async def __call__(self, name: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        start = time.perf_counter()
        response = await self.http.request(method, url, **kwargs)
        self.load.latencies[name].append((time.perf_counter() - start) * 1000)
        self.load.statuses[response.status_code] += 1
        if response.status_code >= 400:
            self.load.errors[name] += 1
        return response


async def claim_and_report(timed: Timed, rng: random.Random, pools: Pools) -> None:
    response = await timed("claim", "POST", "/api/scrape-jobs/next", json={"workerId": "bench"})
    job = response.json().get("data") if response.status_code == 200 else None
    if not job:
        return
    failed = rng.random() < 0.5
    body = {**(FAIL_404 if failed else {"status": "completed"}), "workerId": "bench"}
    if job.get("leaseToken"):
        body["leaseToken"] = job["leaseToken"]
    answer = await timed("report", "PATCH", f"/api/scrape-jobs/{job['id']}", json=body)
    if failed and answer.status_code == 200:
        pools.failed.append(job["id"])


async def one_operation(timed: Timed, kind: str, rng: random.Random, pools: Pools) -> None:
    if kind in ("list", "list filtered"):
        await timed(kind, "GET", "/api/scrape-jobs", params=list_params(rng, kind != "list"))
    elif kind == "get":
        await timed(kind, "GET", f"/api/scrape-jobs/{rng.choice(pools.ids)}")
    elif kind == "stats":
        await timed(kind, "GET", "/api/scrape-jobs/stats")
    elif kind == "create":
        response = await timed(kind, "POST", "/api/scrape-jobs", json=job_body(rng))
        if response.status_code == 201:
            pools.ids.append(response.json()["data"]["id"])
    elif kind == "claim+report":
        await claim_and_report(timed, rng, pools)
    elif pools.failed:  # retry
        job_id = pools.failed.pop(rng.randrange(len(pools.failed)))
        await timed("retry", "POST", f"/api/scrape-jobs/{job_id}/retry")


async def mixed_load(base: str, pools: Pools, load: Load, clients: int, seconds: float) -> None:
    kinds, weights = zip(*MIX, strict=True)
    async with client(base, clients) as http:
        timed = Timed(http, load)
        start = time.monotonic()
        stop = start + seconds

        async def worker(number: int) -> None:
            rng = random.Random(number)
            while time.monotonic() < stop:
                kind = rng.choices(kinds, weights)[0]
                await one_operation(timed, kind, rng, pools)

        await asyncio.gather(*(worker(n) for n in range(clients)))
        load.seconds = time.monotonic() - start


async def drain(base: str, result: Drain, jobs: int, clients: int) -> None:
    rng = random.Random(7)
    async with client(base, 16) as http:
        bodies = iter([job_body(rng) for _ in range(jobs)])

        async def create() -> None:
            for body in bodies:
                (await http.post("/api/scrape-jobs", json=body)).raise_for_status()

        await asyncio.gather(*(create() for _ in range(16)))
    async with client(base, clients) as http:
        start = time.monotonic()

        async def consumer() -> None:
            while True:
                began = time.perf_counter()
                job = await claim(http)
                if job is None:
                    return
                response = await report(http, job, failed=False)
                result.pairs.append((time.perf_counter() - began) * 1000)
                if response.status_code == 200:
                    result.jobs += 1
                else:
                    result.errors += 1

        await asyncio.gather(*(consumer() for _ in range(clients)))
        result.seconds = time.monotonic() - start


def run_database(kind: str, args: argparse.Namespace, workdir: Path) -> tuple[Load, Drain]:
    load, drained = Load(kind), Drain(kind)
    extra = ("--workers", "0", "--log-level", "warning")
    for phase in ("load", "drain"):
        name = f"bench_api_{kind}_{phase}_{os.getpid()}"
        with database(kind, workdir, args.postgres_url, name) as url:
            if kind == "postgresql":
                upgrade(url, args.source_dir)
            with serving(url, extra, workdir / f"{name}.log", args.source_dir) as base:
                if phase == "load":
                    pools = Pools()
                    asyncio.run(seed(base, args.seed, pools))
                    print(f"  seeded {len(pools.ids)} jobs", file=sys.stderr, flush=True)
                    asyncio.run(mixed_load(base, pools, load, args.clients, args.seconds))
                else:
                    asyncio.run(drain(base, drained, args.drain_jobs, args.drain_clients))
    return load, drained


def pct(values: list[float], share: float) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.0f}"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[int(share * 100) - 1]:.0f}"


def tables(loads: list[Load], drains: list[Drain], args: argparse.Namespace) -> str:
    lines = [
        f"Mixed load: {args.clients} clients for {args.seconds:.0f} s on {args.seed} seeded jobs; "
        "latencies in ms per HTTP request (a claim and its report are two).",
        "",
        "| database | clients | requests | req/s | p50 ms | p99 ms | errors (4xx/5xx) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for load in loads:
        every = [value for values in load.latencies.values() for value in values]
        lines.append(
            f"| {load.database} | {args.clients} | {len(every)} "
            f"| {len(every) / load.seconds:.0f} | {pct(every, 0.5)} | {pct(every, 0.99)} "
            f"| {sum(load.errors.values())} |"
        )
    lines += [BEFORE_MIXED, "", "Per kind (p50 / p99 ms, requests):", ""]
    lines.append("| kind | " + " | ".join(load.database for load in loads) + " |")
    lines.append("|---|" + "---:|" * len(loads))
    for kind in KINDS:
        cells = []
        for load in loads:
            values = load.latencies.get(kind, [])
            errors = f", {load.errors[kind]} errors" if load.errors.get(kind) else ""
            cells.append(f"{pct(values, 0.5)} / {pct(values, 0.99)} ({len(values)}{errors})")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Claim drain: {args.drain_jobs} jobs, {args.drain_clients} clients looping "
        "`POST /next` + `PATCH` completed.",
        "",
        "| database | clients | jobs | jobs/s | pair p50 ms | pair p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for d in drains:
        errors = f" ({d.errors} refused)" if d.errors else ""
        lines.append(
            f"| {d.database} | {args.drain_clients} | {d.jobs}{errors} "
            f"| {d.jobs / d.seconds:.0f} | {pct(d.pairs, 0.5)} | {pct(d.pairs, 0.99)} |"
        )
    lines += [BEFORE_DRAIN, "", f"- CPU: {cpu_model()}, nproc {os.cpu_count()}"]
    lines.append(f"- Python: {platform.python_version()}, httpx {httpx.__version__}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--seed", type=int, default=2000, help="jobs seeded before the load")
    parser.add_argument("--drain-jobs", type=int, default=1000)
    parser.add_argument("--drain-clients", type=int, default=8)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--source-dir", type=Path, help="run this checkout's src instead")
    args = parser.parse_args()
    loads, drains = [], []
    with tempfile.TemporaryDirectory() as directory:
        for kind in args.databases.split(","):
            print(f"running {kind}...", file=sys.stderr, flush=True)
            load, drained = run_database(kind, args, Path(directory))
            loads.append(load)
            drains.append(drained)
    print(tables(loads, drains, args))


if __name__ == "__main__":
    main()
