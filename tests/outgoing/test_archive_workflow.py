"""The archive workflow, in skipped time: an issued document gets its first archive time stamp
at the first pass, nothing more while the authority's certificate is far from expiring, and the
next stamp at the first pass inside the margin before it expires; each change is in the trail."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.audit.models import AuditEntry
from services.blobs import BlobStore
from services.outgoing.models import OutgoingDocument
from signing.archive import archive_chain, newest_stamp_facts
from signing.trust import TrustConfig
from tests.helpers import app_client, sign_in
from tests.outgoing import flow
from workflows.archive.workflows import ArchiveInput, ArchiveRefreshWorkflow
from workflows.context import ActivityContext
from workflows.worker import build_worker

EVERY = 90  # days between passes in this test (a few dozen passes to cross five years)


async def _issued_pdf(db, settings, doc_id: int) -> bytes:  # type: ignore[no-untyped-def]
    async with db.read() as session:
        doc = await session.get(OutgoingDocument, doc_id)
        return BlobStore.for_data_dir(settings.data_dir).get(doc.issued_pdf_sha)


async def _passes(handle, count: int) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(600):
        progress = await handle.query(ArchiveRefreshWorkflow.progress)
        if progress["passes"] >= count:
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"stuck at {progress}")


async def test_archive_stamps_once_then_refreshes_before_the_authority_expires(
    temporal_env, demo_db_sqlite, og_settings, client_for
) -> None:
    db, settings = demo_db_sqlite, og_settings
    settings.archive_margin_days, settings.archive_retry_days = 90, 30
    doc_id = (await flow.issued(db, settings)).id
    issued = await _issued_pdf(db, settings, doc_id)
    assert newest_stamp_facts(issued) is None

    client = app_client(temporal_env.client)
    queue = f"archive-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, task_queue=queue, context=ActivityContext(settings, db)):
        started = datetime.now(UTC)
        handle = await client.start_workflow(ArchiveRefreshWorkflow.run, ArchiveInput(every_days=EVERY), id=queue, task_queue=queue)
        await temporal_env.fast_forward(handle, timedelta(days=EVERY + 1))  # type: ignore[attr-defined]
        first = await _passes(handle, 1)
        assert first["last"]["stamped"] == 1 and first["last"]["failed"] == []
        stamped = await _issued_pdf(db, settings, doc_id)
        assert stamped.startswith(issued)  # an incremental update: the issued bytes are kept
        facts = newest_stamp_facts(stamped)
        assert facts is not None
        # Skip to just after the first pass inside the margin before the TSA certificate expires.
        inside = math.ceil((facts[1] - timedelta(days=90) - started).total_seconds() / 86400 / EVERY)
        assert inside > 2
        await temporal_env.fast_forward(handle, timedelta(days=EVERY * (inside - 1)))  # type: ignore[attr-defined]
        progress = await _passes(handle, inside)
        await handle.terminate("test over")
    assert progress["last"]["stamped"] == 1
    refreshed = await _issued_pdf(db, settings, doc_id)
    assert refreshed.startswith(stamped)
    chain = await archive_chain(refreshed, trust=TrustConfig.from_settings(settings))
    assert len(chain) == 2 and all(s.intact and s.valid and s.trusted for s in chain)
    async with db.read() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "archive.timestamp", AuditEntry.object_id == str(doc_id)))
        ).all()
        firsts = [json.loads(e.details)["first"] for e in entries]
    assert firsts == [True, False]
    # The document's page lists the chain in its signature check.
    browser = await client_for(db)
    await sign_in(browser, "lan.nguyen")
    page = await browser.get(f"/outgoing/{doc_id}")
    assert page.status_code == 200 and "Dấu thời gian lưu trữ (PAdES B-LTA)" in page.text
    assert page.text.count("Liên Thông Dev TSA") == 2 and "không hợp lệ" not in page.text


async def test_the_worker_start_reaches_the_one_archive_workflow_through_the_outbox(temporal_env, database, settings) -> None:
    from temporalio.client import WorkflowExecutionStatus

    from services.outbox import service as outbox
    from workflows.relay import deliver

    client = app_client(temporal_env.client)
    settings.task_queue = f"archive-{uuid.uuid4().hex[:6]}"
    prefix = f"{settings.task_queue}-"
    for _ in range(2):  # two worker starts: the second finds it running and keeps it
        await outbox.tell_all(database, "archive", [0], None)
        async with database.session() as session:
            (command,) = await outbox.claim(session)
        await deliver(client, settings, command, prefix=prefix)
        async with database.session() as session:
            await outbox.delivered(session, ids=[command.id])
    handle = client.get_workflow_handle(f"{prefix}archive-refresh")
    runs = [wf async for wf in client.list_workflows(f"WorkflowId = '{prefix}archive-refresh'")]
    assert len(runs) == 1 and (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await handle.terminate("test over")
