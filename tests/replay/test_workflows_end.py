"""Every workflow ends when its object is final: 200 documents (incoming handled or returned,
outgoing issued and delivered, some recalled) driven through the services with the real worker
leave no running execution behind."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus

from services.audit.service import Actor
from services.blobs import BlobStore
from services.calendar import vn_today
from services.incoming import service as incoming
from services.outgoing import service as outgoing
from services.outgoing.models import OutgoingDocument, Status
from tests.helpers import end_earlier_workflows
from tests.incoming.conftest import meta, org_id, pdf_file, principal, pydantic_client, user_id
from tests.outgoing import flow
from tests.signing.conftest import make_tiny_pdf
from workflows.context import ActivityContext
from workflows.incoming.workflows import IncomingInput, IncomingWorkflow
from workflows.outgoing.workflows import OutgoingInput, OutgoingWorkflow
from workflows.worker import build_worker

INCOMING = 100
OUTGOING = 100
RECALLED = 10


async def test_no_workflow_stays_open_once_its_documents_are_final(temporal_env, demo_db_sqlite, settings) -> None:
    db = demo_db_sqlite
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "incoming-", "outgoing-")
    settings.task_queue = f"ends-{uuid.uuid4().hex[:8]}"
    blobs = BlobStore.for_data_dir(settings.data_dir)
    clerk, leader, lead = [await principal(db, u) for u in ("mai.tran", "lan.nguyen", "thu.le")]
    province, lead_id = await org_id(db, "hlhpn-bentre"), await user_id(db, "thu.le")

    async def signal_incoming(doc_id: int) -> None:
        await client.start_workflow(
            IncomingWorkflow.run,
            IncomingInput(document_id=doc_id),
            id=f"incoming-{doc_id}",
            task_queue=settings.task_queue,
            start_signal="changed",
        )

    async def signal_outgoing(doc_id: int, kind: str) -> None:
        await client.start_workflow(
            OutgoingWorkflow.run,
            OutgoingInput(document_id=doc_id),
            id=f"outgoing-{doc_id}",
            task_queue=settings.task_queue,
            start_signal="changed",
            start_signal_args=[kind],
        )

    incoming_ids: list[int] = []
    outgoing_ids: list[int] = []
    with temporal_env.with_time_skipping_disabled():
        async with build_worker(client, task_queue=settings.task_queue, context=ActivityContext(settings, db)):
            for i in range(INCOMING):
                async with db.session() as session:
                    doc = await incoming.register(
                        session,
                        principal=clerk,
                        organization_id=province,
                        meta=meta(f"{i + 1}/KH-UBND"),
                        files=[pdf_file(str(i))],
                        blobs=blobs,
                    )
                incoming_ids.append(doc.id)
                await signal_incoming(doc.id)
                async with db.session() as session:
                    if i % 2:  # returned to the sender at once
                        await incoming.return_to_sender(session, principal=clerk, document_id=doc.id, reason="Sai nơi nhận.")
                    else:
                        await incoming.direct(
                            session,
                            principal=leader,
                            document_id=doc.id,
                            instruction="Xử lý.",
                            handlers=incoming.Handlers(lead_user_id=lead_id),
                            due_date=vn_today() + timedelta(days=10),
                        )
                await signal_incoming(doc.id)
                if i % 2 == 0:
                    async with db.session() as session:
                        await incoming.complete(session, principal=lead, document_id=doc.id, result="Xong.")
                    await signal_incoming(doc.id)

            for i in range(OUTGOING):
                doc_id = await flow.draft(
                    db, settings, doc_type="TB", subject=f"Thông báo số {i}", recipients=("hlhpn-tpbentre",), external=()
                )
                async with db.session() as session:
                    doc = await session.get(OutgoingDocument, doc_id)
                    doc.status = Status.signed
                    doc.leader_pdf_sha = blobs.put(make_tiny_pdf("signed"))

                    async def seal(stamp):  # type: ignore[no-untyped-def]
                        return outgoing.IssuedFiles(pdf=make_tiny_pdf(f"issued {stamp.number}"))

                    await outgoing.issue(session, settings=settings, principal=None, actor=Actor.system(), document_id=doc_id, seal=seal)
                    doc.validation_report = '{"signatures": [{"field_name": "a"}, {"field_name": "b"}]}'
                outgoing_ids.append(doc_id)
                await signal_outgoing(doc_id, "issued")

            results = await asyncio.wait_for(
                asyncio.gather(
                    *(client.get_workflow_handle(f"incoming-{d}").result() for d in incoming_ids),
                    *(client.get_workflow_handle(f"outgoing-{d}").result() for d in outgoing_ids),
                ),
                timeout=150,
            )
            assert sorted(set(results)) == ["done", "issued", "rejected"]

            # A recall after the end starts the workflow again; it ends once the notices are out.
            for doc_id in outgoing_ids[:RECALLED]:
                async with db.session() as session:
                    doc = await outgoing.get(session, document_id=doc_id)
                    await outgoing.recall(
                        session, settings=settings, principal=None, actor=Actor.system(), doc=doc, reason="Thu hồi để sửa."
                    )
                await signal_outgoing(doc_id, "recalled")
            recalled = await asyncio.wait_for(
                asyncio.gather(*(client.get_workflow_handle(f"outgoing-{d}").result() for d in outgoing_ids[:RECALLED])), timeout=60
            )
            assert set(recalled) == {"recalled"}

            ours = {f"incoming-{d}" for d in incoming_ids} | {f"outgoing-{d}" for d in outgoing_ids}
            # Describe each (strongly consistent); the visibility list can show a run that has just
            # completed as still running for a moment.
            described = await asyncio.gather(*(client.get_workflow_handle(wid).describe() for wid in sorted(ours)))
            running = [d.id for d in described if d.status == WorkflowExecutionStatus.RUNNING]
    assert running == []
    assert len(ours) == INCOMING + OUTGOING
