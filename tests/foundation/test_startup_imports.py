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


def test_a_web_process_leaves_its_start_up_out_of_the_garbage_collectors_passes(tmp_path) -> None:
    """What `lienthong web` built before serving (modules, the application, its routes) is never
    walked again by a collection: each full pass walked all of it, a fifth of a live connect's CPU
    in a reconnect storm (bench/bench_live.py). A collection afterwards sees only what came since."""
    code = (
        "import gc; from services.config import Settings; from web.runtime import web_app; "
        "app = web_app(Settings()); print(gc.get_freeze_count(), len(gc.get_objects()))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "LIENTHONG_DATA_DIR": str(tmp_path), "LIENTHONG_SECRET_KEY": "x" * 32}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True, env=env).stdout
    frozen, walked = map(int, out.split())
    assert frozen > 100_000 and walked < frozen // 100, (frozen, walked)
