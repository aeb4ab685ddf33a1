"""Dispatch to organisations in the system: one incoming document per recipient, even when
the worker dies in the middle of delivering (after some copies were committed, before the
activities reported back); recall then notifies every recipient once."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select
from temporalio import activity
from temporalio.worker import Worker

from services.audit.service import Actor
from services.authz import load_principal
from services.blobs import BlobStore
from services.directory.models import Role, RoleAssignment, User
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument
from services.notifications.models import Notification
from services.outgoing import service as outgoing
from services.outgoing.models import OutgoingRecipient, Status
from tests.helpers import send
from tests.outgoing import flow
from workflows.context import ActivityContext
from workflows.outgoing.activities import OutgoingActivities, RecipientInput
from workflows.outgoing.workflows import OutgoingWorkflow
from workflows.worker import build_worker


async def _issued(database, settings) -> int:  # type: ignore[no-untyped-def]
    """A document to three districts, rendered, signed by the leader and sealed for real (the
    workflow then validates the real signatures before and while it delivers)."""
    doc_id = await flow.draft(database, settings, subject="Về việc lịch giao ban tháng 12/2026")
    await flow.submit_direct(database, doc_id)
    await flow.render(database, settings, doc_id)
    await flow.sign(database, settings, doc_id)
    await flow.issue(database, settings, doc_id)
    return doc_id


async def test_dispatch_creates_one_incoming_document_per_recipient_despite_a_worker_crash(
    pyd_client,
    demo_db_sqlite,
    og_settings,
) -> None:
    db, settings = demo_db_sqlite, og_settings
    settings.task_queue = f"outgoing-{uuid.uuid4().hex[:8]}"
    doc_id = await _issued(db, settings)
    real = OutgoingActivities(ActivityContext(settings, db))
    calls: list[int] = []
    committed, third = asyncio.Event(), asyncio.Event()

    @activity.defn(name="outgoing_deliver")
    async def dying_deliver(data: RecipientInput) -> int | None:
        """The first delivery completes; the second commits its copy and then the process
        "dies" before reporting; the third dies before committing anything."""
        calls.append(data.recipient_id)
        if len(calls) == 1:
            return await real.deliver(data)
        if len(calls) == 2:
            await real.deliver(data)
            committed.set()
        if len(calls) == 3:
            third.set()
        await asyncio.Event().wait()  # never returns: the worker is killed meanwhile
        return None

    others = [real.load, real.render, real.remind, real.notice, real.validate]
    crashing = Worker(pyd_client, task_queue=settings.task_queue, workflows=[OutgoingWorkflow], activities=[*others, dying_deliver])
    async with crashing:
        await send(pyd_client, settings, "outgoing", doc_id, "changed", "issued")
        await asyncio.wait_for(asyncio.gather(committed.wait(), third.wait()), timeout=60)
        async with db.session() as session:
            assert await _copies(session, doc_id) == 2  # one reported, one committed but unreported
    # The worker is gone (its activities were cancelled mid-flight); a new one takes over.
    async with build_worker(pyd_client, task_queue=settings.task_queue, context=ActivityContext(settings, db)):
        for _ in range(200):
            async with db.session() as session:
                pending = await outgoing.pending_deliveries(session, document_id=doc_id)
            if not pending:
                break
            await asyncio.sleep(0.25)
        assert not pending
        async with db.session() as session:
            assert await _copies(session, doc_id) == 3
            rows = (
                await session.scalars(
                    select(OutgoingRecipient).where(OutgoingRecipient.document_id == doc_id, OutgoingRecipient.external.is_(False))
                )
            ).all()
            assert all(r.incoming_id and r.status_code == "01" for r in rows)
            copies = (await session.scalars(select(IncomingDocument).where(IncomingDocument.outgoing_ref == f"outgoing-{doc_id}"))).all()
            assert sorted(c.organization_id for c in copies) == sorted(r.organization_id for r in rows)

        # A recipient registers its copy: the sender's page shows "received" (03) for it.
        async with db.session() as session:
            copy = copies[0]
            vanthu = (
                await session.scalars(
                    select(User)
                    .join(RoleAssignment, RoleAssignment.user_id == User.id)
                    .where(RoleAssignment.organization_id == copy.organization_id, RoleAssignment.role == Role.clerk)
                )
            ).first()
            principal = await load_principal(session, vanthu)
            await incoming.register(
                session,
                principal=principal,
                organization_id=copy.organization_id,
                meta=incoming.Metadata(
                    issuer_name=copy.issuer_name,
                    number_notation=copy.number_notation,
                    document_date=copy.document_date,
                    doc_type=copy.doc_type,
                    subject=copy.subject,
                ),
                blobs=BlobStore.for_data_dir(settings.data_dir),
                document_id=copy.id,
            )
        async with db.session() as session:
            doc = await outgoing.get(session, document_id=doc_id)
            codes = {r.organization_id: r.status_code for r in await outgoing.refresh_statuses(session, doc=doc)}
            assert codes[copy.organization_id] == "03" and sorted(c for c in codes.values() if c) == ["01", "01", "03"]

        # Recall: each recipient's clerk and leader is told once, on every copy.
        async with db.session() as session:
            doc = await outgoing.get(session, document_id=doc_id)
            await outgoing.recall(
                session, settings=settings, principal=None, actor=Actor.system(), doc=doc, reason="Sai thời gian giao ban"
            )
        await send(pyd_client, settings, "outgoing", doc_id, "changed", "recalled")
        result = await pyd_client.get_workflow_handle(f"outgoing-{doc_id}").result()
        assert result == "recalled"
        async with db.session() as session:
            rows = (await session.scalars(select(OutgoingRecipient).where(OutgoingRecipient.document_id == doc_id))).all()
            assert all(r.notice == "recall" for r in rows)
            notes = (await session.scalars(select(Notification).where(Notification.kind == "outgoing.recall"))).all()
            assert len(notes) == 6  # clerk and leader of each of the three districts
            assert all("thu hồi" in n.title for n in notes)
            # Every recipient's own copy says it was recalled, with the reason, once.
            from services.incoming.models import IncomingNote

            recalled = (
                await session.scalars(
                    select(IncomingNote)
                    .join(IncomingDocument, IncomingDocument.id == IncomingNote.document_id)
                    .where(IncomingDocument.outgoing_ref == f"outgoing-{doc_id}", IncomingNote.kind == "recall")
                )
            ).all()
            assert len(recalled) == 3 and all("Sai thời gian giao ban" in n.body for n in recalled)


async def _copies(session, doc_id: int) -> int:  # type: ignore[no-untyped-def]
    return (
        await session.scalar(
            select(func.count()).select_from(IncomingDocument).where(IncomingDocument.outgoing_ref == f"outgoing-{doc_id}")
        )
        or 0
    )


async def test_replacing_an_issued_document_opens_a_new_draft_and_tells_recipients(demo_db_sqlite, og_settings) -> None:
    db, settings = demo_db_sqlite, og_settings
    doc_id = await _issued(db, settings)
    async with db.session() as session:
        for rid in await outgoing.pending_deliveries(session, document_id=doc_id):
            await outgoing.deliver(session, settings=settings, document_id=doc_id, recipient_id=rid)
    async with db.session() as session:
        officer = await flow.user(session, "thu.le")
        doc = await outgoing.get(session, document_id=doc_id)
        new = await outgoing.replace(
            session, settings=settings, principal=None, actor=flow.actor_of(officer), doc=doc, reason="Điều chỉnh thời gian giao ban"
        )
        assert new.replaces_id == doc_id and new.status == Status.draft and doc.replaced_by_id == new.id
        notices = await outgoing.pending_notices(session, document_id=doc_id)
        for rid in notices:
            assert await outgoing.notify_recipient(session, document_id=doc_id, recipient_id=rid)
            assert not await outgoing.notify_recipient(session, document_id=doc_id, recipient_id=rid)  # once only
    async with db.session() as session:
        assert not await outgoing.pending_notices(session, document_id=doc_id)
        notes = (await session.scalars(select(Notification).where(Notification.kind == "outgoing.replace"))).all()
        assert len(notes) == 6 and all("thay thế" in n.title for n in notes)
