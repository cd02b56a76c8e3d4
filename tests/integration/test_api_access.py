"""Keys and roles over HTTP, and the cross-site guard, on SQLite and PostgreSQL.

Once a key exists every request needs one (401), each route needs a role
(403 below it), what a key does is recorded under its name, and no
state-changing request from another site's page gets through, keys or not.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scrapejobs.access import Role
from scrapejobs.queries import JobFilter
from tests.conftest import Keyed
from tests.factories import failed_job, running_job

JOBS = "/api/scrape-jobs"


def refused(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"] == error, body


async def test_once_a_key_exists_requests_need_one(keyed: Keyed) -> None:
    for path in (JOBS, f"{JOBS}/stats", "/api/domains", f"{JOBS}/activity", "/metrics"):
        response = await keyed.call(None, "GET", path)
        refused(response, 401, "API key required")
        assert response.headers["www-authenticate"] == "Bearer"
    bad = await keyed.api.get(JOBS, headers={"Authorization": "Bearer sjk_not-a-key"})
    refused(bad, 401, "Invalid API key")
    not_bearer = await keyed.api.get(JOBS, headers={"Authorization": "Basic dXNlcjpwdw=="})
    refused(not_bearer, 401, "API key required")
    health = await keyed.call(None, "GET", "/healthz")
    assert health.status_code == 200  # load balancers probe without a key
    assert (await keyed.call(None, "GET", "/openapi.json")).status_code == 200


async def test_a_viewer_reads_everything_and_is_refused_every_write(keyed: Keyed) -> None:
    job = await failed_job(keyed.manager)
    reads = [JOBS, f"{JOBS}/{job.id}", f"{JOBS}/{job.id}/results", f"{JOBS}/stats"]
    reads += ["/api/domains", f"/api/domains/{job.site}", f"{JOBS}/activity", "/metrics"]
    for path in reads:
        assert (await keyed.call(Role.VIEWER, "GET", path)).status_code == 200, path
    writes: list[tuple[str, str, Any]] = [
        ("POST", JOBS, {"domain": "example.org"}),
        ("PATCH", f"{JOBS}/{job.id}", {"priority": 9}),
        ("PATCH", f"{JOBS}/{job.id}", {"status": "cancelled"}),
        ("PATCH", f"{JOBS}/{job.id}", {"status": "completed"}),
        ("POST", f"{JOBS}/{job.id}/retry", None),
        ("POST", f"{JOBS}/retry", {"domain": "example.com"}),
        ("POST", f"{JOBS}/next", None),
        ("POST", f"{JOBS}/{job.id}/heartbeat", {"workerId": "w1"}),
        ("DELETE", f"{JOBS}/{job.id}", None),
        ("POST", f"{JOBS}/prune", {"olderThan": "1s"}),
        ("PATCH", f"/api/domains/{job.site}", {"paused": True}),
        ("POST", f"/api/domains/{job.site}/resume", None),
    ]
    for method, path, body in writes:
        response = await keyed.call(Role.VIEWER, method, path, json=body)
        refused(response, 403, "The viewer role may not do this")
        assert response.json()["details"]["key"] == "viewer-key", (method, path)
    assert await keyed.manager.get_job(job.id) == job  # nothing changed
    assert await keyed.manager.count_jobs(JobFilter()) == 1
    site = await keyed.manager.sites.state(job.site)
    assert site is None or not site.paused


async def test_roles_climb(keyed: Keyed) -> None:
    created = await keyed.call(Role.WORKER, "POST", JOBS, json={"domain": "example.org"})
    refused(created, 403, "The worker role may not do this")
    created = await keyed.call(Role.OPERATOR, "POST", JOBS, json={"domain": "example.org"})
    assert created.status_code == 201
    job_id = created.json()["data"]["id"]
    claimed = await keyed.call(Role.WORKER, "POST", f"{JOBS}/next", json={"workerId": "w"})
    assert claimed.json()["data"]["id"] == job_id
    cancelled = await keyed.call(
        Role.OPERATOR, "PATCH", f"{JOBS}/{job_id}", json={"status": "cancelled"}
    )
    assert cancelled.json()["data"]["status"] == "cancelled"
    delete = await keyed.call(Role.OPERATOR, "DELETE", f"{JOBS}/{job_id}")
    refused(delete, 403, "The operator role may not do this")
    prune = await keyed.call(Role.OPERATOR, "POST", f"{JOBS}/prune", json={"olderThan": "1s"})
    refused(prune, 403, "The operator role may not do this")
    pause = await keyed.call(
        Role.OPERATOR, "PATCH", "/api/domains/example.org", json={"paused": True}
    )
    refused(pause, 403, "The operator role may not do this")
    assert (
        await keyed.call(Role.ADMIN, "PATCH", "/api/domains/example.org", json={"paused": True})
    ).status_code == 200
    assert (await keyed.call(Role.ADMIN, "DELETE", f"{JOBS}/{job_id}")).status_code == 200


async def test_what_a_key_does_is_recorded_under_its_name(keyed: Keyed) -> None:
    job = await failed_job(keyed.manager)
    retried = await keyed.call(Role.OPERATOR, "POST", f"{JOBS}/{job.id}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["data"]["metadata"]["retriedBy"] == "operator-key"
    created = await keyed.call(Role.ADMIN, "POST", JOBS, json={"domain": "example.org"})
    new_id = created.json()["data"]["id"]
    edited = await keyed.call(Role.OPERATOR, "PATCH", f"{JOBS}/{new_id}", json={"priority": 7})
    assert edited.status_code == 200
    actors = [event.actor for event in await keyed.manager.get_events(new_id)]
    assert actors == ["admin-key", "operator-key"]


async def test_a_worker_cannot_edit_while_it_reports(keyed: Keyed) -> None:
    job = await running_job(keyed.manager)
    body = {"status": "failed", "error_message": "Request timeout", "config": {"timeout": 1000}}
    response = await keyed.call(Role.WORKER, "PATCH", f"{JOBS}/{job.id}", json=body)
    refused(response, 403, "The worker role may not do this")
    assert (await keyed.manager.get_job(job.id)).status.value == "running"


CROSS_SITE = [
    {"Origin": "http://evil.test"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://sub.test"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_no_writes_from_another_sites_page(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """Without keys too: a forged form post, beacon or no-cors fetch changes nothing."""
    created = await api.post(JOBS, json={"domain": "example.com"}, headers=headers)
    refused(created, 403, "Cross-site request refused")
    claim = await api.post(f"{JOBS}/next", headers=headers)
    refused(claim, 403, "Cross-site request refused")
    form = await api.post("/jobs/new", data={"domain": "example.com"}, headers=headers)
    assert form.status_code == 403
    assert (await api.get(JOBS)).json()["pagination"]["total"] == 0
    assert (await api.get(JOBS, headers=headers)).status_code == 200  # reading is no change


async def test_a_bearer_token_is_not_a_forged_request(keyed: Keyed) -> None:
    headers = {"Origin": "http://elsewhere.test", **keyed.auth(Role.OPERATOR)}
    created = await keyed.api.post(JOBS, json={"domain": "example.com"}, headers=headers)
    assert created.status_code == 201
    same_origin = {
        "Origin": "http://test",
        "Sec-Fetch-Site": "same-origin",
        **keyed.auth(Role.OPERATOR),
    }
    assert (
        await keyed.api.post(JOBS, json={"domain": "a.com"}, headers=same_origin)
    ).status_code == 201


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
async def test_json_routes_take_only_json(api: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await api.post(JOBS, content=b'{"domain": "example.com"}', headers=headers)
    refused(response, 415, "Unsupported media type")
    assert (await api.get(JOBS)).json()["pagination"]["total"] == 0
    typed = {"Content-Type": "application/json; charset=utf-8"}
    ok = await api.post(JOBS, content=b'{"domain": "example.com"}', headers=typed)
    assert ok.status_code == 201
    empty = await api.post(f"{JOBS}/next")  # no body: nothing to type
    assert empty.status_code == 200


async def test_the_openapi_document_names_the_schemes(api: httpx.AsyncClient) -> None:
    schemes = (await api.get("/openapi.json")).json()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyCookie"]["name"] == "scrapejobs_session"


async def test_admins_manage_keys_over_the_api(keyed: Keyed) -> None:
    listed = await keyed.call(Role.OPERATOR, "GET", "/api/keys")
    refused(listed, 403, "The operator role may not do this")
    made = await keyed.call(Role.ADMIN, "POST", "/api/keys", json={"name": "bot", "role": "worker"})
    assert made.status_code == 201, made.text
    key = made.json()["data"]
    assert (key["name"], key["role"], key["createdBy"]) == ("bot", "worker", "admin-key")
    bot = {"Authorization": f"Bearer {key['token']}"}
    assert (await keyed.api.get(JOBS, headers=bot)).status_code == 200
    keys = (await keyed.call(Role.ADMIN, "GET", "/api/keys")).json()["data"]
    assert "token" not in keys[-1] and keys[-1]["name"] == "bot"
    again = await keyed.call(Role.ADMIN, "POST", "/api/keys", json={"name": "bot", "role": "admin"})
    assert again.status_code == 409
    bad = await keyed.call(Role.ADMIN, "POST", "/api/keys", json={"name": "a b", "role": "boss"})
    refused(bad, 400, "Invalid request")
    revoked = await keyed.call(Role.ADMIN, "DELETE", "/api/keys/bot")
    assert revoked.json()["data"]["revokedAt"] is not None
    refused(await keyed.api.get(JOBS, headers=bot), 401, "Invalid API key")
    refused(await keyed.call(Role.ADMIN, "DELETE", "/api/keys/nobody"), 404, "API key not found")
