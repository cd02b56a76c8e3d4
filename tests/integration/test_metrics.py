"""``GET /metrics``: the shared state from the database, and this process's HTTP timings."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from scrapejobs.manager import JobManager
from scrapejobs.store import Store
from tests.conftest import Clock
from tests.factories import OK, history, job_request
from tests.unit.test_sites import LIMITED


async def scrape(api: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs.items()))


async def test_database_metrics_count_jobs_failures_and_retries(
    api: httpx.AsyncClient, manager: JobManager, clock: Clock
) -> None:
    await history(manager, clock, "a.example", ["timeout", "timeout", OK])
    await history(manager, clock, "a.example", ["rate_limited"])
    await history(manager, clock, "b.example", [])

    samples = await scrape(api)

    jobs = {status: samples[("scrapejobs_jobs", labels(status=status))] for status in (
        "pending", "running", "completed", "failed", "cancelled")}  # fmt: skip
    assert jobs == {"pending": 1, "running": 0, "completed": 1, "failed": 1, "cancelled": 0}
    timeout = labels(failure_pattern="network_connectivity", error_type="timeout")
    rate_limited = labels(failure_pattern="rate_limiting", error_type="rate_limited")
    assert samples[("scrapejobs_attempt_failures", timeout)] == 2
    assert samples[("scrapejobs_attempt_failures", rate_limited)] == 1
    assert samples[("scrapejobs_retries", timeout)] == 2
    assert ("scrapejobs_retries", rate_limited) not in samples


async def test_http_requests_are_timed_by_route_template(
    api: httpx.AsyncClient, manager: JobManager, clock: Clock
) -> None:
    job = await history(manager, clock, "a.example", [])
    route = {"method": "GET", "route": "/api/scrape-jobs/{job_id}", "status": "200"}
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    count = "scrapejobs_http_request_duration_seconds_count"
    before = REGISTRY.get_sample_value(count, route) or 0.0
    before_unmatched = REGISTRY.get_sample_value(count, unmatched) or 0.0

    for _ in range(3):
        assert (await api.get(f"/api/scrape-jobs/{job.id}")).status_code == 200
    assert (await api.get("/no/such/page")).status_code == 404

    assert REGISTRY.get_sample_value(count, route) == before + 3
    assert REGISTRY.get_sample_value(count, unmatched) == before_unmatched + 1
    samples = await scrape(api)
    assert samples[(count, labels(**route))] >= before + 3


async def test_sites_are_counted_by_state_one_series_each(
    api: httpx.AsyncClient, store: Store
) -> None:
    manager = JobManager(store)  # on the server's clock: the cooldown is still on
    for domain in ("a.example", "b.example", "c.example", "d.example"):
        await manager.create_job(job_request(domain=domain))
    await manager.sites.pause("b.example")
    await manager.sites.cool_down("c.example", LIMITED)
    await manager.sites.trip("d.example", "12 of the last 20 responses were blocks (captcha)")

    samples = await scrape(api)

    sites = {key[1][0][1]: value for key, value in samples.items() if key[0] == "scrapejobs_sites"}
    assert sites == {"open": 1, "paused": 1, "cooling_down": 1, "circuit_open": 1}
