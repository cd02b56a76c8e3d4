"""Taking turns to write one SQLite file (``storage/writers.py``), with real ``flock``s.

Two :class:`SqliteWriters` on one path stand for two processes: ``flock``
locks belong to an open file, and each opens its own.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from scrapejobs.storage.writers import SqliteWriters


async def test_a_second_process_waits_for_the_first_and_then_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    first, second = SqliteWriters(path), SqliteWriters(path)
    order: list[str] = []
    async with first:
        waiting = asyncio.create_task(_write(second, order, "second"))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # blocked on the file, not on its own process
        order.append("first")
    await waiting
    assert order == ["first", "second"]
    assert (tmp_path / "db.sqlite.lock").exists()
    first.close()
    second.close()


async def test_writers_of_one_process_take_turns(tmp_path: Path) -> None:
    writers = SqliteWriters(str(tmp_path / "db.sqlite"))
    inside = 0
    most = 0

    async def write() -> None:
        nonlocal inside, most
        async with writers:
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    await asyncio.gather(*(write() for _ in range(20)))
    assert most == 1
    writers.close()


async def test_a_writer_cancelled_while_waiting_leaves_the_file_free(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    first, second, third = SqliteWriters(path), SqliteWriters(path), SqliteWriters(path)
    async with first:
        waiting = asyncio.create_task(_write(second, [], "second"))
        await asyncio.sleep(0.05)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
    # The cancelled writer's thread got the lock when the first let go, and let go of it.
    order: list[str] = []
    await asyncio.wait_for(_write(third, order, "third"), timeout=10)
    await asyncio.wait_for(_write(second, order, "second again"), timeout=10)
    assert order == ["third", "second again"]
    for writers in (first, second, third):
        writers.close()


async def test_in_memory_databases_need_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    writers = SqliteWriters(":memory:")
    async with writers:
        pass
    writers.close()
    assert os.listdir(tmp_path) == []


async def _write(writers: SqliteWriters, order: list[str], name: str) -> None:
    async with writers:
        order.append(name)
