"""The manager's rules of ``tests/unit/test_manager.py``, run on SQLite and PostgreSQL.

The same scenario functions, collected again here, where ``store`` is a real
database (``tests/conftest.py``): what passes in memory must pass on both.
"""

from tests.unit.test_manager import *  # noqa: F403
