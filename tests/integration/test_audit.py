"""The audit log on SQLite and PostgreSQL: one entry per change, from the API and the
dashboard, with who, role, address and the fields changed; entries outlive jobs."""

from __future__ import annotations

from typing import Any

import httpx

from scrapejobs.access import Role
from tests.conftest import Keyed
from tests.factories import failed_job, running_job

JOBS = "/api/scrape-jobs"


async def entries(keyed: Keyed, **params: Any) -> list[dict[str, Any]]:
    response = await keyed.call(Role.ADMIN, "GET", "/api/audit", params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_each_change_writes_one_entry_with_who_and_what(keyed: Keyed) -> None:
    created = await keyed.call(Role.OPERATOR, "POST", JOBS, json={"domain": "example.com"})
    job_id = created.json()["data"]["id"]
    await keyed.call(Role.OPERATOR, "PATCH", f"{JOBS}/{job_id}", json={"priority": 9})
    await keyed.call(Role.OPERATOR, "PATCH", f"{JOBS}/{job_id}", json={"status": "cancelled"})
    await keyed.call(Role.ADMIN, "DELETE", f"{JOBS}/{job_id}")
    log = await entries(keyed)
    assert [(e["action"], e["actor"], e["role"]) for e in reversed(log)] == [
        ("job.create", "operator-key", "operator"),
        ("job.edit", "operator-key", "operator"),
        ("job.cancel", "operator-key", "operator"),
        ("job.delete", "admin-key", "admin"),
    ]
    create, edit, cancel, delete = reversed(log)
    assert {e["target"] for e in log} == {job_id}
    assert all(e["via"] == "api" and e["address"] == "127.0.0.1" for e in log)
    assert create["before"] is None and create["after"]["status"] == "pending"
    assert (edit["before"], edit["after"]) == ({"priority": 5}, {"priority": 9})
    assert (cancel["before"], cancel["after"]) == ({"status": "pending"}, {"status": "cancelled"})
    assert delete["before"]["domain"] == "example.com" and delete["after"] is None
    # The job is gone; its entries are not.
    assert (await keyed.call(Role.ADMIN, "GET", f"{JOBS}/{job_id}")).status_code == 404
    assert len(await entries(keyed, target=job_id)) == 4


async def test_retries_prunes_sites_and_keys_are_audited(keyed: Keyed) -> None:
    job = await failed_job(keyed.manager)
    await keyed.call(Role.OPERATOR, "POST", f"{JOBS}/{job.id}/retry")
    other = await failed_job(keyed.manager, priority=10)  # claimed before the retried one
    body = {"ids": [other.id]}
    await keyed.call(Role.OPERATOR, "POST", f"{JOBS}/retry", json=body)
    await keyed.call(Role.ADMIN, "POST", f"{JOBS}/prune", json={"olderThan": "1d", "dryRun": True})
    await keyed.call(Role.ADMIN, "POST", f"{JOBS}/prune", json={"olderThan": "1d"})
    await keyed.call(Role.ADMIN, "PATCH", "/api/domains/example.com", json={"paused": True})
    await keyed.call(Role.ADMIN, "POST", "/api/domains/example.com/resume")
    await keyed.call(Role.ADMIN, "POST", "/api/keys", json={"name": "bot", "role": "viewer"})
    await keyed.call(Role.ADMIN, "DELETE", "/api/keys/bot")
    log = list(reversed(await entries(keyed)))
    assert [e["action"] for e in log] == [
        "job.retry",
        "jobs.bulk_retry",
        "jobs.prune",  # the dry run changed nothing and is not recorded
        "site.update",
        "site.resume",
        "key.create",
        "key.revoke",
    ]
    retry, bulk, prune, pause, _, key, _ = log
    changed = {"status", "retry_count", "config"}  # the retry's adjustment: a longer timeout
    assert retry["before"].keys() == retry["after"].keys() == changed
    assert (retry["before"]["status"], retry["after"]["status"]) == ("failed", "pending")
    assert (retry["before"]["retry_count"], retry["after"]["retry_count"]) == (0, 1)
    assert retry["after"]["config"]["timeout"] > retry["before"]["config"]["timeout"]
    assert bulk["target"] is None and bulk["after"]["retried"] == [other.id]
    assert prune["after"] == {
        "olderThan": "1d",
        "statuses": ["completed", "failed", "cancelled"],
        "deleted": 0,
    }
    assert (pause["target"], pause["after"]) == ("example.com", {"paused": True})
    assert (key["target"], key["after"]) == ("bot", {"role": "viewer"})


async def test_worker_traffic_is_the_jobs_history_not_the_audit_log(keyed: Keyed) -> None:
    await keyed.call(Role.OPERATOR, "POST", JOBS, json={"domain": "example.com"})
    claim = await keyed.call(Role.WORKER, "POST", f"{JOBS}/next", json={"workerId": "w"})
    job = claim.json()["data"]
    body = {"status": "completed", "leaseToken": job["leaseToken"]}
    done = await keyed.call(Role.WORKER, "PATCH", f"{JOBS}/{job['id']}", json=body)
    assert done.status_code == 200, done.text
    assert [e["action"] for e in await entries(keyed)] == ["job.create"]


async def test_refused_changes_write_nothing(keyed: Keyed) -> None:
    job = await running_job(keyed.manager)
    await keyed.call(Role.VIEWER, "POST", f"{JOBS}/{job.id}/retry")
    await keyed.call(Role.OPERATOR, "POST", f"{JOBS}/{job.id}/retry")  # running: 400
    await keyed.call(Role.ADMIN, "DELETE", f"{JOBS}/{job.id}")  # running: 409
    assert await entries(keyed) == []


async def test_the_log_filters_and_pages_and_only_admins_read_it(keyed: Keyed) -> None:
    for n in range(3):
        await keyed.call(Role.OPERATOR, "POST", JOBS, json={"domain": f"s{n}.example"})
    await keyed.call(Role.ADMIN, "POST", JOBS, json={"domain": "admin.example"})
    page = await keyed.call(Role.ADMIN, "GET", "/api/audit", params={"limit": 2, "offset": 1})
    body = page.json()
    assert body["pagination"] == {"total": 4, "limit": 2, "offset": 1}
    assert [e["after"]["domain"] for e in body["data"]] == ["s2.example", "s1.example"]
    assert len(await entries(keyed, actor="operator-key")) == 3
    assert len(await entries(keyed, action="job.create", since="2000-01-01")) == 4
    assert await entries(keyed, since="2999-01-01") == []
    bad = await keyed.call(Role.ADMIN, "GET", "/api/audit", params={"action": "job.explode"})
    assert bad.status_code == 400
    for role in (Role.VIEWER, Role.OPERATOR):
        assert (await keyed.call(role, "GET", "/api/audit")).status_code == 403


async def test_dashboard_changes_are_audited_as_such(api: httpx.AsyncClient) -> None:
    """Without keys: the dashboard acts as ``dashboard``, the API as ``api``."""
    created = await api.post("/jobs/new", data={"domain": "example.com"})
    assert created.status_code == 303
    job_id = created.headers["location"].rsplit("/", 1)[1]
    await api.post(f"/jobs/{job_id}/cancel")
    log = (await api.get("/api/audit")).json()["data"]
    assert [(e["action"], e["actor"], e["via"]) for e in reversed(log)] == [
        ("job.create", "dashboard", "dashboard"),
        ("job.cancel", "dashboard", "dashboard"),
    ]
    page = await api.get("/audit")
    assert page.status_code == 200 and "job.cancel" in page.text and "status: " in page.text
