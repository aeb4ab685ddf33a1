"""Two installations exchange a document and its statuses through drop folders, end to end.

Instance A is the demo province union; instance B a separate installation (its own database and
data dir) of a partner, "Tỉnh đoàn Bến Tre". A issues a document to B: the package reaches B's
inbox through A's outbox relay; B's worker takes it in (it arrives in B's clerk's queue), B's
clerk registers it; statuses 01 and 03 go back the same way, and A's recipient row shows 03.
Then A recalls it: the recall package reaches B, B's clerk refuses it, and A's row shows 16.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from services.audit.service import Actor
from services.authz import load_principal
from services.blobs import BlobStore
from services.config import ExchangePartner, Settings
from services.db import Database
from services.directory import service as directory
from services.directory.models import Level, Role
from services.exchange.inbox import sweep
from services.exchange.models import ExchangeMessage
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument, IncomingFile
from services.outgoing import service as outgoing
from services.outgoing.service import recipients
from tests.helpers import TEST_PAYLOAD_KEYS
from tests.outgoing import flow
from workflows.relay import OutboxRelay

PARTNER_ID = "000.00.40.H08"


async def _relay(database: Database, settings: Settings) -> None:
    """One round of the instance's outbox relay (no Temporal here: only the exchange kind is
    delivered; the other commands wait, as while Temporal is away)."""
    await OutboxRelay(None, database, settings, reconcile_every=None).deliver_due()  # type: ignore[arg-type]


async def _instance_b(db_templates, tmp_path: Path, a_inbox: Path) -> tuple[Database, Settings]:  # type: ignore[no-untyped-def]
    url = await db_templates.copy("sqlite", False, tmp_path / "b.db")
    settings = Settings(
        data_dir=tmp_path / "b-data",
        secret_key="b-secret",
        temporal_address=None,
        workflow_id_prefix="",
        payload_keys=TEST_PAYLOAD_KEYS,
        database_url=url,
        exchange_inbox=tmp_path / "b-inbox",
        exchange_partners=[ExchangePartner(organ_id="000.00.31.H08", name="Hội Liên hiệp Phụ nữ tỉnh Bến Tre", drop=a_inbox)],
    )
    database = Database(url)
    async with database.session() as session:
        actor = Actor.system("setup")
        org = await directory.create_org(
            session, actor=actor, code="tinhdoan-bentre", name="Tỉnh đoàn Bến Tre", abbreviation="TĐ", level=Level.province, parent_id=None,
            national_id=PARTNER_ID,
        )  # fmt: skip
        await directory.create_user(
            session, actor=actor, username="tdvanthu", password="Van-thu-Tinh-doan-2026", full_name="Lê Văn Thư",
            organization_id=org.id, roles=[Role.clerk],
        )  # fmt: skip
    return database, settings


async def test_a_document_and_its_statuses_travel_between_two_installations(db_templates, demo_db_sqlite, og_settings, tmp_path) -> None:
    a_db, a = demo_db_sqlite, og_settings
    a_inbox = tmp_path / "a-inbox"
    b_db, b = await _instance_b(db_templates, tmp_path, a_inbox)
    a.exchange_inbox = a_inbox
    a.exchange_partners = [ExchangePartner(organ_id=PARTNER_ID, name="Tỉnh đoàn Bến Tre", drop=b.inbox_dir)]
    try:
        # A issues a document whose recipients include the partner (by name, as the form lists it).
        doc = await flow.issued(a_db, a)
        await _relay(a_db, a)
        (package_file,) = list(b.inbox_dir.glob("*.edxml"))

        # B's worker takes it in: it waits for B's clerk, with A's file, and 01 goes back.
        assert await sweep(b_db, b) == [(package_file.name, "document")]
        async with b_db.session() as session:
            arrived = await session.scalar(select(IncomingDocument))
            assert arrived.status == "arrived" and arrived.source == "edxml" and arrived.number_notation == doc.notation
            assert arrived.issuer_name == "Hội Liên hiệp Phụ nữ tỉnh Bến Tre"
            main_sha = await session.scalar(
                select(IncomingFile.sha256).where(IncomingFile.document_id == arrived.id, IncomingFile.is_main.is_(True))
            )
            main = BlobStore.for_data_dir(b.data_dir).get(main_sha)
            assert main == BlobStore.for_data_dir(a.data_dir).get(doc.issued_pdf_sha)
            clerk = await load_principal(session, await flow.user(session, "tdvanthu"))
            await incoming.register(
                session,
                principal=clerk,
                organization_id=arrived.organization_id,
                meta=incoming.Metadata(
                    issuer_name=arrived.issuer_name,
                    number_notation=arrived.number_notation,
                    document_date=arrived.document_date,
                    doc_type=arrived.doc_type,
                    subject=arrived.subject,
                ),
                files=[],
                blobs=BlobStore.for_data_dir(b.data_dir),
                document_id=arrived.id,
            )
        await _relay(b_db, b)
        statuses = sorted(p.name for p in a_inbox.glob("*.edxml"))
        assert len(statuses) == 2

        # A takes the statuses in: the partner's row shows "03 received".
        assert sorted(kind for _, kind in await sweep(a_db, a)) == ["status", "status"]
        async with a_db.read() as session:
            rows = {r.name: (r.status_code, r.status_at) for r in await recipients(session, document_id=doc.id)}
            sent = [(m.kind, m.partner, m.delivered_at is not None) for m in (await session.scalars(select(ExchangeMessage))).all()]
        assert rows["Tỉnh đoàn Bến Tre"][0] == "03" and rows["Tỉnh đoàn Bến Tre"][1] is not None
        assert sent == [("document", PARTNER_ID, True)]
        assert sorted(p.name for p in (a_inbox / "done").iterdir()) == statuses

        # A recalls the document: the partner's row shows 13 and B gets the recall package; B's
        # clerk refuses it with a reason, and A's row shows 16.
        async with a_db.session() as session:
            recalled = await outgoing.get(session, document_id=doc.id)
            await outgoing.recall(session, settings=a, principal=None, actor=Actor.system("test"), doc=recalled, reason="Sai ngày họp")
        async with a_db.read() as session:
            assert {r.name: r.status_code for r in await recipients(session, document_id=doc.id)}["Tỉnh đoàn Bến Tre"] == "13"
        await _relay(a_db, a)
        (recall_file,) = list(b.inbox_dir.glob("thuhoi-*.edxml"))
        assert await sweep(b_db, b) == [(recall_file.name, "recall")]
        async with b_db.session() as session:
            asked = await incoming.recall_waiting(session, await session.get(IncomingDocument, arrived.id))
            assert asked is not None and "Sai ngày họp" in asked.body
            clerk = await load_principal(session, await flow.user(session, "tdvanthu"))
            await incoming.answer_recall(
                session, principal=clerk, document_id=arrived.id, decision="refuse", reason="Văn bản đã được triển khai"
            )
        await _relay(b_db, b)
        assert [kind for _, kind in await sweep(a_db, a)] == ["status"]
        async with a_db.read() as session:
            assert {r.name: r.status_code for r in await recipients(session, document_id=doc.id)}["Tỉnh đoàn Bến Tre"] == "16"

        # The same package dropped again changes nothing at B; a stranger's file is refused and kept.
        (b.inbox_dir / "again.edxml").write_bytes((b.inbox_dir / "done" / package_file.name).read_bytes())
        (b.inbox_dir / "junk.xml").write_bytes(b"<not-edxml/>")
        assert sorted(await sweep(b_db, b)) == [("again.edxml", "document"), ("junk.xml", "refused")]
        async with b_db.read() as session:
            assert len((await session.scalars(select(IncomingDocument))).all()) == 1
        assert (b.inbox_dir / "failed" / "junk.xml.txt").read_text(encoding="utf-8")
    finally:
        await b_db.dispose()
