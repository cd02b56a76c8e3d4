"""``/api/domains`` over HTTP on both databases: list, one site, pause, resume."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.test_api import JOBS, claim, create, report

DOMAINS = "/api/domains"


async def site(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await api.get(f"{DOMAINS}/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["data"]
    return body


async def test_a_429_with_retry_after_shows_on_the_site_and_the_job(
    api: httpx.AsyncClient,
) -> None:
    job = await create(api, domain="http://127.0.0.1:8081")
    await create(api, domain="127.0.0.1:8081")
    await claim(api)
    answer = await report(
        api, job["id"], status="failed", error_message="HTTP 429", httpStatus=429, retryAfter=300
    )
    waiting = answer.json()["data"]
    assert (waiting["status"], waiting["retry_count"], waiting["site"]) == (
        "pending",
        0,
        "127.0.0.1:8081",
    )
    cooling = await site(api, "127.0.0.1:8081")
    assert cooling["state"] == "cooling_down"
    assert cooling["reason"] == "HTTP 429 with Retry-After: 300 s"
    assert cooling["jobs"]["pending"] == 2
    assert (await api.post(f"{JOBS}/next", json={"workerId": "w2"})).json()["data"] is None
    shown = (await api.get(f"{JOBS}/{job['id']}")).json()["data"]
    assert shown["site_state"]["state"] == "cooling_down"
    assert shown["site_state"]["cooldownUntil"] == cooling["cooldownUntil"]


async def test_pause_and_resume_a_site(api: httpx.AsyncClient) -> None:
    await create(api, domain="pause.example")
    paused = await api.patch(f"{DOMAINS}/pause.example", json={"paused": True})
    assert paused.json()["message"] == "Site paused"
    assert paused.json()["data"]["state"] == "paused"
    assert (await api.post(f"{JOBS}/next", json={"workerId": "w1"})).json()["data"] is None
    resumed = await api.post(f"{DOMAINS}/PAUSE.example/resume")
    assert resumed.json()["data"]["state"] == "open"
    assert (await api.post(f"{JOBS}/next", json={"workerId": "w1"})).json()["data"] is not None


async def test_a_sites_fleet_limits_are_set_shown_and_removed(api: httpx.AsyncClient) -> None:
    await create(api, domain="limits.example")
    body = {"maxRequestsPerSecond": 2.5, "maxConcurrentRequests": 3}
    set_ = (await api.patch(f"{DOMAINS}/limits.example", json=body)).json()
    assert set_["message"] == "Site limits set"
    assert set_["data"]["state"] == "open"
    assert set_["data"]["limits"] == {
        "maxRequestsPerSecond": 2.5,
        "maxConcurrentRequests": 3,
        "crawlDelay": None,
        "adaptiveRate": None,
        "rateLimit": 2.5,
        "concurrencyLimit": 3,
    }
    cleared = await api.patch(f"{DOMAINS}/limits.example", json={"maxRequestsPerSecond": None})
    limits = cleared.json()["data"]["limits"]
    assert (limits["rateLimit"], limits["concurrencyLimit"]) == (None, 3)
    default = await api.patch(f"{DOMAINS}/limits.example", json={"maxConcurrentRequests": None})
    assert default.json()["data"]["limits"]["concurrencyLimit"] == 8


async def test_the_list_pages_and_filters_by_state(api: httpx.AsyncClient) -> None:
    for domain in ("a.example", "b.example", "c.example"):
        await create(api, domain=domain)
    await api.patch(f"{DOMAINS}/b.example", json={"paused": True})
    listed = (await api.get(DOMAINS, params={"limit": 2})).json()
    assert [s["site"] for s in listed["data"]] == ["a.example", "b.example"]
    assert listed["pagination"] == {"total": 3, "limit": 2, "offset": 0}
    paused = (await api.get(DOMAINS, params={"state": "paused"})).json()
    assert [s["site"] for s in paused["data"]] == ["b.example"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", f"{DOMAINS}/nowhere.example", None, 404),
        ("get", f"{DOMAINS}/bad%20site", None, 400),
        ("patch", f"{DOMAINS}/a.example", {"paused": "yes"}, 400),
        ("patch", f"{DOMAINS}/a.example", {"paused": True, "rate": 5}, 400),
        ("patch", f"{DOMAINS}/a.example", {}, 400),
        ("patch", f"{DOMAINS}/a.example", {"paused": None}, 400),
        ("patch", f"{DOMAINS}/a.example", {"maxRequestsPerSecond": 0}, 400),
        ("patch", f"{DOMAINS}/a.example", {"maxRequestsPerSecond": "fast"}, 400),
        ("patch", f"{DOMAINS}/a.example", {"maxConcurrentRequests": 0}, 400),
        ("patch", f"{DOMAINS}/a.example", {"maxConcurrentRequests": 1.5}, 400),
        ("patch", f"{DOMAINS}/a.example", {"maxConcurrentRequests": 257}, 400),
        ("get", f"{DOMAINS}?state=closed", None, 400),
        ("get", f"{DOMAINS}?limit=0", None, 400),
    ],
)
async def test_bad_requests_get_the_envelope(
    api: httpx.AsyncClient, method: str, path: str, body: Any, status: int
) -> None:
    response = await api.request(method, path, json=body)
    assert response.status_code == status
    assert response.json()["success"] is False
