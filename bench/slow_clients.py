"""Slow clients and a 100 MB body against ``scrapejobs serve``, unprotected and protected.

The benchmark of issue 15, item 6. Each scenario starts a fresh
``scrapejobs serve --workers 0`` on a fresh SQLite file, under the soft
open-file limit of a login shell (1,024), and measures:

1. ``GET /healthz`` latency, ``--samples`` requests one after another, with
   nothing else going on (the floor);
2. the same while ``--clients`` slow connections are held open: half send
   the headers of a ``POST`` declaring a 1,000-byte body and then one byte of
   it, half send half a request line and headers, and none ever sends more.
   A health check that gets no answer within 2 s counts as failed;
3. the server's RSS before a 100 MB JSON body (a valid job padded with
   a list of short strings, posted by ``curl --data-binary`` without
   ``Expect: 100-continue``), its peak (``VmHWM``) and its RSS after, with
   the status and how much of the body curl uploaded.

Scenarios, side by side in the same run:

- ``unprotected``: what the server did before issue 15: the hard limit held
  at 1,024 too (so ``serve`` cannot raise the soft one), a body limit of
  2 GB and a client timeout of an hour (so neither applies);
- ``protected``: the defaults (1 MiB, 10 s, soft limit raised to the hard).

Usage::

    .venv/bin/python bench/slow_clients.py [--clients 1100] [--samples 200]
        [--only unprotected|protected]

Prints a Markdown table for ``docs/benchmarks.md`` ("Bounded requests").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import serve_process

SHELL_SOFT_LIMIT = 1024
HUNDRED_MB = 100_000_000
DECLARED_BODY = (
    b"POST /api/scrape-jobs HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n{"
)
PARTIAL_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: be"
SCENARIOS: dict[str, tuple[tuple[str, ...], int | None]] = {
    # name: (serve options, hard open-file limit to impose; None keeps the inherited one)
    "unprotected": (("--max-body-bytes", "2000000000", "--client-timeout", "3600"), 1024),
    "protected": ((), None),
}


@dataclass
class Result:
    scenario: str
    open_files_limit: int = 0
    idle: list[float] = field(default_factory=list)
    held: list[float] = field(default_factory=list)
    held_failed: int = 0
    accepted: int = 0
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    body_answer: str = ""
    body_sent: int = 0
    body_seconds: float = 0.0


def _limits(hard: int | None) -> Callable[[], None]:
    def apply() -> None:
        _, inherited = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (SHELL_SOFT_LIMIT, hard or inherited))

    return apply


@contextmanager
def server(
    options: tuple[str, ...], hard: int | None, directory: Path
) -> Iterator[tuple[int, int]]:
    url = f"sqlite:///{directory}/bench.db"
    quiet = ("--log-level", "warning")
    with serve_process(url, *quiet, *options, preexec_fn=_limits(hard)) as (base, process):
        yield int(base.rsplit(":", 1)[1]), process.pid


def proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def soft_open_files(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise KeyError("Max open files")


async def health_check(port: int) -> float | None:
    """One ``GET /healthz`` on a new connection, as a load balancer's probe makes: ms, or None.

    Raw sockets: a new connection per probe, nothing pooled or retried.
    """
    start = time.perf_counter()
    try:
        async with asyncio.timeout(2):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            writer.close()
    except (OSError, TimeoutError):
        return None
    if not answer.startswith(b"HTTP/1.1 200 "):
        return None
    return (time.perf_counter() - start) * 1000


async def health_samples(port: int, samples: int) -> tuple[list[float], int]:
    """Latencies in ms of the checks that answered 200, and how many did not."""
    latencies = [await health_check(port) for _ in range(samples)]
    answered = [latency for latency in latencies if latency is not None]
    return answered, samples - len(answered)


async def open_slow(port: int, start: bytes) -> asyncio.StreamWriter | None:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    writer.write(start)
    return writer


async def held_health(
    port: int, pid: int, clients: int, samples: int
) -> tuple[list[float], int, int]:
    starts = [DECLARED_BODY, PARTIAL_HEADERS] * (clients // 2)
    writers = await asyncio.gather(*(open_slow(port, start) for start in starts))
    deadline = time.monotonic() + 5  # let the server accept what it can
    while (accepted := len(os.listdir(f"/proc/{pid}/fd"))) < clients:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    try:
        latencies, failed = await health_samples(port, samples)
    finally:
        for writer in writers:
            if writer is not None:
                writer.close()
    return latencies, failed, accepted


def write_huge_json(path: Path) -> Path:
    """A valid job padded with a list of short strings to 100 MB: parsing it makes objects."""
    head, item, tail = b'{"domain": "example.com", "padding": [', b'"0123456789",', b'"end"]}'
    count = (HUNDRED_MB - len(head) - len(tail)) // len(item)
    body = head + item * count + tail
    path.write_bytes(body + b" " * (HUNDRED_MB - len(body)))
    return path


def post_huge(port: int, body: Path) -> tuple[str, int, float]:
    """curl posts the body (no ``Expect: 100-continue``): status, bytes uploaded, seconds."""
    start = time.perf_counter()
    curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_upload}"]
    headers = ["-H", "Expect:", "-H", "Content-Type: application/json"]
    out = subprocess.run(
        [*curl, *headers, "--data-binary", f"@{body}", f"http://127.0.0.1:{port}/api/scrape-jobs"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    seconds = time.perf_counter() - start
    status, uploaded = [*out, "-", "0"][:2]
    return status, int(float(uploaded)), seconds


def run_scenario(name: str, clients: int, samples: int, body: Path) -> Result:
    options, hard = SCENARIOS[name]
    result = Result(name)
    with (
        tempfile.TemporaryDirectory() as directory,
        server(options, hard, Path(directory)) as (
            port,
            pid,
        ),
    ):
        result.open_files_limit = soft_open_files(pid)
        result.idle, _ = asyncio.run(health_samples(port, samples))
        result.held, result.held_failed, result.accepted = asyncio.run(
            held_health(port, pid, clients, samples)
        )
        time.sleep(1)  # let the closed slow connections go before the body
        result.rss_before = proc_status(pid, "VmRSS")
        result.body_answer, result.body_sent, result.body_seconds = post_huge(port, body)
        time.sleep(1)
        result.rss_peak = proc_status(pid, "VmHWM")
        result.rss_after = proc_status(pid, "VmRSS")
    return result


def percentile(values: list[float], share: float) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[int(share * 100) - 1]:.1f}"


def mb(value: int) -> str:
    return f"{value / 1e6:.0f}"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.machine()


def table(results: list[Result], clients: int, samples: int) -> str:
    lines = [
        f"{samples} checks each; {clients} slow connections; 100 MB body posted by curl.",
        "",
        "| scenario | soft fd limit | idle p50 / p99 ms | held: accepted fds | held p50 / p99 ms "
        "| held failed | RSS before / peak / after MB | 100 MB body: status | uploaded MB | s |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.scenario} | {r.open_files_limit} "
            f"| {percentile(r.idle, 0.5)} / {percentile(r.idle, 0.99)} | {r.accepted} "
            f"| {percentile(r.held, 0.5)} / {percentile(r.held, 0.99)} "
            f"| {r.held_failed}/{samples} "
            f"| {mb(r.rss_before)} / {mb(r.rss_peak)} / {mb(r.rss_after)} "
            f"| {r.body_answer} | {r.body_sent / 1e6:.1f} | {r.body_seconds:.2f} |"
        )
    lines += ["", f"- CPU: {cpu_model()}, nproc {os.cpu_count()}"]
    lines.append(f"- Python: {platform.python_version()}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1100)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--only", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * args.clients + 200
    if soft != resource.RLIM_INFINITY and soft < wanted:  # this process holds the clients
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    names = [args.only] if args.only else list(SCENARIOS)
    results = []
    with tempfile.TemporaryDirectory() as directory:
        body = write_huge_json(Path(directory) / "huge.json")
        for name in names:
            print(f"running {name}...", file=sys.stderr, flush=True)
            results.append(run_scenario(name, args.clients, args.samples, body))
    print(table(results, args.clients, args.samples))


if __name__ == "__main__":
    main()
