"""The OpenAPI document says every status a route answers (``web/openapi.py``), and
``Allow`` names exactly the methods a path has. ``make fuzz`` checks the same
against a live server with schemathesis; these are the structural facts, in seconds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scrapejobs.web.envelope import ERROR_SCHEMA

JOBS = "/api/scrape-jobs"
JOB_ID = "00000000-0000-4000-8000-000000000000"
ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.fixture
async def spec(api: httpx.AsyncClient) -> dict[str, Any]:
    document: dict[str, Any] = (await api.get("/openapi.json")).json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_documents_its_errors_in_the_envelope(spec: dict[str, Any]) -> None:
    assert spec["components"]["schemas"]["Error"] == ERROR_SCHEMA
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        assert "422" not in responses, where
        assert {"405", "500"} <= set(responses), where
        if path.startswith("/api/") or path == "/metrics":
            assert {"401", "403"} <= set(responses), where
            assert "WWW-Authenticate" in responses["401"]["headers"], where
        if operation.get("parameters") or "requestBody" in operation:
            assert "400" in responses, where
        if any(param["in"] == "path" for param in operation.get("parameters", ())):
            assert "404" in responses, where
        if "requestBody" in operation:
            assert {"408", "413", "415"} <= set(responses), where
        for status, response in responses.items():
            if status >= "400":
                assert response["content"]["application/json"]["schema"] == ERROR_REF, where


def test_successes_have_the_envelope_and_the_job(spec: dict[str, Any]) -> None:
    create = spec["paths"][JOBS]["post"]["responses"]
    assert {"200", "201", "409"} <= set(create)  # a repeated Idempotency-Key: 200, reused: 409
    created = create["201"]["content"]["application/json"]["schema"]
    assert created["properties"]["success"] == {"const": True}
    assert created["properties"]["data"] == {"$ref": "#/components/schemas/Job"}
    listed = spec["paths"][JOBS]["get"]["responses"]["200"]["content"]["application/json"]
    assert "pagination" in listed["schema"]["required"]
    for path, method in [(f"{JOBS}/{{job_id}}", "patch"), (f"{JOBS}/{{job_id}}", "delete")]:
        assert "409" in spec["paths"][path][method]["responses"], (method, path)
    assert "503" in spec["paths"]["/healthz"]["get"]["responses"]


def test_the_document_says_what_the_validators_take(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    domain = schemas["JobCreate"]["properties"]["domain"]
    assert domain["minLength"] == 1 and "pattern" in domain  # "" is refused, and says so
    claim = schemas["ClaimRequest"]["properties"]["leaseSeconds"]["anyOf"][0]
    assert claim == {"type": "integer", "minimum": 1, "maximum": 3600}


@pytest.mark.parametrize(
    "path", ["next", "retry", "stats", "activity", "prune", JOB_ID, f"{JOB_ID}/retry"]
)
async def test_allow_names_exactly_the_documented_methods(
    api: httpx.AsyncClient, spec: dict[str, Any], path: str
) -> None:
    template = f"{JOBS}/{path}".replace(JOB_ID, "{job_id}")
    documented = {method.upper() for method in spec["paths"][template]}
    for method in ("OPTIONS", "PUT", *({"GET", "POST", "DELETE"} - documented)):
        response = await api.request(method, f"{JOBS}/{path}")
        assert response.status_code == 405, (method, path, response.text)
        allowed = {name.strip() for name in response.headers["allow"].split(",")}
        assert allowed - {"HEAD"} == documented, (method, path, allowed)


async def test_integral_floats_are_integers(api: httpx.AsyncClient) -> None:
    """JSON Schema's integer takes 1.0, and so does the API; 1.5 is still a 400."""
    claimed = await api.post(f"{JOBS}/next", json={"leaseSeconds": 1.0})
    assert claimed.status_code == 200, claimed.text
    refused = await api.post(f"{JOBS}/next", json={"leaseSeconds": 1.5})
    assert refused.status_code == 400, refused.text
