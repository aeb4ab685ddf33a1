"""`lienthong worker` starts without the PDF signing stack: workers are started again after every
crash (in the fault tests after every SIGKILL), and pyHanko with its fonts and HTTP client costs a
second of CPU to import. The activities that sign, stamp or validate import it when they run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("pyhanko", "fontTools", "alembic")  # alembic: only `dev` and `migrate` migrate


def test_a_worker_starts_without_loading_the_pdf_signing_stack() -> None:
    code = (
        "import sys, web.cli, web.runtime, workflows.worker; web.cli.build_parser(); "
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    loaded = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
