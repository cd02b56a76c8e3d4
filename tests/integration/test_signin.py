"""The dashboard's sign-in on SQLite and PostgreSQL: the cookie, pages by role, sign-out."""

from __future__ import annotations

import httpx
import pytest

from scrapejobs.access import Role
from scrapejobs.web.auth import SESSION_COOKIE
from tests.conftest import Keyed, app_client
from tests.factories import failed_job


async def sign_in(keyed: Keyed, role: Role, target: str = "/jobs") -> httpx.Response:
    form = {"token": keyed.tokens[role], "next": target}
    return await keyed.api.post("/login", data=form)


async def test_a_page_without_a_session_asks_to_sign_in(keyed: Keyed) -> None:
    page = await keyed.api.get("/jobs?status=failed")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fjobs%3Fstatus%3Dfailed"
    htmx = await keyed.api.get("/jobs", headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["hx-redirect"] == "/login?next=%2Fjobs"
    form = await keyed.api.get("/login?next=/jobs")
    assert form.status_code == 200 and 'name="token"' in form.text
    assert "Sign out" not in form.text and 'href="/bulk"' not in form.text
    api = await keyed.api.get("/api/scrape-jobs")
    assert api.status_code == 401  # the API still answers in its envelope


async def test_signing_in_sets_a_strict_http_only_cookie(keyed: Keyed) -> None:
    response = await sign_in(keyed, Role.VIEWER, "/domains")
    assert response.status_code == 303 and response.headers["location"] == "/domains"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http here; https below
    page = await keyed.api.get("/jobs")
    assert page.status_code == 200
    assert 'id="signed-in-as">viewer-key</strong> (viewer)' in page.text


async def test_over_https_the_cookie_is_secure(database_url: str) -> None:
    async with app_client(database_url, "https://test") as (app, client):
        _, token = await app.state.manager.keys.create("k", Role.ADMIN, by="test")
        response = await client.post("/login", data={"token": token})
        assert "secure" in response.headers["set-cookie"].lower()


async def test_a_wrong_token_is_said_and_sets_nothing(keyed: Keyed) -> None:
    response = await keyed.api.post("/login", data={"token": "sjk_wrong", "next": "/jobs"})
    assert response.status_code == 401
    assert "not the token of an active key" in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("target", ["//evil.test/x", "https://evil.test/", "/\\evil.test", ""])
async def test_sign_in_goes_back_only_to_this_site(keyed: Keyed, target: str) -> None:
    response = await sign_in(keyed, Role.VIEWER, target)
    assert response.headers["location"] == "/jobs"


async def test_buttons_follow_the_role(keyed: Keyed) -> None:
    job = await failed_job(keyed.manager)
    await sign_in(keyed, Role.VIEWER)
    page = (await keyed.api.get(f"/jobs/{job.id}")).text
    assert 'id="retry-button"' not in page and 'id="delete-button"' not in page
    assert "Retrying needs an operator" in page and 'href="/jobs/new"' not in page
    refused = await keyed.api.post(f"/jobs/{job.id}/retry")
    assert refused.status_code == 403
    assert (await keyed.manager.get_job(job.id)).status.value == "failed"

    await sign_in(keyed, Role.OPERATOR)
    page = (await keyed.api.get(f"/jobs/{job.id}")).text
    assert 'id="retry-button"' in page and 'id="delete-button"' not in page
    assert 'href="/jobs/new"' in page
    retried = await keyed.api.post(f"/jobs/{job.id}/retry")
    assert retried.status_code == 200
    assert (await keyed.manager.get_job(job.id)).last_retry.retried_by == "operator-key"

    await sign_in(keyed, Role.ADMIN)
    domains = (await keyed.api.get("/domains")).text
    assert "/pause" in domains


async def test_signing_out_and_revoking_end_the_session(keyed: Keyed) -> None:
    await sign_in(keyed, Role.OPERATOR)
    assert (await keyed.api.get("/jobs")).status_code == 200
    out = await keyed.api.post("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await keyed.api.get("/jobs")).status_code == 303
    await sign_in(keyed, Role.OPERATOR)
    await keyed.manager.keys.revoke("operator-key")
    assert (await keyed.api.get("/jobs")).status_code == 303


async def test_without_keys_there_is_nothing_to_sign_in_to(api: httpx.AsyncClient) -> None:
    response = await api.get("/login?next=/domains")
    assert response.status_code == 303 and response.headers["location"] == "/domains"
    page = (await api.get("/jobs")).text
    assert 'href="/jobs/new"' in page and "Sign out" not in page
