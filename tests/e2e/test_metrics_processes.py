"""Metrics across processes: two ``serve`` and one standalone ``worker`` on one database.

The shared state (jobs by status) reads the same from every server; what a
process did (pages fetched) is reported by the process that did it.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_worker_process import start_worker
from tests.servers import free_port, serve
from tests.sites import Site, page, serve_site

PAGES = 6
COMPLETED = {"outcome": "completed", "error_type": "", "failure_pattern": ""}


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return None


async def wait_for_metric(
    client: httpx.AsyncClient, url: str, name: str, value: float, **labels: str
) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            text = (await client.get(url)).text
        except httpx.TransportError:
            text = ""
        if sample(text, name, **labels) == value:
            return text
        assert time.monotonic() < deadline, f"{name}{labels} never reached {value}"
        await asyncio.sleep(0.1)


async def test_servers_agree_on_shared_state_and_the_worker_reports_its_pages(
    database_url: str,
) -> None:
    site = Site()
    site.routes["/"] = page("".join(f'<a href="/p{n}">p</a>' for n in range(1, PAGES)))
    for n in range(1, PAGES):
        site.routes[f"/p{n}"] = page(f"page {n}")
    metrics_port = free_port()
    async with serve_site(site):
        with serve(database_url) as first, serve(database_url) as second:
            worker = await start_worker(database_url, "--metrics-port", str(metrics_port))
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    created = await client.post(
                        f"{first}/api/scrape-jobs", json={"domain": site.origin}
                    )
                    assert created.status_code == 201

                    # The attempt is counted after its pages: wait for the later of the two.
                    worker_metrics = await wait_for_metric(
                        client,
                        f"http://127.0.0.1:{metrics_port}/metrics",
                        "scrapejobs_worker_attempts_total",
                        1,
                        **COMPLETED,
                    )
                    for base in (first, second):
                        await wait_for_metric(
                            client, f"{base}/metrics", "scrapejobs_jobs", 1, status="completed"
                        )
                    served = [(await client.get(f"{b}/metrics")).text for b in (first, second)]
            finally:
                worker.terminate()
                await worker.wait()

    assert sample(worker_metrics, "scrapejobs_pages_fetched_total") == PAGES
    for text in served:
        assert sample(text, "scrapejobs_jobs", status="pending") == 0
        # The servers run no workers: they fetched nothing themselves.
        assert sample(text, "scrapejobs_pages_fetched_total") == 0
