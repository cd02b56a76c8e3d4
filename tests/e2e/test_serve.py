"""``scrapejobs serve`` and ``scrapejobs db upgrade`` as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from scrapejobs.storage import migrate
from tests.conftest import POSTGRES_URL, _create_database, _drop_database
from tests.servers import free_port, scrapejobs, serve, wait_healthy

JOBS = "/api/scrape-jobs"


def curl_retry(base: str, job_id: str) -> tuple[int, dict[str, object]]:
    """The seed's own example: ``curl -X POST ".../api/scrape-jobs/<id>/retry"``."""
    out = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code}", "-X", "POST", f"{base}{JOBS}/{job_id}/retry"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), json.loads(body)


def run_and_fail(base: str, job_id: str) -> None:
    """A worker claims the job and reports a refused connection."""
    claimed = httpx.post(f"{base}{JOBS}/next", json={"workerId": "w1"}).json()["data"]
    report = {"status": "failed", "error_message": "Connection refused", "workerId": "w1"}
    httpx.patch(f"{base}{JOBS}/{job_id}", json=report | {"leaseToken": claimed["leaseToken"]})


def test_seed_curl_example_against_a_real_server(tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 'seed.db'}") as base:
        created = httpx.post(
            f"{base}{JOBS}",
            json={"domain": "example.com", "max_retries": 1, "config": {"autoRetry": False}},
        ).json()["data"]
        job_id = created["id"]
        assert curl_retry(base, job_id)[1]["details"] == {  # type: ignore[index]
            "currentStatus": "pending",
            "reason": "Job is already queued",
        }
        run_and_fail(base, job_id)
        status, body = curl_retry(base, job_id)
        assert status == 200
        assert body["message"] == "Job scheduled for retry (attempt 1/1)"
        run_and_fail(base, job_id)
        status, body = curl_retry(base, job_id)
        assert status == 400
        assert body["error"] == "Job has exceeded maximum retry attempts"
        assert curl_retry(base, str(uuid.uuid4())) == (
            404,
            {"success": False, "error": "Job not found"},
        )


def test_lease_reaper_recovers_a_job_whose_worker_vanished(tmp_path: Path) -> None:
    with serve(f"sqlite:///{tmp_path / 'lease.db'}", "--lease-seconds", "1") as base:
        job_id = httpx.post(f"{base}{JOBS}", json={"domain": "example.com"}).json()["data"]["id"]
        claimed = httpx.post(f"{base}{JOBS}/next", json={"workerId": "ghost"}).json()["data"]
        assert claimed["id"] == job_id
        deadline = time.monotonic() + 20
        while (job := httpx.get(f"{base}{JOBS}/{job_id}").json()["data"])["status"] == "running":
            assert time.monotonic() < deadline, "lease was never reaped"
            time.sleep(0.1)
        assert job["status"] == "pending"
        assert job["retry_count"] == 1
        assert job["metadata"]["errorType"] == "worker_lost"
        assert job["attempts"][0]["outcome"] == "failed"
        report = {"status": "completed", "workerId": "ghost", "leaseToken": claimed["leaseToken"]}
        late = httpx.patch(f"{base}{JOBS}/{job_id}", json=report)
        assert late.status_code == 409


def test_database_url_from_the_environment(tmp_path: Path) -> None:
    database = tmp_path / "from-env.db"
    port = free_port()
    env = {**os.environ, "SCRAPEJOBS_DATABASE_URL": f"sqlite:///{database}"}
    env["SCRAPEJOBS_PORT"] = str(port)
    process = subprocess.Popen(
        scrapejobs("serve"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert database.exists()


def test_postgres_needs_db_upgrade_then_serves() -> None:
    name = f"scrapejobs_cli_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(POSTGRES_URL, name))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        refused = subprocess.run(
            scrapejobs("serve", "--port", str(free_port()), "--database-url", url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode != 0
        assert "scrapejobs db upgrade" in refused.stdout + refused.stderr
        upgraded = subprocess.run(
            scrapejobs("db", "upgrade", "--database-url", url),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert f"database schema at revision {migrate.head_revision()}" in upgraded.stdout
        with serve(url) as base:
            assert httpx.get(f"{base}/healthz").json()["data"]["database"] == "ok"
    finally:
        asyncio.run(_drop_database(POSTGRES_URL, name))


def test_bad_options_fail_fast_with_a_usage_error() -> None:
    for args in (
        ["serve", "--retry-delays", "soon"],
        ["serve", "--database-url", "mysql://x/y"],
        ["serve", "--lease-seconds", "0"],
    ):
        result = subprocess.run(scrapejobs(*args), capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


def test_db_upgrade_on_an_unreachable_database_says_so_in_one_line() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    result = subprocess.run(
        scrapejobs("db", "upgrade", "--database-url", url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: Database unavailable")


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [str(Path(scrapejobs()[0]).with_name("python")), "-m", "scrapejobs", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "serve" in result.stdout and "db" in result.stdout


def test_make_run_takes_the_environment_and_args(tmp_path: Path) -> None:
    """``SCRAPEJOBS_PORT=N make run ARGS=...``: both reach ``scrapejobs serve``."""
    port = free_port()
    database = f"sqlite:///{tmp_path / 'run.db'}"
    env = {**os.environ, "SCRAPEJOBS_PORT": str(port)}
    process = subprocess.Popen(
        ["make", "-s", "run", f"ARGS=--database-url {database} --workers 0"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        assert (tmp_path / "run.db").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
