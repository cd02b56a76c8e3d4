"""API keys on SQLite and PostgreSQL: the scenarios of ``tests/unit/test_access.py``."""

from __future__ import annotations

from tests.unit.test_access import *  # noqa: F403
