"""Driving an outgoing document through the service layer (and the signing glue) in tests."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import select

from demo.directory import DEMO_PIN
from services.audit.service import Actor
from services.blobs import BlobStore
from services.config import Settings
from services.db import Database
from services.directory.models import Organization, Unit, User
from services.outgoing import service as outgoing
from services.outgoing.models import OutgoingDocument
from signing.outgoing import issue_seal, sign_as_leader, signing_profile
from signing.service import open_signer
from workflows.context import ActivityContext
from workflows.outgoing.activities import OutgoingActivities

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "outgoing"
BODY = (
    "BAN THƯỜNG VỤ HỘI LIÊN HIỆP PHỤ NỮ TỈNH\n"
    "Căn cứ Điều lệ Hội Liên hiệp Phụ nữ Việt Nam;\n"
    "QUYẾT ĐỊNH:\n"
    "Điều 1. Tổ chức Hội nghị sơ kết công tác Hội và phong trào phụ nữ 6 tháng đầu năm 2026.\n"
    "Điều 2. Quyết định có hiệu lực kể từ ngày ký.\n"
    "Điều 3. Văn phòng, các ban chuyên môn và Hội LHPN các huyện, thành phố chịu trách nhiệm thi hành."
)


async def user(session, username: str) -> User:  # type: ignore[no-untyped-def]
    return await session.scalar(select(User).where(User.username == username))


async def org(session, code: str) -> Organization:  # type: ignore[no-untyped-def]
    return await session.scalar(select(Organization).where(Organization.code == code))


def actor_of(u: User) -> Actor:
    return Actor(user_id=u.id, name=u.full_name, organization_id=u.organization_id)


async def draft(
    database: Database,
    settings: Settings,
    *,
    doc_type: str = "QĐ",
    subject: str = "Về việc tổ chức Hội nghị sơ kết 6 tháng đầu năm 2026",
    recipients: tuple[str, ...] = ("hlhpn-tpbentre", "hlhpn-chauthanh", "hlhpn-mocaynam"),
    secret: bool = False,
    drafter: str = "thu.le",
    external: tuple[str, ...] = ("Tỉnh đoàn Bến Tre",),
    org_code: str = "hlhpn-bentre",
    signer: str = "lan.nguyen",
) -> int:
    async with database.session() as session:
        officer = await user(session, drafter)
        leader = await user(session, signer)
        province = await org(session, org_code)
        unit = await session.scalar(select(Unit).where(Unit.organization_id == province.id, Unit.code == "VP"))
        ids = [(await org(session, c)).id for c in recipients]
        doc = await outgoing.create_draft(
            session,
            settings=settings,
            actor=actor_of(officer),
            organization_id=province.id,
            fields=outgoing.DraftFields(
                doc_type=doc_type,
                subject=subject,
                body=BODY if doc_type == "QĐ" else "",
                signer_id=leader.id,
                recipient_org_ids=ids,
                external_recipients=list(external),
                authority_prefix="TM.",
                authority_line="BAN THƯỜNG VỤ",
                unit_id=unit.id,
                secrecy=outgoing.Secrecy.secret if secret else outgoing.Secrecy.normal,
            ),
        )
        return doc.id


async def submit_direct(database: Database, document_id: int, drafter: str = "thu.le") -> None:
    async with database.session() as session:
        doc = await outgoing.get(session, document_id=document_id)
        await outgoing.submit(session, actor=actor_of(await user(session, drafter)), doc=doc)


async def render(database: Database, settings: Settings, document_id: int) -> None:
    assert await OutgoingActivities(ActivityContext(settings, database)).render(document_id)


async def sign(database: Database, settings: Settings, document_id: int) -> None:
    async with database.session() as session:
        doc = await outgoing.get(session, document_id=document_id)
        leader = await user(session, "lan.nguyen")
        prepared = BlobStore.for_data_dir(settings.data_dir).get(doc.prepared_pdf_sha)
        profile = await signing_profile(session, settings=settings, organization_id=doc.organization_id, user_id=leader.id)
        key = await open_signer(session, settings=settings, actor=actor_of(leader), pin=DEMO_PIN, user=leader)
        signed = await sign_as_leader(
            settings=settings,
            profile=profile,
            actor=actor_of(leader),
            user=leader,
            signer=key,
            pdf=prepared,
            document_id=doc.id,
        )
        await outgoing.record_signature(
            session, settings=settings, actor=actor_of(leader), doc=doc, pdf=signed, method="pin", report_json=None
        )


async def issue(database: Database, settings: Settings, document_id: int) -> OutgoingDocument:
    async with database.session() as session:
        doc = await outgoing.get(session, document_id=document_id)
        clerk = await user(session, "mai.tran")
        province = await session.get(Organization, doc.organization_id)
        leader_pdf = BlobStore.for_data_dir(settings.data_dir).get(doc.leader_pdf_sha)

        profile = await signing_profile(session, settings=settings, organization_id=province.id)
        key = await open_signer(session, settings=settings, actor=actor_of(clerk), pin=DEMO_PIN, org=province)

        async def seal(stamp):  # type: ignore[no-untyped-def]
            return await issue_seal(
                settings=settings,
                profile=profile,
                actor=actor_of(clerk),
                org=province,
                signer=key,
                leader_pdf=leader_pdf,
                stamp=stamp,
                pdf_attachments={},
            )

        return await outgoing.issue(session, settings=settings, principal=None, actor=actor_of(clerk), document_id=document_id, seal=seal)


def pdftotext(pdf: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True).stdout.decode()


def render_png(pdf: bytes, name: str, dpi: int = 70) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pdf"
        path.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", "1", "-l", "1", str(path), str(ARTIFACTS / name)],
            check=True,
            capture_output=True,
        )
    return ARTIFACTS / f"{name}.png"


def pdfsig(pdf: bytes, nss_db: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdfsig", "-nssdir", f"sql:{nss_db}", str(path)], capture_output=True, text=True).stdout


async def issued(database: Database, settings: Settings) -> OutgoingDocument:
    """A decision drafted, submitted straight to the leader, rendered, signed and issued."""
    doc_id = await draft(database, settings)
    await submit_direct(database, doc_id)
    await render(database, settings, doc_id)
    await sign(database, settings, doc_id)
    return await issue(database, settings, doc_id)
