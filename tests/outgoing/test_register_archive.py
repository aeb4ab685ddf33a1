"""Closing a year's register (khóa sổ): once the year is over the clerk archives its book as a
PDF with an archive time stamp, once, printed in the background by the worker; readers open it;
the archive workflow's pass refreshes its stamp like any final document's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from services.audit.models import AuditEntry
from services.blobs import BlobStore
from services.documents.register_archive import RegisterArchive
from services.documents.register_prints import RegisterPrint
from services.outgoing.models import OutgoingDocument
from signing.archive import archive_chain
from signing.trust import TrustConfig
from tests.helpers import app_client, csrf_of, end_earlier_workflows, sign_in, wait_for, worker_with_relay
from tests.outgoing import flow
from workflows.archive.refresh import refresh

THIS_YEAR = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).year
LAST_YEAR = THIS_YEAR - 1


async def _archived(db, kind: str) -> None:  # type: ignore[no-untyped-def]
    """Until the register's archive run (in the worker) has ended; it must have ended well."""
    query = select(RegisterPrint.status, RegisterPrint.error).where(RegisterPrint.kind == kind, RegisterPrint.purpose == "archive")

    async def ended():  # type: ignore[no-untyped-def]
        async with db.read() as session:
            row = (await session.execute(query)).one()
        return row if row.status in ("done", "failed") else None

    status, error = await wait_for(ended, timeout=180, every=0.1)
    assert status == "done", error


async def test_the_clerk_archives_last_years_registers_once(demo_db_sqlite, og_settings, client_for, temporal_env) -> None:
    client = app_client(temporal_env.client)
    await end_earlier_workflows(client, "register-print-")
    async with worker_with_relay(client, og_settings, demo_db_sqlite, "register-archive"):
        db, settings = demo_db_sqlite, og_settings
        # A document issued "last year": its register is the one to close.
        doc = await flow.issued(db, settings)
        doc_id = doc.id
        async with db.session() as session:
            await session.execute(
                update(OutgoingDocument).where(OutgoingDocument.id == doc_id).values(year=LAST_YEAR, issue_date=dt.date(LAST_YEAR, 12, 30))
            )
            org_id = (await flow.org(session, "hlhpn-bentre")).id

        clerk = await client_for(db)
        await sign_in(clerk, "mai.tran")
        page = await clerk.get(f"/outgoing/register/{THIS_YEAR}")
        assert "data-register-archive" not in page.text  # this year is not over
        token = await csrf_of(clerk, f"/outgoing/register/{LAST_YEAR}")
        early = await clerk.post(f"/outgoing/register/{THIS_YEAR}/archive", data={"csrf_token": token, "org": str(org_id)})
        assert early.status_code == 422 and "chỉ được khóa và lưu trữ khi hết năm" in early.text

        page = await clerk.get(f"/outgoing/register/{LAST_YEAR}")
        assert "Khóa sổ và lưu trữ sổ năm" in page.text
        closed = await clerk.post(f"/outgoing/register/{LAST_YEAR}/archive", data={"csrf_token": token, "org": str(org_id)})
        assert closed.status_code == 303 and closed.headers["location"].endswith("#register-archive")
        await _archived(db, "outgoing")
        page = await clerk.get(f"/outgoing/register/{LAST_YEAR}")
        assert "data-register-archived" in page.text and "Khóa sổ và lưu trữ sổ năm" not in page.text
        again = await clerk.post(f"/outgoing/register/{LAST_YEAR}/archive", data={"csrf_token": token, "org": str(org_id)})
        assert again.status_code == 409 and "đã được khóa và lưu trữ" in again.text

        # The leader opens the archived book: the document is in it, and the file carries a valid stamp.
        leader = await client_for(db)
        await sign_in(leader, "lan.nguyen")
        archived = await leader.get(f"/outgoing/register/{LAST_YEAR}/archive.pdf?org={org_id}")
        assert archived.status_code == 200 and archived.content.startswith(b"%PDF")
        assert doc.notation in flow.pdftotext(archived.content) and "SỔ ĐĂNG KÝ VĂN BẢN ĐI" in flow.pdftotext(archived.content)
        trust = TrustConfig.from_settings(settings)
        (stamp,) = await archive_chain(archived.content, trust=trust)
        assert stamp.intact and stamp.valid and stamp.trusted and stamp.covers_document
        officer = await client_for(db)
        await sign_in(officer, "thu.le")
        token = await csrf_of(officer, "/outgoing")
        refused = await officer.post(f"/outgoing/register/{LAST_YEAR - 1}/archive", data={"csrf_token": token, "org": str(org_id)})
        assert refused.status_code in (403, 404)

        # The incoming register of last year too, from its page.
        token = await csrf_of(clerk, f"/incoming/book?year={LAST_YEAR}")
        book = await clerk.post(
            "/incoming/book/archive", data={"csrf_token": token, "org": str(org_id), "year": str(LAST_YEAR), "series": "chung"}
        )
        assert book.status_code == 303
        await _archived(db, "incoming")
        assert "data-register-archived" in (await clerk.get(f"/incoming/book?year={LAST_YEAR}&org={org_id}")).text

        async with db.read() as session:
            archives = (await session.scalars(select(RegisterArchive).order_by(RegisterArchive.id))).all()
            actions = (await session.scalars(select(AuditEntry.action).where(AuditEntry.action == "register.archive"))).all()
            outgoing_id, outgoing_sha = archives[0].id, archives[0].pdf_sha256
            listed = [(a.kind, a.year, a.entries) for a in archives]
        assert listed == [("outgoing", LAST_YEAR, 1), ("incoming", LAST_YEAR, 0)]
        assert actions == ["register.archive", "register.archive"]

        # An archive pass near the TSA certificate's expiry refreshes the archived books' stamps.
        far = dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 5)
        done = await refresh(db, settings, now=far, margin=dt.timedelta(days=90), retry=dt.timedelta(days=30))
        assert done.failed == [] and done.stamped >= 2
        async with db.read() as session:
            refreshed = await session.scalar(select(RegisterArchive.pdf_sha256).where(RegisterArchive.id == outgoing_id))
        assert refreshed != outgoing_sha
        assert len(await archive_chain(BlobStore.for_data_dir(settings.data_dir).get(refreshed), trust=trust)) == 2
