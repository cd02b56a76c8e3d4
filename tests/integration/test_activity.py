"""Activity on SQLite and PostgreSQL: the scenarios of ``tests/unit/test_activity.py``
counted in SQL (time buckets, nearest-rank percentiles, page counts in one query),
and ``GET /api/scrape-jobs/activity`` on the real app."""

from __future__ import annotations

import httpx

from tests.unit.test_activity import *  # noqa: F403

JOBS = "/api/scrape-jobs"


async def test_the_activity_endpoint_counts_what_workers_did(api: httpx.AsyncClient) -> None:
    for outcome in ("completed", "failed"):
        created = await api.post(JOBS, json={"domain": "a.example", "config": {"autoRetry": False}})
        assert created.status_code == 201, created.text
        claimed = (await api.post(f"{JOBS}/next", json={"workerId": "w1"})).json()["data"]
        assert claimed["id"] == created.json()["data"]["id"]
        body = {"status": outcome, "workerId": "w1", "error_message": "Request timeout"}
        body["leaseToken"] = claimed["leaseToken"]
        reported = await api.patch(f"{JOBS}/{claimed['id']}", json=body)
        assert reported.status_code == 200, reported.text

    response = await api.get(f"{JOBS}/activity")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["span"], data["bucketSeconds"], len(data["throughput"]["buckets"])) == (
        "hour",
        60,
        60,
    )
    assert data["throughput"]["totals"] == {"completed": 1, "failed": 1, "retried": 0}
    overall = data["queueLatency"]["overall"]
    assert overall["count"] == 2 and 0 <= overall["p50"] <= overall["p95"] <= overall["max"]
    assert sum(b["count"] for b in data["queueLatency"]["buckets"]) == 2

    day = (await api.get(f"{JOBS}/activity", params={"span": "day"})).json()["data"]
    assert (day["bucketSeconds"], len(day["throughput"]["buckets"])) == (900, 96)
    assert day["throughput"]["totals"] == data["throughput"]["totals"]

    for bad in ({"span": "week"}, {"since": "2024-01-01"}):
        refused = await api.get(f"{JOBS}/activity", params=bad)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "Invalid request"
