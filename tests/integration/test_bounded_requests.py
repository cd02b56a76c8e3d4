"""Bounded request bodies over the real app, on both databases (issue 15, item 6).

A body over the limit is a 413 in the seed's envelope and writes nothing,
whether it declares its length or streams in chunks; a body at the limit is
served; a body that stalls is a 408. Each write is read back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from scrapejobs.settings import Settings
from scrapejobs.web import create_app

JOBS = "/api/scrape-jobs"
LIMIT = 4096
JSON = {"Content-Type": "application/json"}
JOB = b'{"domain": "example.com"}'


def padded(size: int) -> bytes:
    """A valid job, padded with JSON whitespace to ``size`` bytes: only its size can be wrong."""
    return JOB + b" " * (size - len(JOB))


async def chunked(body: bytes, chunk: int = 1000) -> AsyncIterator[bytes]:
    """The body as a stream of chunks: httpx sends it without a Content-Length."""
    for start in range(0, len(body), chunk):
        yield body[start : start + chunk]


async def stalled() -> AsyncIterator[bytes]:
    """The start of a body, and then nothing, ever."""
    yield JOB[:5]
    await asyncio.Event().wait()


@pytest.fixture
async def bounded(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a small limit and a short client timeout."""
    settings = Settings(database_url=database_url, max_body_bytes=LIMIT, client_timeout=0.2)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def job_count(client: httpx.AsyncClient) -> int:
    listing = (await client.get(JOBS)).json()
    return int(listing["pagination"]["total"])


def assert_refused(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["connection"] == "close"
    body: dict[str, Any] = response.json()
    assert set(body) == {"success", "error", "details"}
    assert body["success"] is False
    assert body["error"] == error
    return body


async def test_a_declared_length_over_the_limit_is_413_and_writes_nothing(
    bounded: httpx.AsyncClient,
) -> None:
    response = await bounded.post(JOBS, content=padded(LIMIT + 1), headers=JSON)
    body = assert_refused(response, 413, "Request body too large")
    assert body["details"] == f"Content-Length is {LIMIT + 1} bytes; the limit is {LIMIT} bytes"
    assert await job_count(bounded) == 0


async def test_a_chunked_body_over_the_limit_is_413_and_writes_nothing(
    bounded: httpx.AsyncClient,
) -> None:
    response = await bounded.post(JOBS, content=chunked(padded(LIMIT + 1)), headers=JSON)
    assert "content-length" not in response.request.headers
    body = assert_refused(response, 413, "Request body too large")
    assert body["details"] == f"the streamed body passed {LIMIT} bytes; the limit is {LIMIT} bytes"
    assert await job_count(bounded) == 0


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
async def test_a_body_at_the_limit_is_served(bounded: httpx.AsyncClient, stream: bool) -> None:
    body = padded(LIMIT)
    response = await bounded.post(JOBS, content=chunked(body) if stream else body, headers=JSON)
    assert response.status_code == 201, response.text
    created = response.json()["data"]
    assert (await bounded.get(f"{JOBS}/{created['id']}")).json()["data"]["domain"] == "example.com"
    assert await job_count(bounded) == 1


async def test_a_stalled_body_is_408_and_writes_nothing(bounded: httpx.AsyncClient) -> None:
    response = await bounded.post(JOBS, content=stalled(), headers=JSON)
    body = assert_refused(response, 408, "Request timeout")
    assert body["details"] == "no body bytes received for 0.2 seconds"
    assert await job_count(bounded) == 0


async def test_dashboard_form_posts_are_bounded_too(bounded: httpx.AsyncClient) -> None:
    form = {"domain": "example.com", "job_type": "page_scrape", "note": "x" * LIMIT}
    response = await bounded.post("/jobs/new", data=form)
    assert_refused(response, 413, "Request body too large")
    assert await job_count(bounded) == 0


async def test_requests_without_a_body_are_untouched(bounded: httpx.AsyncClient) -> None:
    assert (await bounded.get("/healthz")).status_code == 200
    assert (await bounded.delete(f"{JOBS}/3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f")).status_code == 404


async def test_the_default_limit_is_one_mebibyte(api: httpx.AsyncClient) -> None:
    mebibyte = 1024 * 1024
    assert Settings().max_body_bytes == mebibyte
    refused = await api.post(JOBS, content=padded(mebibyte + 1), headers=JSON)
    assert_refused(refused, 413, "Request body too large")
    assert (await api.post(JOBS, content=padded(mebibyte), headers=JSON)).status_code == 201
    assert await job_count(api) == 1
