"""Unit tests run the manager on the in-memory store: no database, no I/O."""

from __future__ import annotations

import pytest

from scrapejobs.storage.memory import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
