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


def test_a_web_process_leaves_its_start_up_and_its_clients_out_of_most_garbage_collections(tmp_path) -> None:
    """What `lienthong web` built before serving (modules, the application, its routes) is never
    walked again by a collection; and clients arriving by the thousand — long-lived objects that
    keep growing the old generation — set off no full pass after full pass, each walking every
    client (bench/bench_live.py: together two fifths of a connect's CPU in a reconnect storm)."""
    code = """
import gc
from services.config import Settings
from web.runtime import web_app

app = web_app(Settings())
frozen, walked = gc.get_freeze_count(), len(gc.get_objects())
full = []
gc.callbacks.append(lambda phase, info: full.append(1) if phase == "stop" and info["generation"] == 2 else None)
clients = [[{"subscription": i}, [i], {i}, (i, [])] for i in range(100_000)]  # 600,000 objects kept
print(frozen, walked, len(full))
"""
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "LIENTHONG_DATA_DIR": str(tmp_path), "LIENTHONG_SECRET_KEY": "x" * 32}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True, env=env).stdout
    frozen, walked, full_passes = map(int, out.split())
    assert frozen > 100_000 and walked < frozen // 100, (frozen, walked)
    assert full_passes <= 1, full_passes  # CPython's thresholds: 5
