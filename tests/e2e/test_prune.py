"""``scrapejobs prune`` against a real ``scrapejobs serve`` of its own (pruning would take
other tests' jobs): a dry run, a real run by status, bad input, and ``--retention``."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scrapejobs import Client
from tests.servers import scrapejobs, serve

TIMEOUT = 60


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with serve(f"sqlite:///{tmp_path / 'prune.db'}", log=tmp_path / "server.log") as base:
        yield base


def run(*args: str, server: str) -> subprocess.CompletedProcess[str]:
    command = scrapejobs(*args, "--server", server)
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_prune_deletes_old_ended_jobs_by_status(server: str) -> None:
    with Client(server) as client:
        cancelled = client.cancel_job(client.create_job("a.example")["id"])
        pending = client.create_job("b.example")
        time.sleep(1.1)
        dry = run("prune", "--older-than", "1s", "--dry-run", server=server)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.startswith("1 jobs (completed, failed, cancelled) unchanged since ")
        assert dry.stdout.rstrip().endswith(" would be deleted.")
        assert client.get_job(cancelled["id"])["status"] == "cancelled"

        kept = run("prune", "--older-than", "1s", "--status", "failed", server=server)
        assert kept.returncode == 0 and kept.stdout.startswith("0 jobs (failed) ")
        done = run("prune", "--older-than", "1s", "--status", "cancelled", server=server)
        assert done.returncode == 0 and done.stdout.rstrip().endswith(" deleted.")
        assert [job["id"] for job in client.list_jobs().jobs] == [pending["id"]]

    bad = run("prune", "--older-than", "a while", server=server)
    assert bad.returncode == 1
    assert "error: Invalid retention" in bad.stderr
    assert "olderThan must be a duration such as 90s, 30m, 24h, 7d or 2w" in bad.stderr


def test_serve_takes_a_retention_and_refuses_a_bad_one(tmp_path: Path) -> None:
    """The pruner itself, on a short interval, is tested in tests/integration/test_retention.py."""
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    with serve(url, "--retention", "30d") as base, Client(base) as client:
        assert client.create_job("a.example")["status"] == "pending"
    refused = subprocess.run(
        scrapejobs("serve", "--database-url", url, "--retention", "forever"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert refused.returncode == 2
    assert "retention must be a duration such as 30d or 12h: 'forever'" in refused.stderr
