"""Real ``scrapejobs serve`` processes for tests that need real concurrency."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrapejobs(*args: str) -> list[str]:
    """The real ``scrapejobs`` executable of this venv."""
    return [str(Path(sys.executable).with_name("scrapejobs")), *args]


@contextmanager
def serve(
    database_url: str, *extra: str, workers: int = 0, log: Path | None = None
) -> Iterator[str]:
    """Run ``scrapejobs serve`` on a free port until the block ends; yields its base URL.

    No embedded workers unless asked: API tests drive claims themselves.
    """
    with serve_process(database_url, *extra, workers=workers, log=log) as (base, _):
        yield base


@contextmanager
def serve_process(
    database_url: str,
    *extra: str,
    workers: int = 0,
    log: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """:func:`serve`, yielding the process too (``preexec_fn`` runs in it before exec)."""
    port = free_port()
    command = scrapejobs(
        *("serve", "--port", str(port), "--database-url", database_url),
        *("--workers", str(workers), *extra),
    )
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process)
        yield base, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scrapejobs serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"scrapejobs serve at {base} did not become healthy")
