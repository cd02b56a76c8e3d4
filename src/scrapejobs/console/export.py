"""``scrapejobs results``: a job's pages written as JSONL, JSON or CSV, one page at a time.

The server streams JSONL; CSV and the JSON array are made here as the pages
arrive, so an export of any size runs in constant memory. A file is written
under a ``.part`` name and renamed when complete: an interrupted export
never leaves a truncated file behind.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from scrapejobs.jobs import PAGE_FIELDS

__all__ = ["FORMATS", "destination", "write_csv", "write_json", "write_jsonl"]

Page = Mapping[str, Any]


def write_jsonl(pages: Iterable[Page], out: TextIO) -> int:
    count = 0
    for page in pages:
        out.write(json.dumps(page, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_json(pages: Iterable[Page], out: TextIO) -> int:
    """A JSON array, written as the pages come (nothing before the first page arrives)."""
    pages = iter(pages)
    first = next(pages, None)
    if first is None:
        out.write("[]\n")
        return 0
    out.write("[\n  " + json.dumps(first, ensure_ascii=False))
    count = 1
    for page in pages:
        out.write(",\n  " + json.dumps(page, ensure_ascii=False))
        count += 1
    out.write("\n]\n")
    return count


def write_csv(pages: Iterable[Page], out: TextIO) -> int:
    """One row per page; the API's page fields as columns, then any others the server added."""
    pages = iter(pages)
    first = next(pages, None)
    fields = list(PAGE_FIELDS)
    if first is not None:
        fields += [key for key in first if key not in PAGE_FIELDS]
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for page in _chain(first, pages) if first is not None else ():
        writer.writerow({key: _csv_value(value) for key, value in page.items()})
        count += 1
    return count


def _chain(first: Page, rest: Iterator[Page]) -> Iterator[Page]:
    yield first
    yield from rest


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


FORMATS: Mapping[str, Callable[[Iterable[Page], TextIO], int]] = {
    "jsonl": write_jsonl,
    "json": write_json,
    "csv": write_csv,
}


@contextmanager
def destination(path: Path | None) -> Iterator[TextIO]:
    """stdout, or ``path`` written whole or not at all."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
