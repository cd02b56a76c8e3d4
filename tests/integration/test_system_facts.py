"""The system's failure and retry facts are its own (CONTRACT section 10), over HTTP.

Each test is a scenario a user hit when those facts lived in ``metadata``:
a user's keys read back as the system's, an edit that changed how a job was
retried, a recovered job still listed under its old failure, and a bulk
retry that took the newest jobs first.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scrapejobs.jobs import DEFAULT_USER_AGENT, SYSTEM_METADATA_KEYS
from tests.integration.test_api import JOBS, claim, create, failed, report


async def listed(api: httpx.AsyncClient, **query: str) -> list[str]:
    body = (await api.get(JOBS, params=query)).json()
    assert body["pagination"]["total"] == len(body["data"])
    return [job["id"] for job in body["data"]]


@pytest.mark.parametrize("key", SYSTEM_METADATA_KEYS)
async def test_a_create_that_sets_a_system_key_is_a_400_naming_it(
    api: httpx.AsyncClient, key: str
) -> None:
    response = await api.post(JOBS, json={"domain": "example.com", "metadata": {key: "x"}})
    body = response.json()
    assert response.status_code == 400 and body["error"] == "Invalid request"
    [detail] = body["details"]
    assert detail["field"] == "body.metadata"
    assert detail["message"].startswith(f"{key} is written by scrapejobs itself")
    assert (await api.get(JOBS)).json()["pagination"]["total"] == 0


async def test_a_job_that_never_ran_has_no_failure_pattern(api: httpx.AsyncClient) -> None:
    refused = await api.post(
        JOBS, json={"domain": "example.com", "metadata": {"failurePattern": "rate_limiting"}}
    )
    assert refused.status_code == 400
    job = await create(api, metadata={"pattern": "rate_limiting"})
    assert await listed(api, failure_pattern="rate_limiting") == []
    assert job["metadata"] == {"source": "api", "pattern": "rate_limiting"}


async def test_an_edit_cannot_change_how_a_failed_job_is_retried(api: httpx.AsyncClient) -> None:
    job_id = await failed(api, "Request timeout")
    before = (await api.get(f"{JOBS}/{job_id}")).json()["data"]
    edit = await api.patch(f"{JOBS}/{job_id}", json={"metadata": {"errorType": "forbidden"}})
    assert edit.status_code == 400
    assert "errorType is written by scrapejobs" in edit.json()["details"][0]["message"]
    assert (await api.get(f"{JOBS}/{job_id}")).json()["data"] == before

    retried = (await api.post(f"{JOBS}/{job_id}/retry")).json()["data"]
    assert retried["metadata"]["retryReason"] == "Manual retry after timeout error"
    assert retried["config"]["timeout"] == 45000
    assert retried["config"]["userAgent"] == DEFAULT_USER_AGENT


async def test_a_recovered_job_no_longer_carries_its_failure(api: httpx.AsyncClient) -> None:
    job = await create(api, config={"autoRetry": False})
    await claim(api)
    await report(api, job["id"], status="failed", error_message="HTTP 503", httpStatus=503)
    retried = (await api.post(f"{JOBS}/{job['id']}/retry")).json()["data"]
    # Until its next attempt ends, a retried job shows the failure its retry answers.
    assert retried["error_message"] is None
    assert retried["metadata"]["lastError"] == "HTTP 503"
    assert retried["metadata"]["failurePattern"] == "server_error"
    assert await listed(api, failure_pattern="server_error") == [job["id"]]

    await claim(api)
    done = (await report(api, job["id"], status="completed")).json()["data"]
    assert done["status"] == "completed" and done["error_message"] is None
    for key in ("failurePattern", "errorType", "httpStatus", "noRetryReason"):
        assert key not in done["metadata"], key
    # The last retry is history that stays true; the attempts keep the failure.
    assert done["metadata"]["lastError"] == "HTTP 503"
    assert done["metadata"]["retriedBy"] == "api"
    assert await listed(api, failure_pattern="server_error") == []
    attempts = (await api.get(f"{JOBS}/{job['id']}")).json()["data"]["attempts"]
    assert [(a["outcome"], a["errorType"]) for a in attempts] == [
        ("failed", "service_unavailable"),
        ("completed", None),
    ]
    page = (await api.get(f"/jobs/{job['id']}")).text
    assert "service_unavailable" in page  # in the attempts table, not in the summary:
    assert "<dt>Error type</dt>" not in page and "<dt>Failure pattern</dt>" not in page
    assert "<dt>Previous error</dt>" in page


async def test_bulk_retry_takes_the_oldest_failed_jobs_first(api: httpx.AsyncClient) -> None:
    ids = [await failed(api, domain="bulk.example") for _ in range(3)]
    response = await api.post(f"{JOBS}/retry", json={"domain": "bulk.example", "limit": 2})
    results: list[dict[str, Any]] = response.json()["data"]
    assert [result["jobId"] for result in results] == ids[:2]
    assert await listed(api, status="failed") == [ids[2]]
