"""The README's first steps hold on a fresh clone (issue 17): what it tells a new user to
type exists and works, in the order it is told."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8").split(f"\n## {title}\n", 1)[1]
    return text.split("\n## ", 1)[0]


def test_the_cli_section_puts_scrapejobs_on_path_before_using_it() -> None:
    first_block = re.findall(r"```bash\n(.*?)```", section("CLI"), flags=re.DOTALL)[0]
    lines = [line.split("#")[0].strip() for line in first_block.splitlines()]
    commands = [line for line in lines if line]
    assert commands[0] == "source .venv/bin/activate"
    assert all(line.startswith("scrapejobs ") for line in commands[1:])


def test_the_installed_entry_point_is_where_the_readme_says() -> None:
    """``make install`` (pip install -e .) puts ``scrapejobs`` beside the venv's python."""
    entry_point = Path(sys.executable).parent / "scrapejobs"
    assert entry_point.is_file()
    done = subprocess.run(
        [str(entry_point), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "submit" in done.stdout and "serve" in done.stdout
