"""Outgoing-document fixtures: the session's development PKI for the demo signers and
organisations with live CRL/OCSP/TSA services (tests/conftest.py), settings whose data dir uses
it, helpers that drive a document through the service layer, and poppler helpers."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from services.config import Settings
from signing.pki import DevPKI

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "outgoing"


@dataclass
class DemoPKI:
    pki: DevPKI
    root: Path
    nss_db: Path


@pytest.fixture(scope="session")
def demo_pki(demo_pki_dir, tmp_path_factory: pytest.TempPathFactory) -> DemoPKI:  # type: ignore[no-untyped-def]
    """The session's demo PKI (tests/conftest.py: the demo signers and organisations, its trust
    services running), shared rather than made again (22 RSA keys), and an NSS database trusting
    its root for pdfsig."""
    root, _port = demo_pki_dir
    pki = DevPKI.load(root)
    nss = tmp_path_factory.mktemp("outgoing-nssdb")
    root_pem = nss / "root.pem"
    root_pem.write_bytes(pki.root_cert().public_bytes(Encoding.PEM))
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(
        ["certutil", "-A", "-n", "dev-root", "-t", "CT,C,C", "-i", str(root_pem), "-d", f"sql:{nss}"], check=True, capture_output=True
    )
    return DemoPKI(pki=pki, root=root, nss_db=nss)


@pytest.fixture
def og_settings(settings: Settings, demo_pki: DemoPKI) -> Settings:
    """The test settings with the session's PKI linked into their data dir."""
    link = settings.data_dir / "pki"
    if not link.exists():
        link.symlink_to(demo_pki.root / "pki", target_is_directory=True)
    settings.outgoing_dispatch_timeout_seconds = 5
    return settings


@pytest.fixture
async def pyd_client(temporal_env):  # type: ignore[no-untyped-def]
    """The session's Temporal server (time skipping) with the app's pydantic data converter; running
    `outgoing-*` workflows of earlier tests (same IDs, other databases) are terminated first."""
    from tests.helpers import app_client, end_earlier_workflows

    client = app_client(temporal_env.client)  # keeps the time-skipping interceptor of the test server
    await end_earlier_workflows(client, "outgoing-", "register-print-")
    return client


@pytest.fixture
async def og_worker(pyd_client, og_settings, demo_db_sqlite):  # type: ignore[no-untyped-def]
    """A worker with every workflow and activity on a private task queue."""
    import uuid

    from workflows.context import ActivityContext
    from workflows.worker import build_worker

    og_settings.task_queue = f"outgoing-{uuid.uuid4().hex[:8]}"
    async with build_worker(pyd_client, task_queue=og_settings.task_queue, context=ActivityContext(og_settings, demo_db_sqlite)) as worker:
        yield worker
