"""The listing scenarios of ``tests/unit/test_job_listing.py`` on SQLite and PostgreSQL,
and ``GET /api/scrape-jobs?sort=&search=`` on both.

Sorting and searching happen in the database (``storage/ordering.py``,
``storage/filters.py``): they must give what the in-memory store gives.
"""

from __future__ import annotations

import httpx
import pytest

from tests.unit.test_job_listing import *  # noqa: F403

JOBS = "/api/scrape-jobs"


async def _create(api: httpx.AsyncClient, domain: str, **fields: object) -> str:
    response = await api.post(JOBS, json={"domain": domain, **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def test_the_list_api_sorts_and_searches(api: httpx.AsyncClient) -> None:
    low = await _create(api, "b.example", priority=2, config={"startUrl": "https://b.example/Shop"})
    high = await _create(api, "a.example", priority=9)
    response = await api.get(JOBS, params={"sort": "-priority"})
    assert [job["id"] for job in response.json()["data"]] == [high, low]
    response = await api.get(JOBS, params={"sort": "domain", "limit": 1, "offset": 1})
    body = response.json()
    assert [job["id"] for job in body["data"]] == [low]
    assert body["pagination"] == {"total": 2, "limit": 1, "offset": 1}
    for search, expected in [
        ("SHOP", [low]),
        (high[:8], [high]),
        (high, [high]),
        ("  ", [high, low]),
    ]:
        response = await api.get(JOBS, params={"search": search, "sort": "-priority"})
        assert [job["id"] for job in response.json()["data"]] == expected, search
    response = await api.get(JOBS, params={"search": "shop"})
    assert response.json()["pagination"]["total"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "nope"}, "query.sort"),
        ({"sort": "-created_at"}, "query.sort"),
        ({"sort": "x" * 41}, "query.sort"),
        ({"search": "x" * 501}, "query.search"),
        ({"search": "a\u0000b"}, "query.search"),
    ],
)
async def test_a_bad_sort_or_search_is_a_400_in_the_envelope(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await api.get(JOBS, params=params)
    assert response.status_code == 400
    body = response.json()
    assert (body["success"], body["error"]) == (False, "Invalid request")
    assert [detail["field"] for detail in body["details"]] == [field]
    if params.get("sort") == "nope":
        assert body["details"][0]["message"] == (
            "Unknown sort 'nope': sort by one of created, updated, priority, retries, "
            "domain, status; a leading - sorts descending"
        )
