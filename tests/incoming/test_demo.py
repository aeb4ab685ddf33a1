"""The demo seeder creates documents in every state through the services and starts their workflows."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import select

from demo.incoming import demo_pdf, seed_demo
from services.blobs import BlobStore
from services.incoming.models import IncomingDocument, IncomingFile
from tests.helpers import end_earlier_workflows
from tests.incoming.conftest import pydantic_client, worker_for


async def test_demo_documents_cover_every_state_and_seeding_twice_is_harmless(temporal_env, demo_db_sqlite, settings) -> None:
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "incoming-")
    with temporal_env.with_time_skipping_disabled():
        async with worker_for(client, settings, demo_db_sqlite):
            await seed_demo(settings=settings, database=demo_db_sqlite, client=client)
            await seed_demo(settings=settings, database=demo_db_sqlite, client=client)
    async with demo_db_sqlite.session() as session:
        statuses = sorted((await session.scalars(select(IncomingDocument.status))).all())
    assert statuses == sorted(["awaiting_direction", "in_progress", "directed", "done", "arrived", "arrived", "directed"])
    await end_earlier_workflows(client, "incoming-")
    # The stand-ins for scans read in Vietnamese, like the documents they stand for.
    async with demo_db_sqlite.session() as session:
        sha = await session.scalar(
            select(IncomingFile.sha256).join(IncomingDocument).where(IncomingDocument.number_notation == "312/SYT-NVY")
        )
        delivered = await session.scalar(
            select(IncomingFile.sha256).join(IncomingDocument).where(IncomingDocument.number_notation == "27/BC-HLHPN")
        )
    blobs = BlobStore.for_settings(settings)
    assert _text(blobs.get(sha)).startswith("312/SYT-NVY — Sở Y tế tỉnh Bến Tre\nVề việc phối hợp truyền thông")
    assert "Hội LHPN huyện Châu Thành" in _text(blobs.get(delivered))


def _text(pdf: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True).stdout.decode()


def _fonts(pdf: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdffonts", str(path)], check=True, capture_output=True).stdout.decode()


def test_demo_pdfs_show_and_give_back_vietnamese_text_in_an_embedded_font() -> None:
    subject = "Kế hoạch tổ chức Tháng hành động vì bình đẳng giới và phòng ngừa, ứng phó với bạo lực trên cơ sở giới năm 2026"
    pdf = demo_pdf("125/KH-UBND — Ủy ban nhân dân tỉnh Bến Tre", subject)
    assert pdf.startswith(b"%PDF-1.7") and pdf == demo_pdf("125/KH-UBND — Ủy ban nhân dân tỉnh Bến Tre", subject)
    lines = _text(pdf).split("\n")
    assert lines[0] == "125/KH-UBND — Ủy ban nhân dân tỉnh Bến Tre"
    assert " ".join(line for line in lines[1:] if line.strip()) == subject  # wrapped inside the page, every word kept
    fonts = _fonts(pdf).splitlines()[2:]
    assert len(fonts) == 1 and fonts[0].split()[-5:-2] == ["yes", "yes", "yes"]  # embedded, subset, with a Unicode map
