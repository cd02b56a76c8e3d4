"""The jobs API over HTTP on real databases: the seed's retry endpoint to the letter."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from scrapejobs.errors import LeaseLost
from tests.conftest import Clock

JOBS = "/api/scrape-jobs"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SEED_JOB_KEYS = {
    "id",
    "domain",
    "job_type",
    "status",
    "priority",
    "retry_count",
    "max_retries",
    "config",
    "metadata",
    "error_message",
    "created_at",
    "updated_at",
}


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post(JOBS, json={"domain": "example.com", **fields})
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


async def claim(api: httpx.AsyncClient, worker: str = "w1") -> dict[str, Any]:
    response = await api.post(f"{JOBS}/next", json={"workerId": worker})
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    return job


async def lease_token(api: httpx.AsyncClient, job_id: str) -> str | None:
    """The running attempt's token, as its claim returned it (GET never shows it)."""
    manager = api._transport.app.state.manager  # type: ignore[attr-defined]
    token: str | None = (await manager.get_job(job_id)).lease_token
    return token


async def report(api: httpx.AsyncClient, job_id: str, **body: Any) -> httpx.Response:
    """A report of the running attempt by its worker w1, under its lease token."""
    lease = {"workerId": "w1", "leaseToken": await lease_token(api, job_id)}
    return await api.patch(f"{JOBS}/{job_id}", json=lease | body)


async def failed(api: httpx.AsyncClient, message: str = "Request timeout", **fields: Any) -> str:
    """A job whose only attempt failed and stays failed (autoRetry off)."""
    job = await create(api, config={"autoRetry": False}, **fields)
    assert (await claim(api))["id"] == job["id"]
    response = await report(api, job["id"], status="failed", error_message=message)
    assert response.json()["data"]["status"] == "failed"
    return str(job["id"])


async def test_seed_retry_success_response(api: httpx.AsyncClient) -> None:
    job_id = await failed(api, priority=7)
    response = await api.post(f"{JOBS}/{job_id}/retry")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Job scheduled for retry (attempt 1/3)"
    data = body["data"]
    assert set(data) >= SEED_JOB_KEYS
    assert (data["id"], data["status"], data["retry_count"], data["max_retries"]) == (
        job_id,
        "pending",
        1,
        3,
    )
    assert data["error_message"] is None
    assert data["config"]["timeout"] == 45000
    metadata = data["metadata"]
    assert metadata["source"] == "api"
    assert metadata["retryReason"] == "Manual retry after timeout error"
    assert metadata["lastError"] == "Request timeout"
    assert metadata["retriedBy"] == "api"
    assert TIMESTAMP.match(metadata["retriedAt"])
    assert TIMESTAMP.match(data["created_at"]) and TIMESTAMP.match(data["updated_at"])


async def test_seed_retry_limit_exceeded(api: httpx.AsyncClient) -> None:
    job_id = await failed(api, "Connection refused", max_retries=0)
    response = await api.post(f"{JOBS}/{job_id}/retry")
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "Job has exceeded maximum retry attempts",
        "details": {
            "jobId": job_id,
            "currentRetries": 0,
            "maxRetries": 0,
            "lastError": "Connection refused",
            "failurePattern": "network_connectivity",
        },
    }


async def test_seed_retry_after_three_retries_is_refused(api: httpx.AsyncClient) -> None:
    job_id = await failed(api, "Connection refused")
    for attempt in (1, 2, 3):
        response = await api.post(f"{JOBS}/{job_id}/retry")
        assert response.json()["message"] == f"Job scheduled for retry (attempt {attempt}/3)"
        assert (await claim(api))["id"] == job_id
        await report(api, job_id, status="failed", error_message="Connection refused")
    response = await api.post(f"{JOBS}/{job_id}/retry")
    assert response.status_code == 400
    assert response.json()["details"]["currentRetries"] == 3


async def test_seed_retry_not_found(api: httpx.AsyncClient) -> None:
    for job_id in ("123e4567-e89b-12d3-a456-426614174000", "not-a-uuid"):
        response = await api.post(f"{JOBS}/{job_id}/retry")
        assert response.status_code == 404
        assert response.json() == {"success": False, "error": "Job not found"}


async def _job_in(api: httpx.AsyncClient, status: str) -> str:
    job = await create(api)
    if status == "pending":
        return str(job["id"])
    await claim(api)
    if status == "completed":
        await report(api, job["id"], status="completed")
    if status == "cancelled":
        await api.patch(f"{JOBS}/{job['id']}", json={"status": "cancelled"})
    return str(job["id"])


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("completed", "Job is not in a failed state"),
        ("running", "Job is currently in progress"),
        ("pending", "Job is already queued"),
        ("cancelled", "Cancelled jobs are intentionally stopped"),
    ],
)
async def test_seed_retry_refused_for_each_non_failed_state(
    api: httpx.AsyncClient, status: str, reason: str
) -> None:
    job_id = await _job_in(api, status)
    response = await api.post(f"{JOBS}/{job_id}/retry")
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "Job cannot be retried",
        "details": {"currentStatus": status, "reason": reason},
    }


async def test_retry_with_a_delay_body(api: httpx.AsyncClient) -> None:
    job_id = await failed(api)
    response = await api.post(f"{JOBS}/{job_id}/retry", json={"delaySeconds": 3600})
    data = response.json()["data"]
    assert data["scheduled_at"] > data["updated_at"]
    assert (await api.post(f"{JOBS}/next", json={})).json()["data"] is None


async def test_create_fills_defaults_and_honours_idempotency_key(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-42"}
    body = {"domain": "HTTP://127.0.0.1:8081/", "job_type": "page_scrape"}
    first = await api.post(JOBS, json=body, headers=headers)
    again = await api.post(JOBS, json=body, headers=headers)
    other = await api.post(JOBS, json={**body, "priority": 9}, headers=headers)
    assert first.status_code == 201 and again.status_code == 200 and other.status_code == 409
    job = first.json()["data"]
    assert again.json()["data"]["id"] == job["id"]
    assert job["domain"] == "http://127.0.0.1:8081"
    assert (job["status"], job["priority"], job["retry_count"], job["max_retries"]) == (
        "pending",
        5,
        0,
        3,
    )
    assert job["config"]["depth"] == 3 and job["config"]["respectRobots"] is True
    assert (await api.get(JOBS)).json()["pagination"]["total"] == 1


async def test_a_domain_filter_finds_the_site_however_it_is_spelled(api: httpx.AsyncClient) -> None:
    job = await create(api, domain="http://127.0.0.1:59999")
    other = await create(api, domain="127.0.0.1:60000")
    for spelling in ("127.0.0.1:59999", "http://127.0.0.1:59999", "https://127.0.0.1:59999/"):
        body = (await api.get(JOBS, params={"domain": spelling})).json()
        assert [found["id"] for found in body["data"]] == [job["id"]], spelling
        page = await api.get("/jobs", params={"domain": spelling})
        assert page.status_code == 200 and job["id"] in page.text, spelling
        assert other["id"] not in page.text


async def test_list_filters_and_pagination(api: httpx.AsyncClient) -> None:
    await failed(api, "HTTP 404 Not Found", domain="a.com")
    await failed(api, "Request timeout", domain="b.com")
    await create(api, domain="a.com", job_type="sitemap_scrape")
    cases = {
        "?domain=A.com": 2,
        "?status=failed": 2,
        "?status=failed&domain=a.com": 1,
        "?failure_pattern=network_connectivity": 1,
        "?job_type=sitemap_scrape": 1,
        "": 3,
    }
    for query, total in cases.items():
        body = (await api.get(JOBS + query)).json()
        assert body["success"] is True
        assert body["pagination"]["total"] == total, query
        assert len(body["data"]) == total
    page = (await api.get(f"{JOBS}?limit=2&offset=2")).json()
    assert page["pagination"] == {"total": 3, "limit": 2, "offset": 2}
    assert len(page["data"]) == 1


async def test_get_shows_the_attempt_history(api: httpx.AsyncClient) -> None:
    job = await create(api, max_retries=2)
    await claim(api, "w1")
    # Without Retry-After: a 503 with Retry-After is a wait for the site, not a retry.
    await report(api, job["id"], status="failed", httpStatus=503)
    body = (await api.get(f"{JOBS}/{job['id']}")).json()["data"]
    assert body["status"] == "pending" and body["retry_count"] == 1
    [attempt] = body["attempts"]
    assert attempt["attempt"] == 1
    assert attempt["outcome"] == "failed"
    assert attempt["errorType"] == "service_unavailable"
    assert attempt["failurePattern"] == "server_error"
    assert attempt["httpStatus"] == 503
    assert attempt["workerId"] == "w1"
    assert TIMESTAMP.match(attempt["started_at"]) and TIMESTAMP.match(attempt["finished_at"])


async def test_claim_heartbeat_and_stale_report(api: httpx.AsyncClient) -> None:
    job = await create(api)
    claimed = await claim(api, "w1")
    assert claimed["status"] == "running" and claimed["worker_id"] == "w1"
    lease = {"workerId": "w1", "leaseToken": claimed["leaseToken"]}
    beat = await api.post(f"{JOBS}/{job['id']}/heartbeat", json=lease)
    assert beat.status_code == 200
    assert beat.json()["data"]["lease_expires_at"] >= claimed["lease_expires_at"]
    assert "leaseToken" not in beat.json()["data"]
    stolen = await api.post(f"{JOBS}/{job['id']}/heartbeat", json={"leaseToken": "guessed"})
    assert stolen.status_code == 409 and stolen.json()["success"] is False
    stale = {"status": "completed", "leaseToken": "guessed"}
    assert (await api.patch(f"{JOBS}/{job['id']}", json=stale)).status_code == 409
    assert (await api.get(f"{JOBS}/{job['id']}")).json()["data"]["status"] == "running"


async def test_a_late_report_for_a_reaped_attempt_is_a_409_that_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    """Issue 15's scenario over HTTP: claim as W, the lease expires and is reaped
    (worker_lost, retried), W claims the retry; attempt 1's late report is refused."""
    manager = api._transport.app.state.manager  # type: ignore[attr-defined]
    manager.clock = clock = Clock(manager.clock())
    job = await create(api)
    first = await claim(api, "W")
    clock.advance(61)
    await manager.reap_expired_leases()  # (the app's own reaper may come first)
    clock.advance(3600)
    second = await claim(api, "W")
    assert (second["id"], second["worker_id"]) == (job["id"], "W")
    assert second["leaseToken"] != first["leaseToken"]
    before = (await api.get(f"{JOBS}/{job['id']}")).json()["data"]
    assert (before["status"], before["retry_count"], len(before["attempts"])) == ("running", 1, 2)

    late = {"status": "completed", "workerId": "W", "leaseToken": first["leaseToken"]}
    refused = await api.patch(f"{JOBS}/{job['id']}", json=late)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "Lease is no longer held"
    assert first["leaseToken"] not in refused.text
    beat = await api.post(f"{JOBS}/{job['id']}/heartbeat", json={"leaseToken": first["leaseToken"]})
    assert beat.status_code == 409
    assert (await api.get(f"{JOBS}/{job['id']}")).json()["data"] == before

    current = {"status": "completed", "workerId": "W", "leaseToken": second["leaseToken"]}
    done = await api.patch(f"{JOBS}/{job['id']}", json=current)
    assert done.status_code == 200 and done.json()["data"]["status"] == "completed"


async def test_only_the_claim_shows_the_lease_token(api: httpx.AsyncClient) -> None:
    job = await create(api)
    claimed = await claim(api)
    token = claimed["leaseToken"]
    assert isinstance(token, str) and re.fullmatch(r"[A-Za-z0-9_-]{22}", token)
    for path in (f"{JOBS}/{job['id']}", JOBS):
        response = await api.get(path)
        assert response.status_code == 200 and token not in response.text
        assert "leaseToken" not in response.text and "lease_token" not in response.text
    beat = await api.post(f"{JOBS}/{job['id']}/heartbeat", json={"leaseToken": token})
    assert beat.status_code == 200 and token not in beat.text


async def test_each_claim_gives_a_new_token(api: httpx.AsyncClient) -> None:
    job = await create(api, config={"autoRetry": False})
    tokens = []
    for _ in range(3):
        claimed = await claim(api, "W")
        assert claimed["id"] == job["id"]
        tokens.append(claimed["leaseToken"])
        lease = {"workerId": "W", "leaseToken": claimed["leaseToken"]}
        report = {"status": "failed", "error_message": "Request timeout", **lease}
        assert (await api.patch(f"{JOBS}/{job['id']}", json=report)).status_code == 200
        assert (await api.post(f"{JOBS}/{job['id']}/retry")).status_code == 200
    assert len(set(tokens)) == 3


async def test_claim_without_worker_id_names_one(api: httpx.AsyncClient) -> None:
    await create(api)
    response = await api.post(f"{JOBS}/next")
    assert response.json()["data"]["worker_id"].startswith("worker-")
    assert (await api.post(f"{JOBS}/next")).json() == {
        "success": True,
        "data": None,
        "message": "No job is due",
    }


async def test_patch_edits_and_delete(api: httpx.AsyncClient) -> None:
    job = await create(api)
    patched = await api.patch(
        f"{JOBS}/{job['id']}",
        json={"priority": 9, "max_retries": 5, "config": {"depth": 1}, "metadata": {"team": "x"}},
    )
    data = patched.json()["data"]
    assert (data["priority"], data["max_retries"], data["config"]["depth"]) == (9, 5, 1)
    assert data["metadata"] == {"source": "api", "team": "x"}
    deleted = await api.delete(f"{JOBS}/{job['id']}")
    assert deleted.json() == {"success": True, "data": {"id": job["id"]}, "message": "Job deleted"}
    assert (await api.get(f"{JOBS}/{job['id']}")).status_code == 404


async def test_bulk_retry_returns_one_result_per_job(api: httpx.AsyncClient) -> None:
    ok = await failed(api, domain="a.com")
    spent = await failed(api, domain="a.com", max_retries=0)
    await failed(api, domain="b.com")
    response = await api.post(f"{JOBS}/retry", json={"domain": "a.com"})
    body = response.json()
    assert body["message"] == "Retried 1 of 2 matching failed jobs"
    results = {result["jobId"]: result for result in body["data"]}
    assert results[ok]["success"] is True
    assert results[ok]["message"] == "Job scheduled for retry (attempt 1/3)"
    assert results[spent] == {
        "jobId": spent,
        "success": False,
        "message": "Job has exceeded maximum retry attempts",
    }


async def test_healthz_and_openapi(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {
        "success": True,
        "data": {"status": "ok", "database": "ok"},
    }
    spec = (await api.get("/openapi.json")).json()
    assert "/api/scrape-jobs/{job_id}/retry" in spec["paths"]
    assert "422" not in (await api.get("/openapi.json")).text
    assert "400" in spec["paths"]["/api/scrape-jobs"]["post"]["responses"]
    assert (await api.get("/docs")).status_code == 200


def _page_row(n: int) -> dict[str, Any]:
    return {
        "url": f"https://example.com/{n}",
        "final_url": f"https://example.com/{n}",
        "status": 200,
        "depth": min(n, 1),
        "content_type": "text/html",
        "title": f"Page {n}",
        "text": "hello",
        "links": 3,
        "bytes": 1200,
        "fetched_at": datetime(2024, 1, 1, 12, 0, n, tzinfo=UTC),
        "error": None,
    }


async def test_results_stream_the_latest_attempts_pages(api: httpx.AsyncClient) -> None:
    manager = api._transport.app.state.manager  # type: ignore[attr-defined]
    job = await create(api, config={"autoRetry": False})
    claimed = await manager.claim_next("w1")
    await manager.results.record_pages(claimed, "w1", [_page_row(n) for n in range(3)])
    assert (await api.get(f"{JOBS}/{job['id']}")).json()["data"]["pages_crawled"] == 3

    lines = (await api.get(f"{JOBS}/{job['id']}/results?format=jsonl")).text.splitlines()
    pages = [json.loads(line) for line in lines]
    assert [p["url"] for p in pages] == [f"https://example.com/{n}" for n in range(3)]
    assert pages[2]["fetched_at"] == "2024-01-01T12:00:02.000Z"
    assert set(pages[0]) == {
        "url",
        "final_url",
        "status",
        "depth",
        "content_type",
        "title",
        "text",
        "links",
        "bytes",
        "fetched_at",
        "error",
        "truncated",
    }
    assert pages[0]["truncated"] is False
    body = (await api.get(f"{JOBS}/{job['id']}/results")).json()
    assert body["success"] is True and body["data"] == pages

    # A new attempt starts with no pages; the export follows the latest attempt.
    await report(api, job["id"], status="failed", error_message="Request timeout")
    await api.post(f"{JOBS}/{job['id']}/retry")
    await claim(api, "w1")
    assert (await api.get(f"{JOBS}/{job['id']}/results")).json()["data"] == []


async def test_results_refuse_bad_requests(api: httpx.AsyncClient) -> None:
    job = await create(api)
    bad = await api.get(f"{JOBS}/{job['id']}/results?format=xml")
    assert bad.status_code == 400 and bad.json()["success"] is False
    missing = await api.get(f"{JOBS}/{uuid.uuid4()}/results")
    assert missing.json() == {"success": False, "error": "Job not found"}


async def test_pages_from_a_worker_without_the_lease_are_refused(api: httpx.AsyncClient) -> None:
    manager = api._transport.app.state.manager  # type: ignore[attr-defined]
    await create(api)
    claimed = await manager.claim_next("w1")
    with pytest.raises(LeaseLost):
        await manager.results.record_pages(claimed, "w2", [_page_row(0)])
    assert await manager.results.pages_crawled(claimed) == 0


async def test_a_completed_report_may_carry_a_note(api: httpx.AsyncClient) -> None:
    """What the attempt did not cover (a deadline, a sitemap read in part) stays on it."""
    job = await create(api)
    await claim(api)
    refused = await report(api, job["id"], status="failed", note="stopped early")
    assert refused.status_code == 400
    done = await report(api, job["id"], status="completed", note="stopped at the deadline")
    assert done.json()["data"]["status"] == "completed"
    [attempt] = (await api.get(f"{JOBS}/{job['id']}")).json()["data"]["attempts"]
    assert (attempt["outcome"], attempt["note"]) == ("completed", "stopped at the deadline")
