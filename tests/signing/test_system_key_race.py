"""The first use of a key the system holds, in two transactions at once (a clerk sealing while a
worker checks a signature): both register its certificate; the second finds the first's row
instead of failing the user's action with a duplicate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select, text

from services.db import Database
from services.directory.models import Organization
from services.keys import certificates
from services.keys.models import SignerCertificate

pytestmark = pytest.mark.postgres


def _certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hội Liên hiệp Phụ nữ tỉnh Bến Tre")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


async def test_two_first_uses_at_once_register_the_key_once(db_templates, tmp_path) -> None:
    database = Database(await db_templates.copy("postgresql", True, tmp_path / "unused"))
    der = _certificate()
    async with database.read() as session:
        org_id = await session.scalar(select(Organization.id).where(Organization.code == "hlhpn-bentre"))
    first_flushed, first_may_commit = asyncio.Event(), asyncio.Event()

    async def first() -> int:
        async with database.session() as session:
            row = await certificates.ensure_system_key(session, der=der, organization_id=org_id)
            first_flushed.set()
            await first_may_commit.wait()
            return row.id

    async def second() -> int:
        await first_flushed.wait()
        async with database.session() as session:  # its insert waits for the first to commit
            row = await certificates.ensure_system_key(session, der=der, organization_id=org_id)
            return row.id

    one = asyncio.create_task(first())
    two = asyncio.create_task(second())
    await first_flushed.wait()
    async with asyncio.timeout(30):  # the second waits on the first's row in the unique index
        while True:
            async with database.read() as session:
                if await session.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
                ):
                    break
            await asyncio.sleep(0.02)
    first_may_commit.set()
    ids = await asyncio.gather(one, two)
    assert ids[0] == ids[1]
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(SignerCertificate)) == 1
    await database.dispose()
