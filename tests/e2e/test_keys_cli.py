"""``scrapejobs keys`` and keys in use: the real executable, a real ``serve``, the client.

The token is printed once; ``serve`` refuses a non-loopback address while no
key exists; the operator commands and :class:`scrapejobs.Client` carry a key
from ``--api-key`` or ``SCRAPEJOBS_API_KEY``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scrapejobs import Client
from scrapejobs.audit import AuditEntry, AuditFilter
from scrapejobs.cli_keys import check_exposure
from scrapejobs.client import ClientError
from scrapejobs.manager import JobManager
from scrapejobs.storage import SqlStore
from tests.servers import scrapejobs, serve

TIMEOUT = 60


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        scrapejobs(*args),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
    )


def test_keys_are_made_listed_and_revoked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    empty = run("keys", "list", "--database-url", url)
    assert empty.returncode == 0 and "No keys" in empty.stdout
    made = run("keys", "create", "ci", "--role", "worker", "--database-url", url)
    assert made.returncode == 0, made.stderr
    token = made.stdout.splitlines()[1]
    assert token.startswith("sjk_") and "shown only now" in made.stdout
    listed = json.loads(run("keys", "list", "--json", "--database-url", url).stdout)
    assert [(k["name"], k["role"], k["createdBy"]) for k in listed] == [("ci", "worker", "cli")]
    assert token not in json.dumps(listed) and listed[0]["prefix"] == token[:12]
    again = run("keys", "create", "ci", "--database-url", url)
    assert again.returncode == 1 and "names are not reused" in again.stderr
    reserved = run("keys", "create", "system", "--database-url", url)
    assert reserved.returncode == 1 and "scrapejobs itself" in reserved.stderr
    bad_role = run("keys", "create", "x", "--role", "root", "--database-url", url)
    assert bad_role.returncode == 2
    revoked = run("keys", "revoke", "ci", "--database-url", url)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    missing = run("keys", "revoke", "nobody", "--database-url", url)
    assert missing.returncode == 1 and "API key not found" in missing.stderr
    log = asyncio.run(audit_log(url))
    assert [(e.action.value, e.actor, e.via, e.target) for e in reversed(log)] == [
        ("key.create", "cli", "cli", "ci"),
        ("key.revoke", "cli", "cli", "ci"),
    ]


async def audit_log(url: str) -> list[AuditEntry]:
    store = SqlStore.from_url(url)
    try:
        entries, _ = await JobManager(store).audit.listing(AuditFilter())
        return entries
    finally:
        await store.close()


def test_serve_refuses_an_open_public_address(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'open.db'}"
    refused = run("serve", "--host", "0.0.0.0", "--port", "1", "--database-url", url)
    assert refused.returncode == 2
    assert "refusing to serve on 0.0.0.0 with no API key" in refused.stderr
    assert "--insecure-no-keys" in refused.stderr
    # Loopback needs no key; the opt-out and an existing key each let it through.
    check_exposure("127.0.0.1", url, insecure_no_keys=False)
    check_exposure("::1", url, insecure_no_keys=False)
    check_exposure("0.0.0.0", url, insecure_no_keys=True)
    assert run("keys", "create", "admin", "--role", "admin", "--database-url", url).returncode == 0
    check_exposure("0.0.0.0", url, insecure_no_keys=False)


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("keyed")
    url = f"sqlite:///{folder / 'keyed.db'}"
    made = run("keys", "create", "ops", "--role", "operator", "--json", "--database-url", url)
    token = json.loads(made.stdout)["token"]
    with serve(url, log=folder / "serve.log") as base:
        yield base, token


def test_the_cli_and_client_carry_a_key(keyed_server: tuple[str, str]) -> None:
    base, token = keyed_server
    without = run("jobs", "--server", base, env={"SCRAPEJOBS_API_KEY": ""})
    assert without.returncode == 1 and "API key required" in without.stderr
    by_option = run("submit", "example.com", "--server", base, "--api-key", token, "--json")
    assert by_option.returncode == 0, by_option.stderr
    job_id = json.loads(by_option.stdout)["id"]
    by_env = run("show", job_id, "--server", base, "--json", env={"SCRAPEJOBS_API_KEY": token})
    assert by_env.returncode == 0 and json.loads(by_env.stdout)["id"] == job_id

    with Client(base, api_key=token) as client:
        assert client.get_job(job_id)["id"] == job_id
    with Client(base, api_key="sjk_wrong") as client, pytest.raises(ClientError) as refused:
        client.get_job(job_id)
    assert refused.value.message == "Invalid API key"
