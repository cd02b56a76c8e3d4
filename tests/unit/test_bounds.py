"""``BoundedRequests`` as a bare ASGI middleware, and the settings that configure it."""

from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from scrapejobs.settings import Settings
from scrapejobs.web.bounds import BoundedRequests


def http_scope(*headers: tuple[bytes, bytes], method: str = "POST") -> Scope:
    return {"type": "http", "method": method, "path": "/api/scrape-jobs", "headers": list(headers)}


def messages(*queued: Message) -> Receive:
    pending = list(queued)

    async def receive() -> Message:
        return pending.pop(0)

    return receive


class App:
    """An ASGI app that records what it was given and reads its whole body."""

    def __init__(self) -> None:
        self.calls = 0
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        message = await receive()
        self.body = message.get("body", b"")


async def no_send(message: Message) -> None:
    raise AssertionError(f"nothing should be sent, got {message}")


async def test_a_client_gone_mid_body_reaches_no_route_and_gets_no_answer() -> None:
    app = App()
    bounded = BoundedRequests(app, max_body_bytes=100, client_timeout=1)
    receive = messages(
        {"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}
    )
    await bounded(http_scope((b"transfer-encoding", b"chunked")), receive, no_send)
    assert app.calls == 0


async def test_a_body_in_many_chunks_reaches_the_route_as_one() -> None:
    app = App()
    bounded = BoundedRequests(app, max_body_bytes=4, client_timeout=1)
    receive = messages(
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    )
    await bounded(http_scope((b"content-length", b"4")), receive, no_send)
    assert (app.calls, app.body) == (1, b"abcd")


async def test_a_request_without_a_body_gets_the_servers_receive() -> None:
    app = App()
    bounded = BoundedRequests(app, max_body_bytes=0, client_timeout=1)
    receive = messages({"type": "http.request", "body": b"", "more_body": False})
    await bounded(http_scope(method="GET"), receive, no_send)
    assert app.calls == 1


@pytest.mark.parametrize(
    "fields", [{"max_body_bytes": -1}, {"client_timeout": 0}, {"client_timeout": 3601}]
)
def test_settings_refuse_bounds_out_of_range(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="max body bytes"):
        Settings(**fields)  # type: ignore[arg-type]
