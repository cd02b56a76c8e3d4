"""Bad input over HTTP, on real databases: always a 400/404/405/409 envelope, never a write.

CONTRACT sections 4, 6 and 8: "No request body, query or path can produce a
500 or a partial write." Each table below sends one kind of bad input; every
test then reads the jobs back and checks that nothing changed. A response
hook on the client checks that *every* response in this file, the reads
included, is JSON in the seed's envelope and never a 5xx.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

JOBS = "/api/scrape-jobs"
MISSING_ID = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"  # a well-formed UUID no job has
VALIDATION_ERRORS = {"Invalid request", "Invalid JSON body"}
SUCCESS_KEYS = {"success", "data", "message", "pagination"}
FAILURE_KEYS = {"success", "error", "details"}

Request = dict[str, Any]  # keyword arguments of httpx.AsyncClient.request


# -- the envelope, checked on every response -----------------------------------


async def _check_envelope(response: httpx.Response) -> None:
    await response.aread()
    request = f"{response.request.method} {response.request.url}"
    assert response.status_code < 500, f"{request} -> {response.status_code} {response.text}"
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"{request} -> {content_type}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("success"), bool), (request, body)
    if body["success"]:
        assert 200 <= response.status_code < 300, (request, response.status_code, body)
        assert "data" in body and set(body) <= SUCCESS_KEYS, (request, body)
    else:
        assert response.status_code >= 400, (request, response.status_code, body)
        assert isinstance(body.get("error"), str) and body["error"], (request, body)
        assert set(body) <= FAILURE_KEYS, (request, body)


@pytest.fixture(autouse=True)
def _every_response_is_an_envelope(api: httpx.AsyncClient) -> None:
    api.event_hooks["response"].append(_check_envelope)


def refused(response: httpx.Response, status: int, error: str | None = None) -> dict[str, Any]:
    """The response is a failure envelope with this status (and error); returns the body."""
    body: dict[str, Any] = response.json()
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where} -> {response.status_code} {body}"
    assert body["success"] is False, (where, body)
    if error is not None:
        assert body["error"] == error, (where, body)
    return body


def invalid(response: httpx.Response, field: str | None = None) -> dict[str, Any]:
    """A validation 400 with details; ``field`` must be among the fields the details name."""
    body = refused(response, 400)
    assert body["error"] in VALIDATION_ERRORS, body
    assert body.get("details"), body
    if field is not None:
        fields = [str(item.get("field")) for item in body["details"]]
        assert any(field in name for name in fields), (field, body)
    return body


# -- building requests and jobs ----------------------------------------------


def create_body(**fields: Any) -> Request:
    """A create request that is valid except for ``fields``."""
    return {"json": {"domain": "a.com", **fields}}


def raw(content: str | bytes, content_type: str = "application/json") -> Request:
    """A body sent byte for byte, for what ``json=`` cannot say (NaN, bad JSON, bad UTF-8)."""
    data = content.encode() if isinstance(content, str) else content
    return {"content": data, "headers": {"content-type": content_type}}


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"k": value}
    return value


async def total_jobs(api: httpx.AsyncClient) -> int:
    response = await api.get(JOBS)
    assert response.status_code == 200, response.text
    total: int = response.json()["pagination"]["total"]
    return total


async def create(api: httpx.AsyncClient, **fields: Any) -> str:
    response = await api.post(JOBS, json={"domain": "example.com", **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def claim(api: httpx.AsyncClient, job_id: str, worker: str = "w1") -> str:
    """Claim the job as ``worker``; its lease token."""
    response = await api.post(f"{JOBS}/next", json={"workerId": worker})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == job_id
    token: str = response.json()["data"]["leaseToken"]
    return token


async def running(api: httpx.AsyncClient, **fields: Any) -> tuple[str, str]:
    """A job claimed by worker w1, and its lease token."""
    job_id = await create(api, **fields)
    return job_id, await claim(api, job_id)


async def completed(api: httpx.AsyncClient) -> str:
    job_id, token = await running(api)
    report = {"status": "completed", "workerId": "w1", "leaseToken": token}
    response = await api.patch(f"{JOBS}/{job_id}", json=report)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "completed"
    return job_id


async def failed(api: httpx.AsyncClient) -> str:
    """A job whose attempt failed and stays failed (autoRetry off)."""
    job_id, token = await running(api, config={"autoRetry": False})
    report = {"status": "failed", "error_message": "Request timeout", "leaseToken": token}
    response = await api.patch(f"{JOBS}/{job_id}", json=report)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "failed"
    return job_id


async def cancelled(api: httpx.AsyncClient) -> str:
    job_id = await create(api)
    response = await api.patch(f"{JOBS}/{job_id}", json={"status": "cancelled"})
    assert response.status_code == 200, response.text
    return job_id


async def snapshot(api: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """The job as GET shows it, attempts included: the whole of it, to compare."""
    response = await api.get(f"{JOBS}/{job_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


# -- POST /api/scrape-jobs ---------------------------------------------------

BAD_CREATES = [
    # domain
    pytest.param({"json": {"priority": 5}}, "domain", id="domain-missing"),
    pytest.param(create_body(domain=""), "domain", id="domain-empty"),
    pytest.param(create_body(domain="   "), "domain", id="domain-whitespace"),
    pytest.param(create_body(domain="example.com/path"), "domain", id="domain-with-path"),
    pytest.param(create_body(domain="example.com?q=1"), "domain", id="domain-with-query"),
    pytest.param(create_body(domain="ftp://example.com"), "domain", id="domain-ftp-origin"),
    pytest.param(create_body(domain="example.com:0"), "domain", id="domain-port-0"),
    pytest.param(create_body(domain="example.com:70000"), "domain", id="domain-port-70000"),
    pytest.param(create_body(domain="a b.com"), "domain", id="domain-inner-space"),
    pytest.param(create_body(domain="a\u0000.com"), "domain", id="domain-nul"),
    pytest.param(create_body(domain=5), "domain", id="domain-int"),
    pytest.param(create_body(domain=None), "domain", id="domain-null"),
    pytest.param(create_body(domain="a" * 400 + ".com"), "domain", id="domain-too-long"),
    # priority, max_retries
    pytest.param(create_body(priority=0), "priority", id="priority-0"),
    pytest.param(create_body(priority=11), "priority", id="priority-11"),
    pytest.param(create_body(priority="5"), "priority", id="priority-string"),
    pytest.param(create_body(priority=5.5), "priority", id="priority-float"),
    pytest.param(create_body(priority=5.000001), "priority", id="priority-5.000001"),
    pytest.param(create_body(priority=True), "priority", id="priority-bool"),
    pytest.param(create_body(priority=None), "priority", id="priority-null"),
    pytest.param(
        raw('{"domain":"a.com","priority":' + "9" * 5000 + "}"), None, id="priority-5000-digits"
    ),
    pytest.param(create_body(max_retries=-1), "max_retries", id="max_retries-minus-1"),
    pytest.param(create_body(max_retries=11), "max_retries", id="max_retries-11"),
    pytest.param(create_body(max_retries="3"), "max_retries", id="max_retries-string"),
    # config
    pytest.param(create_body(config={"depth": -1}), "config.depth", id="depth-minus-1"),
    pytest.param(create_body(config={"depth": 21}), "config.depth", id="depth-21"),
    pytest.param(create_body(config={"maxPages": 0}), "config.maxPages", id="maxPages-0"),
    pytest.param(
        create_body(config={"maxPages": 100_001}), "config.maxPages", id="maxPages-100001"
    ),
    pytest.param(create_body(config={"timeout": 99}), "config.timeout", id="timeout-99"),
    pytest.param(create_body(config={"timeout": 120_001}), "config.timeout", id="timeout-120001"),
    pytest.param(
        create_body(config={"respectRobots": "yes"}),
        "config.respectRobots",
        id="respectRobots-string",
    ),
    pytest.param(create_body(config={"depthh": 3}), "config.depthh", id="config-unknown-key"),
    pytest.param(create_body(config="deep"), "config", id="config-string"),
    pytest.param(
        create_body(config={"userAgent": "bot\r\nX-Injected: 1"}),
        "config.userAgent",
        id="userAgent-with-CRLF",
    ),
    pytest.param(
        create_body(config={"startUrl": "javascript:alert(1)"}),
        "config.startUrl",
        id="startUrl-javascript",
    ),
    pytest.param(
        create_body(config={"startUrl": "/relative"}), "config.startUrl", id="startUrl-relative"
    ),
    pytest.param(  # urlsplit cannot read it: the job's site was a 500 (schemathesis)
        create_body(config={"startUrl": "https://X0}'`L]P4%"}),
        "config.startUrl",
        id="startUrl-unpaired-bracket",
    ),
    # top level
    pytest.param(create_body(owner="me"), "owner", id="unknown-top-level-key"),
    pytest.param(create_body(job_type="bogus"), "job_type", id="job_type-bogus"),
    # metadata
    pytest.param(create_body(metadata=[1, 2]), "metadata", id="metadata-list"),
    pytest.param(create_body(metadata="x"), "metadata", id="metadata-string"),
    pytest.param(create_body(metadata={"x": "a\u0000b"}), "metadata", id="metadata-nul-value"),
    pytest.param(create_body(metadata={"a\u0000b": 1}), "metadata", id="metadata-nul-key"),
    pytest.param(
        raw(r'{"domain":"a.com","metadata":{"x":"\ud800"}}'),
        "metadata",
        id="metadata-lone-surrogate-escape",
    ),
    pytest.param(
        raw(b'{"domain":"a.com","metadata":{"x":"\xed\xa0\x80"}}'),
        None,
        id="metadata-lone-surrogate-utf8-bytes",
    ),
    pytest.param(raw(b'{"domain":"a.com","metadata":{"x":"\xff"}}'), None, id="body-invalid-utf8"),
    pytest.param(create_body(metadata=nested(50)), "metadata", id="metadata-50-deep"),
    pytest.param(
        create_body(metadata={"x": "a" * (65 * 1024)}), "metadata", id="metadata-over-64KiB"
    ),
    pytest.param(raw('{"domain":"a.com","metadata":{"x":NaN}}'), "metadata", id="metadata-NaN"),
    pytest.param(
        raw('{"domain":"a.com","metadata":{"x":-Infinity}}'), "metadata", id="metadata-Infinity"
    ),
    pytest.param(create_body(metadata={"x": 10**29}), "metadata", id="metadata-30-digit-int"),
    pytest.param(raw('{"domain":"a.com","metadata":{"x":1e400}}'), "metadata", id="metadata-1e400"),
    pytest.param(
        raw('{"domain":"a.com","metadata":' + "[" * 100_000 + "]" * 100_000 + "}"),
        None,
        id="metadata-100000-deep-raw",
    ),
    # the body itself
    pytest.param({"json": [{"domain": "a.com"}]}, "body", id="body-json-list"),
    pytest.param({"json": "a.com"}, "body", id="body-json-string"),
    pytest.param(raw("null"), "body", id="body-null"),
    pytest.param(raw("{bad"), "body", id="body-invalid-json"),
    pytest.param(raw('{"domain":"a.com"'), "body", id="body-truncated-json"),
    pytest.param(raw(""), "body", id="body-empty"),
]
# A body that is not typed as JSON is a 415 before validation (test_api_access.py).


@pytest.mark.parametrize(("request_kwargs", "field"), BAD_CREATES)
async def test_bad_create_is_a_400_and_writes_nothing(
    api: httpx.AsyncClient, request_kwargs: Request, field: str | None
) -> None:
    response = await api.post(JOBS, **request_kwargs)
    invalid(response, field)
    assert await total_jobs(api) == 0


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("k" * 300, id="300-chars"),
        pytest.param("has space", id="with-space"),
        pytest.param("tab\there", id="with-tab"),
    ],
)
async def test_bad_idempotency_key_is_a_400_and_writes_nothing(
    api: httpx.AsyncClient, key: str
) -> None:
    response = await api.post(JOBS, json={"domain": "a.com"}, headers={"Idempotency-Key": key})
    invalid(response, "Idempotency-Key")
    assert await total_jobs(api) == 0


# -- GET /api/scrape-jobs ----------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"status": "bogus"}, "status", id="status-bogus"),
        pytest.param({"job_type": "bogus"}, "job_type", id="job_type-bogus"),
        pytest.param({"failure_pattern": "bogus"}, "failure_pattern", id="failure_pattern-bogus"),
        pytest.param({"limit": "0"}, "limit", id="limit-0"),
        pytest.param({"limit": "201"}, "limit", id="limit-201"),
        pytest.param({"limit": "abc"}, "limit", id="limit-abc"),
        pytest.param({"limit": "-1"}, "limit", id="limit-minus-1"),
        pytest.param({"limit": "1.5"}, "limit", id="limit-float"),
        pytest.param({"offset": "-1"}, "offset", id="offset-minus-1"),
        pytest.param({"offset": "abc"}, "offset", id="offset-abc"),
        pytest.param({"offset": str(10**12)}, "offset", id="offset-10e12"),
        pytest.param({"offset": "9" * 40}, "offset", id="offset-40-digits"),
        pytest.param({"domain": "example.com/path"}, "domain", id="domain-with-path"),
        pytest.param({"domain": "ftp://example.com"}, "domain", id="domain-ftp"),
        pytest.param({"domain": "a\u0000.com"}, "domain", id="domain-nul"),
        pytest.param({"colour": "red"}, "colour", id="unknown-parameter"),
    ],
)
async def test_bad_list_query_is_a_400(
    api: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    await create(api)
    response = await api.get(JOBS, params=params)
    invalid(response, field)


# -- ids that name no job ----------------------------------------------------

BAD_IDS = [
    pytest.param("nope", id="word"),
    pytest.param("123", id="number"),
    pytest.param(MISSING_ID, id="unknown-uuid"),
    pytest.param(MISSING_ID.replace("-", ""), id="uuid-without-dashes"),
    pytest.param("x" * 500, id="500-chars"),
    pytest.param("%00", id="percent-00"),
    pytest.param("%FF", id="percent-FF"),
    # 36 characters that uuid.UUID() accepts (it drops dashes, int() takes underscores)
    pytest.param("3f1c2d4e_5a6b_4c7d_8e9f_0a1b2c3d----", id="uuid-lookalike"),
]

ID_ROUTES = [
    pytest.param("GET", "", None, id="get"),
    pytest.param("PATCH", "", {"priority": 3}, id="patch"),
    pytest.param("DELETE", "", None, id="delete"),
    pytest.param("POST", "/retry", None, id="retry"),
    pytest.param("POST", "/heartbeat", {"workerId": "w1"}, id="heartbeat"),
]


@pytest.mark.parametrize("job_id", BAD_IDS)
@pytest.mark.parametrize(("method", "suffix", "body"), ID_ROUTES)
async def test_unknown_id_is_a_404(
    api: httpx.AsyncClient, method: str, suffix: str, body: Any, job_id: str
) -> None:
    bystander = await failed(api)
    before = await snapshot(api, bystander)
    response = await api.request(method, f"{JOBS}/{job_id}{suffix}", json=body)
    assert refused(response, 404, "Job not found") == {"success": False, "error": "Job not found"}
    assert await snapshot(api, bystander) == before
    assert await total_jobs(api) == 1


@pytest.mark.parametrize("job_id", ["nope", MISSING_ID])
@pytest.mark.parametrize(
    ("suffix", "body", "field"),
    [
        pytest.param("", {"priority": 11}, "priority", id="patch"),
        pytest.param("/heartbeat", {"leaseToken": ""}, "leaseToken", id="heartbeat"),
        pytest.param("/retry", {"delaySeconds": -1}, "delaySeconds", id="retry"),
    ],
)
async def test_invalid_body_is_a_400_before_the_id_is_looked_up(
    api: httpx.AsyncClient, suffix: str, body: dict[str, Any], field: str, job_id: str
) -> None:
    method = "PATCH" if suffix == "" else "POST"
    response = await api.request(method, f"{JOBS}/{job_id}{suffix}", json=body)
    invalid(response, field)


# -- PATCH on a pending job --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "body", id="nothing-to-update"),
        pytest.param({"priority": 11}, "priority", id="priority-11"),
        pytest.param({"priority": 0}, "priority", id="priority-0"),
        pytest.param({"priority": "5"}, "priority", id="priority-string"),
        pytest.param({"max_retries": 11}, "max_retries", id="max_retries-11"),
        pytest.param({"status": "bogus"}, "status", id="status-bogus"),
        pytest.param({"error_message": "boom"}, "body", id="error_message-without-status"),
        pytest.param(
            {"workerId": "w1", "status": "cancelled"}, "body", id="workerId-with-cancelled"
        ),
        pytest.param({"httpStatus": 99}, "httpStatus", id="httpStatus-99"),
        pytest.param({"httpStatus": 600}, "httpStatus", id="httpStatus-600"),
        pytest.param({"retryAfter": -1}, "retryAfter", id="retryAfter-minus-1"),
        pytest.param({"errorType": "bogus"}, "errorType", id="errorType-bogus"),
        pytest.param({"config": {"depth": 99}}, "config.depth", id="config-depth-99"),
        pytest.param({"config": {"depthh": 1}}, "config.depthh", id="config-unknown-key"),
        pytest.param({"metadata": {"x": "a\u0000"}}, "metadata", id="metadata-nul"),
        pytest.param({"metadata": [1]}, "metadata", id="metadata-list"),
        pytest.param({"owner": "me"}, "owner", id="unknown-field"),
        pytest.param(
            {"priority": 9, "config": {"depth": 99}}, "config.depth", id="valid-plus-invalid"
        ),
        pytest.param(
            {"priority": 9, "metadata": {"x": 1}, "status": "bogus"},
            "status",
            id="two-valid-plus-invalid-status",
        ),
    ],
)
async def test_invalid_patch_is_a_400_and_changes_nothing(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    job_id = await create(api)
    before = await snapshot(api, job_id)
    response = await api.patch(f"{JOBS}/{job_id}", json=body)
    invalid(response, field)
    assert await snapshot(api, job_id) == before


async def test_patch_cannot_grow_metadata_past_the_limit(api: httpx.AsyncClient) -> None:
    """Each body is under 64 KiB, but the job's metadata would not be: a 400, no write."""
    job_id = await create(api, metadata={"a": "x" * 40_000})
    before = await snapshot(api, job_id)
    response = await api.patch(f"{JOBS}/{job_id}", json={"metadata": {"b": "y" * 40_000}})
    invalid(response, "metadata")
    assert await snapshot(api, job_id) == before


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({"json": [{"priority": 3}]}, id="json-list"),
        pytest.param({"json": None}, id="no-body"),
        pytest.param(raw("null"), id="json-null"),
        pytest.param(raw("{bad"), id="invalid-json"),
        pytest.param(raw('{"priority": NaN}'), id="NaN"),
    ],
)
async def test_unparseable_patch_is_a_400_and_changes_nothing(
    api: httpx.AsyncClient, request_kwargs: Request
) -> None:
    job_id = await create(api)
    before = await snapshot(api, job_id)
    response = await api.patch(f"{JOBS}/{job_id}", **request_kwargs)
    invalid(response)
    assert await snapshot(api, job_id) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"status": "running"}, id="running"),
        pytest.param({"status": "pending"}, id="pending"),
        pytest.param({"status": "running", "priority": 9}, id="running-plus-priority"),
        pytest.param({"status": "pending", "config": {"depth": 5}}, id="pending-plus-config"),
    ],
)
async def test_status_a_request_may_not_set_is_a_400_and_changes_nothing(
    api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    job_id = await create(api)
    before = await snapshot(api, job_id)
    response = await api.patch(f"{JOBS}/{job_id}", json=body)
    refused(response, 400, f"status cannot be set to '{body['status']}'")
    assert await snapshot(api, job_id) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"status": "completed"}, id="completed"),
        pytest.param({"status": "failed", "error_message": "boom"}, id="failed"),
        pytest.param({"status": "completed", "priority": 9}, id="completed-plus-priority"),
        pytest.param(
            {"status": "failed", "metadata": {"x": 1}, "config": {"depth": 1}},
            id="failed-plus-edits",
        ),
    ],
)
async def test_report_on_a_pending_job_is_an_illegal_transition(
    api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    job_id = await create(api)
    before = await snapshot(api, job_id)
    response = await api.patch(f"{JOBS}/{job_id}", json=body)
    payload = refused(response, 400, f"Job cannot go from 'pending' to '{body['status']}'")
    assert payload["details"] == {"currentStatus": "pending", "requestedStatus": body["status"]}
    assert await snapshot(api, job_id) == before


# -- PATCH reports on a running job --------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"status": "failed", "httpStatus": 99}, "httpStatus", id="httpStatus-99"),
        pytest.param({"status": "failed", "httpStatus": 600}, "httpStatus", id="httpStatus-600"),
        pytest.param(
            {"status": "failed", "httpStatus": "503"}, "httpStatus", id="httpStatus-string"
        ),
        pytest.param({"status": "failed", "retryAfter": -1}, "retryAfter", id="retryAfter-minus-1"),
        pytest.param(
            {"status": "failed", "retryAfter": 86_401}, "retryAfter", id="retryAfter-too-big"
        ),
        pytest.param({"status": "failed", "errorType": "bogus"}, "errorType", id="errorType"),
        pytest.param(
            {"status": "failed", "error_message": 5}, "error_message", id="error_message-int"
        ),
        pytest.param(
            {"status": "failed", "error_message": "a\u0000b"},
            "error_message",
            id="error_message-nul",
        ),
        pytest.param(
            {"status": "failed", "error_message": "x" * 10_001},
            "error_message",
            id="error_message-too-long",
        ),
        pytest.param({"status": "completed", "workerId": ""}, "workerId", id="workerId-empty"),
        pytest.param({"status": "completed", "workerId": 5}, "workerId", id="workerId-int"),
        pytest.param({"status": "completed", "leaseToken": 5}, "leaseToken", id="token-int"),
        pytest.param(
            {"status": "completed", "leaseToken": "a b"}, "leaseToken", id="token-with-space"
        ),
        pytest.param(
            {"status": "failed", "leaseToken": "x" * 65}, "leaseToken", id="token-too-long"
        ),
        pytest.param(
            {"status": "completed", "priority": 9, "config": {"timeout": 1}},
            "config.timeout",
            id="completed-plus-bad-config",
        ),
    ],
)
async def test_invalid_report_is_a_400_and_leaves_the_job_running(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    job_id, _ = await running(api)
    before = await snapshot(api, job_id)
    response = await api.patch(f"{JOBS}/{job_id}", json={"workerId": "w1", **body})
    invalid(response, field)
    after = await snapshot(api, job_id)
    assert after == before
    assert (after["status"], after["worker_id"]) == ("running", "w1")


# -- illegal transitions through the real flow ---------------------------------


@pytest.mark.parametrize(
    ("make", "state"),
    [
        pytest.param(completed, "completed", id="completed"),
        pytest.param(failed, "failed", id="failed"),
        pytest.param(cancelled, "cancelled", id="cancelled"),
    ],
)
async def test_cancelling_a_finished_job_is_a_400(
    api: httpx.AsyncClient, make: Any, state: str
) -> None:
    job_id = await make(api)
    before = await snapshot(api, job_id)
    response = await api.patch(f"{JOBS}/{job_id}", json={"status": "cancelled"})
    body = refused(response, 400, f"Job cannot go from '{state}' to 'cancelled'")
    assert body["details"] == {"currentStatus": state, "requestedStatus": "cancelled"}
    assert await snapshot(api, job_id) == before


async def test_second_completion_report_is_a_409(api: httpx.AsyncClient) -> None:
    job_id, token = await running(api)
    report = {"status": "completed", "workerId": "w1", "leaseToken": token}
    assert (await api.patch(f"{JOBS}/{job_id}", json=report)).status_code == 200
    before = await snapshot(api, job_id)
    response = await api.patch(f"{JOBS}/{job_id}", json=report)
    body = refused(response, 409, "Lease is no longer held")
    assert body["details"]["currentStatus"] == "completed"
    after = await snapshot(api, job_id)
    assert after == before
    assert after["status"] == "completed"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"status": "completed"}, id="completed"),
        pytest.param({"status": "failed", "error_message": "boom"}, id="failed"),
        pytest.param({"status": "completed", "priority": 9}, id="completed-plus-edit"),
    ],
)
async def test_report_from_another_worker_is_a_409_and_changes_nothing(
    api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    job_id, token = await running(api)
    before = await snapshot(api, job_id)
    for lease in ({"workerId": "w2", "leaseToken": token}, {"leaseToken": "not-the-token"}):
        response = await api.patch(f"{JOBS}/{job_id}", json={**lease, **body})
        details = refused(response, 409, "Lease is no longer held")["details"]
        assert (details["currentStatus"], details["workerId"]) == ("running", lease.get("workerId"))
    assert await snapshot(api, job_id) == before


async def test_report_without_the_lease_token_is_a_400_and_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    job_id, _ = await running(api)
    before = await snapshot(api, job_id)
    for body in ({"status": "completed"}, {"status": "failed", "workerId": "w1"}):
        response = await api.patch(f"{JOBS}/{job_id}", json=body)
        refused(response, 400, "leaseToken is required: the token the claim returned")
    assert await snapshot(api, job_id) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"workerId": ""}, "workerId", id="workerId-empty"),
        pytest.param({"leaseToken": "a/b"}, "leaseToken", id="token-with-slash"),
        pytest.param({"workerId": 1}, "workerId", id="workerId-int"),
        pytest.param({"workerId": "w1", "leaseSeconds": 0}, "leaseSeconds", id="lease-0"),
        pytest.param({"workerId": "w1", "leaseSeconds": 3601}, "leaseSeconds", id="lease-3601"),
        pytest.param({"workerId": "w1", "leaseSeconds": 1.5}, "leaseSeconds", id="lease-float"),
        pytest.param({"workerId": "w1", "x": 1}, "x", id="unknown-field"),
    ],
)
async def test_bad_heartbeat_is_a_400_and_leaves_the_lease_alone(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    job_id, _ = await running(api)
    before = await snapshot(api, job_id)
    response = await api.post(f"{JOBS}/{job_id}/heartbeat", json=body)
    invalid(response, field)
    assert await snapshot(api, job_id) == before


async def test_heartbeat_without_the_lease_is_a_409(api: httpx.AsyncClient) -> None:
    running_id, token = await running(api)
    pending_id = await create(api)
    before = [await snapshot(api, running_id), await snapshot(api, pending_id)]
    for body in ({"workerId": "w2", "leaseToken": token}, {"leaseToken": "stale"}):
        other = await api.post(f"{JOBS}/{running_id}/heartbeat", json=body)
        refused(other, 409, "Lease is no longer held")
    not_running = await api.post(f"{JOBS}/{pending_id}/heartbeat", json={"leaseToken": token})
    refused(not_running, 409, "Lease is no longer held")
    missing = await api.post(f"{JOBS}/{running_id}/heartbeat", json={"workerId": "w1"})
    refused(missing, 400, "leaseToken is required: the token the claim returned")
    assert [await snapshot(api, running_id), await snapshot(api, pending_id)] == before


async def test_deleting_a_running_job_is_a_409(api: httpx.AsyncClient) -> None:
    job_id, _ = await running(api)
    before = await snapshot(api, job_id)
    response = await api.delete(f"{JOBS}/{job_id}")
    refused(response, 409, "Job is currently running")
    assert await snapshot(api, job_id) == before
    assert await total_jobs(api) == 1


# -- worker claims and retries -------------------------------------------------


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        pytest.param({"json": {"workerId": ""}}, "workerId", id="workerId-empty"),
        pytest.param({"json": {"workerId": 5}}, "workerId", id="workerId-int"),
        pytest.param({"json": {"workerId": "w" * 201}}, "workerId", id="workerId-201-chars"),
        pytest.param({"json": {"workerId": "w\u00001"}}, "workerId", id="workerId-nul"),
        pytest.param({"json": {"leaseSeconds": 0}}, "leaseSeconds", id="leaseSeconds-0"),
        pytest.param({"json": {"leaseSeconds": 3601}}, "leaseSeconds", id="leaseSeconds-3601"),
        pytest.param({"json": {"leaseSeconds": "60"}}, "leaseSeconds", id="leaseSeconds-string"),
        pytest.param({"json": {"workerId": "w1", "x": 1}}, "x", id="unknown-field"),
        pytest.param({"json": ["w1"]}, "body", id="json-list"),
        pytest.param(raw("{bad"), "body", id="invalid-json"),
    ],
)
async def test_bad_claim_is_a_400_and_claims_nothing(
    api: httpx.AsyncClient, request_kwargs: Request, field: str
) -> None:
    job_id = await create(api)
    before = await snapshot(api, job_id)
    response = await api.post(f"{JOBS}/next", **request_kwargs)
    invalid(response, field)
    after = await snapshot(api, job_id)
    assert after == before
    assert (after["status"], after["worker_id"]) == ("pending", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({}, "body", id="no-filter"),
        pytest.param({"limit": 5}, "body", id="only-limit"),
        pytest.param({"domain": "example.com", "limit": 0}, "limit", id="limit-0"),
        pytest.param({"domain": "example.com", "limit": 1001}, "limit", id="limit-1001"),
        pytest.param({"failurePattern": "bogus"}, "failurePattern", id="failurePattern-bogus"),
        pytest.param({"ids": "abc"}, "ids", id="ids-string"),
        pytest.param({"ids": [1, 2]}, "ids", id="ids-ints"),
        pytest.param({"ids": ["a\u0000b"]}, "ids", id="ids-nul"),
        pytest.param({"ids": ["x" * 65]}, "ids", id="ids-65-chars"),
        pytest.param({"domain": "example.com/x"}, "domain", id="domain-with-path"),
        pytest.param({"errorContains": ""}, "errorContains", id="errorContains-empty"),
        pytest.param(
            {"domain": "example.com", "delaySeconds": -1}, "delaySeconds", id="delay-minus-1"
        ),
        pytest.param({"domain": "example.com", "x": 1}, "x", id="unknown-field"),
    ],
)
async def test_bad_bulk_retry_is_a_400_and_retries_nothing(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    job_id = await failed(api)
    before = await snapshot(api, job_id)
    response = await api.post(f"{JOBS}/retry", json=body)
    invalid(response, field)
    after = await snapshot(api, job_id)
    assert after == before
    assert (after["status"], after["retry_count"]) == ("failed", 0)


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        pytest.param({"json": {"delaySeconds": -1}}, "delaySeconds", id="delay-minus-1"),
        pytest.param({"json": {"delaySeconds": "x"}}, "delaySeconds", id="delay-string"),
        pytest.param(
            {"json": {"delaySeconds": 30 * 86_400 + 1}}, "delaySeconds", id="delay-over-30-days"
        ),
        pytest.param(raw('{"delaySeconds": NaN}'), "delaySeconds", id="delay-NaN"),
        pytest.param({"json": {"delay": 5}}, "delay", id="unknown-field"),
        pytest.param({"json": [5]}, "body", id="json-list"),
        pytest.param(raw("{bad"), "body", id="invalid-json"),
    ],
)
async def test_bad_retry_body_is_a_400_and_the_job_stays_failed(
    api: httpx.AsyncClient, request_kwargs: Request, field: str
) -> None:
    job_id = await failed(api)
    before = await snapshot(api, job_id)
    response = await api.post(f"{JOBS}/{job_id}/retry", **request_kwargs)
    invalid(response, field)
    after = await snapshot(api, job_id)
    assert after == before
    assert (after["status"], after["retry_count"]) == ("failed", 0)


# -- routes and methods ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/api/nope", id="api-nope"),
        pytest.param("GET", "/nope", id="root-nope"),
        pytest.param("POST", "/api/scrape-jobs/x/y/z", id="too-deep"),
        pytest.param("GET", f"{JOBS}/{MISSING_ID}/nope", id="unknown-sub-resource"),
        pytest.param("POST", "/api/scrape-job", id="singular"),
    ],
)
async def test_unknown_route_is_a_404(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path)
    assert refused(response, 404) == {"success": False, "error": "Not found"}


WRONG_METHODS = [
    pytest.param("PUT", f"{JOBS}/{MISSING_ID}", {"GET", "PATCH", "DELETE"}, id="put-job"),
    pytest.param("DELETE", JOBS, {"GET", "POST"}, id="delete-collection"),
    pytest.param("PATCH", JOBS, {"GET", "POST"}, id="patch-collection"),
    pytest.param("PUT", JOBS, {"GET", "POST"}, id="put-collection"),
    pytest.param("GET", f"{JOBS}/{MISSING_ID}/retry", {"POST"}, id="get-retry"),
    pytest.param("DELETE", f"{JOBS}/{MISSING_ID}/heartbeat", {"POST"}, id="delete-heartbeat"),
]


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
async def test_wrong_method_is_a_405(
    api: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    job_id = await create(api)
    before = await snapshot(api, job_id)
    response = await api.request(method, path, json={"priority": 1})
    assert refused(response, 405) == {"success": False, "error": "Method not allowed"}
    assert response.headers.get("allow"), response.headers
    assert await snapshot(api, job_id) == before


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
async def test_405_allow_header_names_every_method_of_the_resource(
    api: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    """RFC 9110 15.5.6: a 405 lists the target resource's supported methods in Allow."""
    response = await api.request(method, path)
    refused(response, 405, "Method not allowed")
    listed = {name.strip().upper() for name in response.headers.get("allow", "").split(",")}
    assert allowed <= listed, (method, path, response.headers.get("allow"))
    assert method not in listed
