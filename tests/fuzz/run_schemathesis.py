"""Schemathesis against a live ``scrapejobs serve``: the OpenAPI document must be exact.

Run by ``make fuzz`` (``.ci/run`` runs it after ``make test``)::

    .venv/bin/python -m tests.fuzz.run_schemathesis [--max-examples N] [--max-time S]

Two rounds, each on a fresh SQLite database in a temporary directory and a
``scrapejobs serve --workers 0`` on a free loopback port: one with no key (the
service open, as on a laptop), one with an admin key sent on every request.
Every operation of ``/openapi.json`` is tested; any 5xx, any status, content
type, header or body the document does not describe, and any wrong ``Allow``
fails the run (exit status 1). The budget bounds each round's time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.servers import scrapejobs, serve

CONFIG = Path(__file__).with_name("schemathesis.toml")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
    "allow_header_conformance",
    "positive_data_acceptance",
)


def schemathesis_command(base: str, args: argparse.Namespace, keyed: list[str]) -> list[str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        *(
            "--config-file",
            str(CONFIG),
            "run",
            f"{base}/openapi.json",
            "--checks",
            ",".join(args.checks),
        ),
        *("--max-examples", str(args.max_examples), "--max-time", str(args.max_time)),
        *("--workers", str(args.workers), "--seed", str(args.seed)),
        *("--phases", args.phases, "--request-timeout", "10", "--no-color"),
        *("--generation-database", "none", "--suppress-health-check", "all"),
    ]
    for header in keyed:
        command += ["--header", header]
    if not keyed:  # the first key made would turn authentication on for the rest of the round
        command += ["--exclude-name", "POST /api/keys"]
    return command


def admin_token(database_url: str) -> str:
    create = ("keys", "create", "fuzz", "--role", "admin", "--database-url", database_url)
    made = subprocess.run(
        scrapejobs(*create, "--json"),
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(made.stdout)["token"])


def run_round(name: str, workdir: Path, args: argparse.Namespace, keyed: bool) -> int:
    database_url = f"sqlite:///{workdir / name}.db"
    subprocess.run(scrapejobs("db", "upgrade", "--database-url", database_url), check=True)
    headers = [f"Authorization: Bearer {admin_token(database_url)}"] if keyed else []
    print(f"\n=== schemathesis, {name} ===", flush=True)
    started = time.monotonic()
    with serve(database_url, log=workdir / f"{name}.log") as base:
        # cwd: schemathesis writes its crash files (for st replay) to ./.schemathesis
        command = schemathesis_command(base, args, headers)
        result = subprocess.run(command, cwd=workdir, check=False)
    print(f"=== {name}: exit {result.returncode} in {time.monotonic() - started:.0f} s ===")
    return result.returncode


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=60, help="cases per operation")
    parser.add_argument("--max-time", type=int, default=100, help="seconds per round")
    parser.add_argument(
        "--workers", type=int, default=1, help="more trips CPython 3.11's ast.parse in threads"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("--checks", type=lambda text: text.split(","), default=list(CHECKS))
    parser.add_argument("--round", choices=("open", "keyed", "both"), default="both")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rounds = {"open": [False], "keyed": [True], "both": [False, True]}[args.round]
    with tempfile.TemporaryDirectory(prefix="scrapejobs-fuzz-") as tmp:
        codes = [
            run_round("keyed" if keyed else "open", Path(tmp), args, keyed) for keyed in rounds
        ]
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
