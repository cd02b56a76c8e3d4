"""Slow clients and huge bodies against a real ``scrapejobs serve`` (issue 15, item 6).

The server starts with the usual soft open-file limit of 1,024 (its hard
limit left as it is), as from a login shell: ``serve`` must raise it itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import serve_process

SLOW_CLIENTS = 1100
SHELL_SOFT_LIMIT = 1024
JOBS = "/api/scrape-jobs"
DECLARED_BODY = (
    b"POST /api/scrape-jobs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n{"
)
PARTIAL_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: te"
HUNDRED_MB = 100_000_000


@pytest.fixture(scope="module", autouse=True)
def enough_open_files() -> None:
    """This process holds the slow clients' sockets: raise its own soft limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * SLOW_CLIENTS + 200
    assert hard == resource.RLIM_INFINITY or hard >= wanted, f"hard open-file limit {hard}"
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _shell_limits() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (SHELL_SOFT_LIMIT, hard))


@contextmanager
def server(tmp_path: Path, *extra: str) -> Iterator[tuple[int, int]]:
    """``scrapejobs serve`` under a 1,024 soft limit; yields its port and pid."""
    url = f"sqlite:///{tmp_path / 'bounds.db'}"
    with serve_process(url, "--log-level", "warning", *extra, preexec_fn=_shell_limits) as (
        base,
        process,
    ):
        yield int(base.rsplit(":", 1)[1]), process.pid


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def slow_client(port: int, start: bytes) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(start)
    await writer.drain()
    return writer


async def until_server_holds(pid: int, connections: int) -> None:
    """Until the server has accepted them all (not only the kernel's backlog)."""
    async with asyncio.timeout(30):
        while True:  # a count in /proc: there is no event to await
            if open_files(pid) >= connections:
                return
            await asyncio.sleep(0.05)


async def healthz(port: int) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/healthz", timeout=10)).status_code


def test_healthz_answers_while_1100_slow_clients_are_held(tmp_path: Path) -> None:
    async def scenario(port: int, pid: int) -> list[int]:
        starts = [DECLARED_BODY, PARTIAL_HEADERS] * (SLOW_CLIENTS // 2)
        writers = await asyncio.gather(*(slow_client(port, start) for start in starts))
        try:
            await until_server_holds(pid, SLOW_CLIENTS)
            return [await healthz(port) for _ in range(5)]
        finally:
            for writer in writers:
                writer.close()

    with server(tmp_path, "--client-timeout", "60") as (port, pid):
        assert asyncio.run(scenario(port, pid)) == [200] * 5


def test_slow_clients_are_dropped_after_the_client_timeout(tmp_path: Path) -> None:
    async def answer(port: int, start: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(start)
        async with asyncio.timeout(30):  # a safety net: the server closes long before
            answer = await reader.read()  # to EOF: the server closed the connection
        writer.close()
        return answer

    async def scenario(port: int) -> tuple[bytes, bytes, bytes]:
        return await asyncio.gather(
            answer(port, DECLARED_BODY), answer(port, PARTIAL_HEADERS), answer(port, b"")
        )

    with server(tmp_path, "--client-timeout", "0.5") as (port, _):
        stalled_body, slow_headers, silent = asyncio.run(scenario(port))
    head, _, body = stalled_body.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body)["error"] == "Request timeout"
    assert slow_headers == silent == b""


async def declare_huge_body(port: int) -> bytes:
    """Declare 100 MB, send none of it yet, and read the answer (as ``Expect: 100-continue``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/scrape-jobs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {HUNDRED_MB}\r\n\r\n".encode()
    )
    async with asyncio.timeout(30):
        answer = await reader.read()  # to EOF: the server closed the connection
    writer.close()
    return answer


async def push_all_of_it(port: int) -> int:
    """Try to send the whole 100 MB; how much the server let in before it cut the connection."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {JOBS} HTTP/1.1\r\nHost: test\r\nContent-Length: {HUNDRED_MB}\r\n".encode())
    writer.write(b"Content-Type: application/json\r\n\r\n")
    chunk = b" " * 1024 * 1024
    sent = 0
    try:
        async with asyncio.timeout(30):
            while sent < HUNDRED_MB:
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
    except (ConnectionError, TimeoutError):
        pass
    writer.close()
    return sent


def test_a_100_mb_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with server(tmp_path) as (port, pid):
        before = rss_bytes(pid)
        answer = asyncio.run(declare_huge_body(port))
        let_in = asyncio.run(push_all_of_it(port))
        grown = rss_bytes(pid) - before
        jobs = httpx.get(f"http://127.0.0.1:{port}{JOBS}").json()["pagination"]["total"]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert json.loads(body) == {
        "success": False,
        "error": "Request body too large",
        "details": f"Content-Length is {HUNDRED_MB} bytes; the limit is 1048576 bytes",
    }
    assert let_in < HUNDRED_MB // 4  # the connection was cut long before the end
    assert grown < 32 * 1024 * 1024  # reading and parsing it had grown the server by 375 MB
    assert jobs == 0
