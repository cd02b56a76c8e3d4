"""The audit log's store on SQLite and PostgreSQL: the scenarios of ``tests/unit/test_audit.py``."""

from __future__ import annotations

from tests.unit.test_audit import *  # noqa: F403
