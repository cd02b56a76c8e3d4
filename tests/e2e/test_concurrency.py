"""Real concurrency: requests racing through two ``scrapejobs serve`` processes on one database."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import serve

JOBS = "/api/scrape-jobs"


@pytest.fixture
def servers(database_url: str) -> Iterator[list[str]]:
    with serve(database_url) as first, serve(database_url) as second:
        yield [first, second]


async def _failed_job(client: httpx.AsyncClient, base: str) -> str:
    created = await client.post(
        f"{base}{JOBS}", json={"domain": "example.com", "config": {"autoRetry": False}}
    )
    job_id = str(created.json()["data"]["id"])
    claimed = await client.post(f"{base}{JOBS}/next", json={"workerId": "w1"})
    token = claimed.json()["data"]["leaseToken"]
    await client.patch(
        f"{base}{JOBS}/{job_id}",
        json={"status": "failed", "error_message": "Request timeout", "leaseToken": token},
    )
    return job_id


async def test_48_concurrent_retries_of_one_job_exactly_one_succeeds(servers: list[str]) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        job_id = await _failed_job(client, servers[0])
        responses = await asyncio.gather(
            *(client.post(f"{servers[n % 2]}{JOBS}/{job_id}/retry") for n in range(48))
        )
        job = (await client.get(f"{servers[0]}{JOBS}/{job_id}")).json()["data"]

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 400: 47}
    refusals = [r.json() for r in responses if r.status_code == 400]
    assert all(body["error"] == "Job cannot be retried" for body in refusals)
    assert {body["details"]["currentStatus"] for body in refusals} == {"pending"}
    assert job["status"] == "pending"
    assert job["retry_count"] == 1


async def test_8_workers_drain_30_jobs_each_claimed_exactly_once(servers: list[str]) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        created = set()
        for n in range(30):
            response = await client.post(
                f"{servers[n % 2]}{JOBS}", json={"domain": f"site{n}.example"}
            )
            created.add(response.json()["data"]["id"])

        async def worker(n: int) -> list[str]:
            claimed = []
            while True:
                response = await client.post(
                    f"{servers[n % 2]}{JOBS}/next", json={"workerId": f"w{n}"}
                )
                assert response.status_code == 200, response.text
                job = response.json()["data"]
                if job is None:
                    return claimed
                assert job["worker_id"] == f"w{n}" and job["status"] == "running"
                claimed.append(job["id"])

        per_worker = await asyncio.gather(*(worker(n) for n in range(8)))

    claimed = [job_id for ids in per_worker for job_id in ids]
    assert len(claimed) == 30
    assert set(claimed) == created
