"""Two ``scrapejobs serve`` processes on one SQLite file, writing as fast as they can.

The benchmark of issue 14, item 4 ("SQLite with two processes without
multi-second waits"). Two ``serve --workers 0`` processes share a fresh
SQLite file; ``--clients`` HTTP clients per server each loop through a job's
life as an API user and a worker make it: create (autoRetry off), claim,
report the attempt failed (with the claim's lease token), retry. Every
request's latency is recorded; the table gives requests/s over both
servers, and latency p50, p99 and the worst, per writing request.

Side by side, alternating rounds, the same load:

- ``busy handler``: the servers' writers meet only in SQLite's busy handler
  (``SCRAPEJOBS_SQLITE_FILE_LOCK=0``), as before this change: a writer that
  finds the file locked sleeps 1, 2, 5... then 100 ms between tries;
- ``file lock``: the default: the processes queue on a ``flock`` beside the
  database (``storage/writers.py``) and wake when the holder lets go.

Usage::

    .venv/bin/python bench/sqlite_processes.py [--clients 8] [--seconds 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import serve

JOBS = "/api/scrape-jobs"
QUIET = ("--log-level", "warning")
SCENARIOS = {"busy handler": "0", "file lock": "1"}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def timed(tally: Tally, call: Awaitable[httpx.Response]) -> httpx.Response | None:
    start = time.perf_counter()
    try:
        response = await call
    except httpx.HTTPError as exc:
        tally.errors[type(exc).__name__] += 1
        return None
    tally.latencies.append(time.perf_counter() - start)
    if response.status_code >= 400:
        tally.errors[f"{response.status_code} {response.json().get('error')}"] += 1
    return response


async def client_loop(base: str, worker: str, until: float, tally: Tally) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for n in itertools.count():
            if time.monotonic() >= until:
                break
            # A site per job: five timeouts in a row on one site would open its circuit.
            body = {"domain": f"{worker}-{n}.example", "config": {"autoRetry": False}}
            if await timed(tally, http.post(JOBS, json=body)) is None:
                continue
            claimed = await timed(tally, http.post(f"{JOBS}/next", json={"workerId": worker}))
            job = claimed.json()["data"] if claimed is not None else None
            if not job:
                continue
            report = {"status": "failed", "error_message": "Request timeout"}
            report["leaseToken"] = job["leaseToken"]
            await timed(tally, http.patch(f"{JOBS}/{job['id']}", json=report))
            await timed(tally, http.post(f"{JOBS}/{job['id']}/retry"))


async def load(bases: list[str], clients: int, seconds: float) -> Tally:
    tally = Tally()
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(
            client_loop(base, f"w{n}-{i}", until, tally)
            for n, base in enumerate(bases)
            for i in range(clients)
        )
    )
    return tally


def run_round(scenario: str, clients: int, seconds: float) -> tuple[float, Tally]:
    os.environ["SCRAPEJOBS_SQLITE_FILE_LOCK"] = SCENARIOS[scenario]  # the servers inherit it
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        url = f"sqlite:///{Path(folder) / 'shared.db'}"
        first = stack.enter_context(serve(url, *QUIET))  # migrates the file
        second = stack.enter_context(serve(url, *QUIET))
        start = time.monotonic()
        tally = asyncio.run(load([first, second], clients, seconds))
        return time.monotonic() - start, tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="clients per server")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, Tally]]] = {name: [] for name in SCENARIOS}
    for round_number in range(args.rounds):
        for name in SCENARIOS:
            elapsed, tally = run_round(name, args.clients, args.seconds)
            results[name].append((elapsed, tally))
            print(f"round {round_number + 1} {name}: {len(tally.latencies)} requests", flush=True)
    print(f"\n{platform.node()}: 2 servers x {args.clients} clients, {args.seconds:.0f} s rounds")
    print("| writers meet in | requests/s | p50 ms | p99 ms | worst ms | errors |")
    print("|---|---|---|---|---|---|")
    for name, rounds in results.items():
        merged = Tally([x for _, t in rounds for x in t.latencies])
        for _, t in rounds:
            merged.errors.update(t.errors)
        rate = statistics.median(len(t.latencies) / elapsed for elapsed, t in rounds)
        p50, p99 = merged.percentile(0.50) * 1000, merged.percentile(0.99) * 1000
        worst = max(merged.latencies) * 1000
        errors = ", ".join(f"{n} x {what}" for what, n in merged.errors.items()) or "none"
        print(f"| {name} | {rate:.0f} | {p50:.1f} | {p99:.0f} | {worst:.0f} | {errors} |")


if __name__ == "__main__":
    main()
