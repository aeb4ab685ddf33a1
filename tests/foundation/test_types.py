"""mypy, configured in pyproject.toml ([tool.mypy]), finds no error in the packages it checks
(every package: services/, signing/, workflows/, meetings/, dashboard/, demo/, web/); CI runs
this test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_nothing() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
