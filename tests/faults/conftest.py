"""What the fault stacks share with the rest of the session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def borrowed_pki(demo_pki_dir: tuple[Path, int]) -> list[str]:
    """Arguments for `bench.faults` and `bench.cluster`: copy the session's demo PKI instead of
    making one (its keys cost seconds of CPU) and use its trust services, already running."""
    root, port = demo_pki_dir
    return ["--pki-from", str(root / "pki"), "--trust-port", str(port)]
