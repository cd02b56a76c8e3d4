"""What every operator command shares: ``--server``, ``--json``, exit codes, error output.

Exit codes (docs/cli.md): 0 success; 1 the request or the job failed (the
server's error is printed as it said it, with its details); 2 a usage error
(click's own code for bad options); 3 the server could not be reached.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from scrapejobs.client import (
    API_KEY_ENV,
    DEFAULT_SERVER,
    SERVER_ENV,
    Client,
    ClientError,
    ServerUnavailableError,
)

__all__ = [
    "DEFAULT_SERVER",
    "EXIT_FAILED",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "PANEL",
    "ApiKey",
    "AsJson",
    "Server",
    "connected",
    "detail_lines",
    "fail",
    "print_json",
    "say",
    "stdout",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

PANEL = "Operate a running server"

Server = Annotated[
    str,
    typer.Option(
        "--server",
        envvar=SERVER_ENV,
        help="The scrapejobs server's base URL.",
        rich_help_panel="Server",
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar=API_KEY_ENV,
        help="An API key's token, once the server has keys (scrapejobs keys create).",
        rich_help_panel="Server",
        show_default=False,
    ),
]
AsJson = Annotated[
    bool,
    typer.Option(
        "--json", help="Print the API's data as JSON, for scripts.", rich_help_panel="Server"
    ),
]


@contextmanager
def connected(server: str, api_key: str | None = None) -> Iterator[Client]:
    """A client for ``server``; what the server refuses, and its absence, become exit codes."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # cli.main logs INFO for serve
    try:
        client = Client(server, api_key=api_key)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--server") from exc
    try:
        with client:
            yield client
    except ServerUnavailableError as exc:
        fail(exc.message, code=EXIT_UNREACHABLE)
    except ClientError as exc:
        fail(exc.message, exc.details)


def fail(message: str, details: Any = None, *, code: int = EXIT_FAILED) -> NoReturn:
    """``error: <message>`` and the details on stderr, then exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    for line in detail_lines(details):
        typer.echo(f"  {line}", err=True)
    raise typer.Exit(code)


def detail_lines(details: Any) -> list[str]:
    """The server's ``details`` as lines: ``key: value``, or ``field: message``."""
    if details is None:
        return []
    if isinstance(details, dict):
        return [f"{key}: {_scalar(value)}" for key, value in details.items()]
    if isinstance(details, list):
        return [_detail_item(item) for item in details]
    return [str(details)]


def _detail_item(item: Any) -> str:
    if isinstance(item, dict) and {"field", "message"} <= item.keys():
        return f"{item['field']}: {item['message']}"
    return _scalar(item)


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def stdout() -> Console:
    """Rich output for people (plain text when stdout is not a terminal)."""
    return Console(highlight=False)


def say(console: Console, line: str) -> None:
    """A line of plain text: never parsed as markup, never wrapped."""
    console.print(line, markup=False, soft_wrap=True)
