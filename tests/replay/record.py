"""Records the event histories that tests/replay/test_replay.py replays: run by hand with
`python -m tests.replay.record [NAME-PREFIX ...]` after a workflow changed on purpose.

It seeds a demo database (SQLite), a development PKI, a time-skipping Temporal dev server and the
real worker, drives each workflow type along several paths through the services (as the pages
do) and writes `handle.fetch_history().to_json()` to tests/replay/histories/<type>-<path>.json.
Only the scenarios named on the command line are recorded (all when none is). Before recording
a path again after a `workflow.patched` change, rename its old file to
`<type>-<path>-before-<patch>.json` and commit both: the old one proves the new code still
replays executions that started before the change (docs/workflows.md).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from services.config import Settings
from services.db import Database, set_database
from tests.helpers import TEST_PAYLOAD_KEYS, app_client, free_port, wait_for

HISTORIES = Path(__file__).resolve().parent / "histories"


@dataclass
class Rig:
    env: WorkflowEnvironment
    client: Client
    db: Database
    settings: Settings


async def until(predicate: Callable[[], Awaitable[Any]], timeout: float = 120.0) -> Any:
    """Poll a condition (the database or a query) until it holds: the tests' `wait_for`, with the
    recorder's longer patience."""
    return await wait_for(predicate, timeout=timeout, every=0.1)


async def finished(handle: WorkflowHandle, timeout: float = 180.0) -> Any:
    """The workflow's result, or a clear failure when it does not end."""
    try:
        return await asyncio.wait_for(handle.result(), timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"{handle.id} did not end: {await handle.describe()}") from None


# --- incoming ---------------------------------------------------------------------------------


async def _incoming_start(rig: Rig, doc_id: int) -> WorkflowHandle:
    from workflows.incoming.workflows import IncomingInput, IncomingWorkflow

    return await rig.client.start_workflow(
        IncomingWorkflow.run,
        IncomingInput(document_id=doc_id),
        id=f"incoming-{doc_id}",
        task_queue=rig.settings.task_queue,
        start_signal="changed",
    )


async def _incoming_sync(rig: Rig, handle: WorkflowHandle, doc_id: int) -> None:
    from services.incoming.models import IncomingDocument
    from workflows.incoming.workflows import IncomingWorkflow

    async with rig.db.session() as session:
        revision = (await session.get(IncomingDocument, doc_id)).revision
    await handle.execute_update(IncomingWorkflow.sync, revision)


async def incoming_done_after_deadlines(rig: Rig) -> dict[str, WorkflowHandle]:
    """Registered → directed (due in 6 days) → reminder, overdue, escalation → done."""
    from services.calendar import vn_today
    from services.incoming import service as incoming
    from tests.incoming.conftest import direct_to, principal, register
    from workflows.incoming.workflows import IncomingWorkflow

    db = rig.db
    with rig.env.with_time_skipping_disabled():
        doc = await register(db, rig.settings, notation="101/KH-UBND", urgency="urgent")
        handle = await _incoming_start(rig, doc.id)
        await _incoming_sync(rig, handle, doc.id)
    await direct_to(db, doc.id, lead="thu.le", due=vn_today() + timedelta(days=6))
    await handle.signal(IncomingWorkflow.changed)
    await _incoming_sync(rig, handle, doc.id)
    await rig.env.fast_forward(handle, timedelta(days=20))

    async def escalated() -> bool:
        from sqlalchemy import func, select

        from services.audit.models import AuditEntry

        async with db.session() as session:
            return bool(
                await session.scalar(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(AuditEntry.action == "incoming.escalate", AuditEntry.object_id == str(doc.id))
                )
            )

    await until(escalated)
    lead = await principal(db, "thu.le")
    async with db.session() as session:
        await incoming.complete(session, principal=lead, document_id=doc.id, result="Đã hoàn thành.")
    await handle.signal(IncomingWorkflow.changed)
    assert await finished(handle) == "done"
    return {"incoming-done-after-deadlines": handle}


async def incoming_handled_done(rig: Rig) -> dict[str, WorkflowHandle]:
    """Registered → directed → progress noted → done, before any deadline."""
    from services.calendar import vn_today
    from services.incoming import service as incoming
    from tests.incoming.conftest import direct_to, principal, register
    from workflows.incoming.workflows import IncomingWorkflow

    db = rig.db
    with rig.env.with_time_skipping_disabled():
        doc = await register(db, rig.settings, notation="102/KH-UBND")
        handle = await _incoming_start(rig, doc.id)
        await _incoming_sync(rig, handle, doc.id)
        await direct_to(db, doc.id, lead="thu.le", due=vn_today() + timedelta(days=30))
        await handle.signal(IncomingWorkflow.changed)
        await _incoming_sync(rig, handle, doc.id)
        lead = await principal(db, "thu.le")
        async with db.session() as session:
            await incoming.record_progress(session, principal=lead, document_id=doc.id, body="Đang soạn.")
        await handle.signal(IncomingWorkflow.changed)
        await _incoming_sync(rig, handle, doc.id)
        async with db.session() as session:
            await incoming.complete(session, principal=lead, document_id=doc.id, result="Xong.")
        await handle.signal(IncomingWorkflow.changed)
        assert await finished(handle) == "done"
    return {"incoming-handled-done": handle}


async def incoming_returned(rig: Rig) -> dict[str, WorkflowHandle]:
    """Registered, then returned to the sender by the clerk."""
    from services.incoming import service as incoming
    from tests.incoming.conftest import principal, register
    from workflows.incoming.workflows import IncomingWorkflow

    db = rig.db
    with rig.env.with_time_skipping_disabled():
        doc = await register(db, rig.settings, notation="103/KH-UBND")
        handle = await _incoming_start(rig, doc.id)
        await _incoming_sync(rig, handle, doc.id)
        clerk = await principal(db, "mai.tran")
        async with db.session() as session:
            await incoming.return_to_sender(session, principal=clerk, document_id=doc.id, reason="Chữ ký không hợp lệ.")
        await handle.signal(IncomingWorkflow.changed)
        await finished(handle)
    return {"incoming-returned": handle}


# --- outgoing ---------------------------------------------------------------------------------


async def _outgoing_start(rig: Rig, doc_id: int, kind: str) -> WorkflowHandle:
    from workflows.outgoing.workflows import OutgoingInput, OutgoingWorkflow

    return await rig.client.start_workflow(
        OutgoingWorkflow.run,
        OutgoingInput(document_id=doc_id, dispatch_timeout_seconds=5),
        id=f"outgoing-{doc_id}",
        task_queue=rig.settings.task_queue,
        start_signal="changed",
        start_signal_args=[kind],
    )


async def _outgoing_step(rig: Rig, doc_id: int, step: str) -> bool:
    from workflows.outgoing.workflows import OutgoingWorkflow

    progress = await rig.client.get_workflow_handle(f"outgoing-{doc_id}").query(OutgoingWorkflow.progress)
    return progress is not None and progress.step == step


async def _outgoing_settled(rig: Rig, handle: WorkflowHandle, doc_id: int) -> None:
    """Wait until the workflow delivered, validated and noticed everything (running or ended)."""
    from temporalio.client import WorkflowExecutionStatus

    from workflows.outgoing.workflows import OutgoingWorkflow

    async def settled() -> bool:
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return True
        progress = await handle.query(OutgoingWorkflow.progress)
        return progress is not None and progress.step == "waiting" and progress.status in ("issued", "recalled")

    await until(settled)


async def outgoing_review_sign_issue_dispatch(rig: Rig) -> dict[str, WorkflowHandle]:
    """Submitted for review (reminded before and after the deadline) → reviewed → PDF rendered by
    the workflow → signed by the leader → numbered, sealed, issued → delivered to three bodies."""
    from services.db import utcnow
    from services.outgoing import service as outgoing
    from services.outgoing.models import Decision, OutgoingDocument
    from tests.outgoing import flow
    from workflows.outgoing.workflows import OutgoingWorkflow

    db, settings = rig.db, rig.settings
    doc_id = await flow.draft(db, settings, doc_type="TB", subject="Thông báo lịch trực Tết 2027")
    async with db.session() as session:
        officer, reviewer = await flow.user(session, "thu.le"), await flow.user(session, "ngoc.vo")
        doc = await outgoing.get(session, document_id=doc_id)
        await outgoing.submit(
            session, actor=flow.actor_of(officer), doc=doc, reviewer_ids=[reviewer.id], due_at=utcnow() + timedelta(days=2)
        )
    with rig.env.with_time_skipping_disabled():
        handle = await _outgoing_start(rig, doc_id, "submitted")
    await until(lambda: _outgoing_step(rig, doc_id, "waiting"))
    await rig.env.fast_forward(handle, timedelta(days=2, hours=2))

    async def reminded_twice() -> bool:
        from sqlalchemy import func, select

        from services.notifications.models import Notification

        async with db.session() as session:
            return (
                await session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "outgoing.review_reminder"))
            ) >= 2

    await until(reminded_twice)
    async with db.session() as session:
        doc = await outgoing.get(session, document_id=doc_id)
        await outgoing.decide(session, actor=flow.actor_of(reviewer), doc=doc, decision=Decision.initialled)
    await handle.signal(OutgoingWorkflow.changed, "reviewed")

    async def prepared() -> bool:
        async with db.session() as session:
            return (await session.get(OutgoingDocument, doc_id)).prepared_pdf_sha is not None

    await until(prepared, timeout=180)
    await until(lambda: _outgoing_step(rig, doc_id, "waiting"))
    await flow.sign(db, settings, doc_id)
    await handle.signal(OutgoingWorkflow.changed, "signed")
    await flow.issue(db, settings, doc_id)
    await handle.signal(OutgoingWorkflow.changed, "issued")
    await _outgoing_settled(rig, handle, doc_id)
    return {"outgoing-review-sign-issue-dispatch": handle}


async def _issued_without_signing(rig: Rig, subject: str) -> int:
    """An issued document to three districts (a stand-in PDF: delivery does not sign)."""
    from services.audit.service import Actor
    from services.blobs import BlobStore
    from services.outgoing import service as outgoing
    from services.outgoing.models import OutgoingDocument, Status
    from tests.outgoing import flow
    from tests.signing.conftest import make_tiny_pdf

    db, settings = rig.db, rig.settings
    doc_id = await flow.draft(db, settings, doc_type="TB", subject=subject)
    async with db.session() as session:
        doc = await session.get(OutgoingDocument, doc_id)
        doc.status = Status.signed
        doc.leader_pdf_sha = BlobStore.for_data_dir(settings.data_dir).put(make_tiny_pdf("signed"))

        async def seal(stamp):  # type: ignore[no-untyped-def]
            return outgoing.IssuedFiles(pdf=make_tiny_pdf(f"issued {stamp.number}"))

        await outgoing.issue(session, settings=settings, principal=None, actor=Actor.system(), document_id=doc_id, seal=seal)
        doc.validation_report = '{"signatures": [{"field_name": "a"}, {"field_name": "b"}]}'
    return doc_id


async def outgoing_issued_then_recalled(rig: Rig) -> dict[str, WorkflowHandle]:
    """Issued → delivered → recalled: every recipient gets the recall notice."""
    from services.audit.service import Actor
    from services.outgoing import service as outgoing

    db = rig.db
    doc_id = await _issued_without_signing(rig, "Thông báo lịch giao ban tháng 12/2026")
    with rig.env.with_time_skipping_disabled():
        handle = await _outgoing_start(rig, doc_id, "issued")
        await _outgoing_settled(rig, handle, doc_id)
        first = await handle.describe()
        async with db.session() as session:
            doc = await outgoing.get(session, document_id=doc_id)
            await outgoing.recall(
                session, settings=rig.settings, principal=None, actor=Actor.system(), doc=doc, reason="Sai thời gian giao ban"
            )
        await _outgoing_start(rig, doc_id, "recalled")  # signal-with-start: a new run if the first ended
        latest = rig.client.get_workflow_handle(f"outgoing-{doc_id}")
        assert await finished(latest) == "recalled"
    recalled = rig.client.get_workflow_handle(f"outgoing-{doc_id}", run_id=(await latest.describe()).run_id)
    issued = rig.client.get_workflow_handle(f"outgoing-{doc_id}", run_id=first.run_id)
    if issued.run_id == recalled.run_id:
        return {"outgoing-issued-recalled": recalled}
    return {"outgoing-issued-ends": issued, "outgoing-recalled-restarts": recalled}


async def outgoing_cancelled(rig: Rig) -> dict[str, WorkflowHandle]:
    """Submitted for review, then cancelled by the drafter."""
    from services.outgoing import service as outgoing
    from tests.outgoing import flow
    from workflows.outgoing.workflows import OutgoingWorkflow

    db, settings = rig.db, rig.settings
    doc_id = await flow.draft(db, settings, doc_type="TB", subject="Thông báo tạm hoãn hội nghị")
    with rig.env.with_time_skipping_disabled():
        async with db.session() as session:
            officer, reviewer = await flow.user(session, "thu.le"), await flow.user(session, "ngoc.vo")
            doc = await outgoing.get(session, document_id=doc_id)
            await outgoing.submit(session, actor=flow.actor_of(officer), doc=doc, reviewer_ids=[reviewer.id])
        handle = await _outgoing_start(rig, doc_id, "submitted")
        await until(lambda: _outgoing_step(rig, doc_id, "waiting"))
        async with db.session() as session:
            doc = await outgoing.get(session, document_id=doc_id)
            await outgoing.cancel(session, actor=flow.actor_of(officer), principal=None, doc=doc, reason="Không còn cần thiết.")
        await handle.signal(OutgoingWorkflow.changed, "cancelled")
        assert await finished(handle) == "cancelled"
    return {"outgoing-cancelled": handle}


# --- meetings ---------------------------------------------------------------------------------


async def _meeting_kinds(db: Database, meeting_id: int) -> list[str]:
    from sqlalchemy import select

    from services.notifications.models import Notification

    async with db.session() as session:
        return list((await session.scalars(select(Notification.kind).where(Notification.link == f"/meetings/{meeting_id}"))).all())


async def _meeting_start(rig: Rig, meeting_id: int) -> WorkflowHandle:
    from workflows.meetings.workflows import MeetingInput, MeetingWorkflow

    return await rig.client.start_workflow(
        MeetingWorkflow.run,
        MeetingInput(meeting_id=meeting_id, reminder_minutes=[24 * 60, 60]),
        id=f"meeting-{meeting_id}",
        task_queue=rig.settings.task_queue,
    )


async def meeting_reminders_closed(rig: Rig) -> dict[str, WorkflowHandle]:
    """Invitations → both reminders → opened → closed."""
    from meetings import scheduling
    from tests.meetings.factory import CHAIR, build_meeting, principal
    from workflows.meetings.workflows import MeetingWorkflow

    db = rig.db
    mid = (await build_meeting(db, rig.settings, starts_in=timedelta(days=2))).meeting_id
    with rig.env.with_time_skipping_disabled():
        handle = await _meeting_start(rig, mid)
    await until(lambda: _invited(db, mid))
    await rig.env.fast_forward(handle, timedelta(days=2) - timedelta(minutes=30))
    await until(lambda: _progress_has(handle, 2))
    chair = await principal(db, CHAIR)
    async with db.session() as session:
        await scheduling.open_meeting(session, principal=chair, meeting_id=mid)
    await handle.signal(MeetingWorkflow.opened)
    async with db.session() as session:
        await scheduling.close_meeting(session, principal=chair, meeting_id=mid)
    await handle.signal(MeetingWorkflow.closed)
    assert (await finished(handle)).status == "closed"
    return {"meeting-reminders-closed": handle}


async def _invited(db: Database, mid: int) -> bool:
    return any(k.startswith("meeting.invited") for k in await _meeting_kinds(db, mid))


async def _progress_has(handle: WorkflowHandle, reminders: int) -> bool:
    from workflows.meetings.workflows import MeetingWorkflow

    return len((await handle.query(MeetingWorkflow.progress)).reminders_sent) >= reminders


async def meeting_cancelled(rig: Rig) -> dict[str, WorkflowHandle]:
    """Invitations → the 1-day reminder → cancelled by the organiser."""
    from meetings import scheduling
    from tests.meetings.factory import ORGANISER, build_meeting, principal
    from workflows.meetings.workflows import MeetingWorkflow

    db = rig.db
    mid = (await build_meeting(db, rig.settings, starts_in=timedelta(days=3))).meeting_id
    with rig.env.with_time_skipping_disabled():
        handle = await _meeting_start(rig, mid)
    await until(lambda: _invited(db, mid))
    await rig.env.fast_forward(handle, timedelta(days=2, hours=1))
    await until(lambda: _progress_has(handle, 1))
    organiser = await principal(db, ORGANISER)
    async with db.session() as session:
        await scheduling.cancel_meeting(session, principal=organiser, meeting_id=mid, reason="Trùng lịch làm việc")
    await handle.signal(MeetingWorkflow.cancelled)
    assert (await finished(handle)).status == "cancelled"
    return {"meeting-cancelled": handle}


async def meeting_rescheduled(rig: Rig) -> dict[str, WorkflowHandle]:
    """Invitations → 1-day reminder → rescheduled two days later → new reminders → closed."""
    from meetings import scheduling
    from meetings.models import Meeting
    from tests.meetings.factory import CHAIR, ORGANISER, build_meeting, principal
    from workflows.meetings.workflows import MeetingWorkflow, Reschedule

    db = rig.db
    mid = (await build_meeting(db, rig.settings, starts_in=timedelta(days=2))).meeting_id
    async with db.session() as session:
        starts = (await session.get(Meeting, mid)).starts_at
    with rig.env.with_time_skipping_disabled():
        handle = await _meeting_start(rig, mid)
    await until(lambda: _invited(db, mid))
    await rig.env.fast_forward(handle, timedelta(hours=25))
    await until(lambda: _progress_has(handle, 1))
    organiser = await principal(db, ORGANISER)
    async with db.session() as session:
        meeting = await scheduling.reschedule_meeting(
            session, principal=organiser, meeting_id=mid, starts_at=starts + timedelta(days=2), ends_at=starts + timedelta(days=2, hours=3)
        )
        new_start, version = meeting.starts_at, meeting.schedule_version
    await handle.signal(MeetingWorkflow.rescheduled, Reschedule(starts_at=new_start, version=version))
    await rig.env.fast_forward(handle, timedelta(hours=48))
    await until(lambda: _progress_has(handle, 2))
    chair = await principal(db, CHAIR)
    async with db.session() as session:
        await scheduling.open_meeting(session, principal=chair, meeting_id=mid)
    await handle.signal(MeetingWorkflow.opened)
    async with db.session() as session:
        await scheduling.close_meeting(session, principal=chair, meeting_id=mid)
    await handle.signal(MeetingWorkflow.closed)
    assert (await finished(handle)).status == "closed"
    return {"meeting-rescheduled": handle}


# --- minutes and tasks -------------------------------------------------------------------------


async def minutes_returned_then_signed(rig: Rig) -> dict[str, WorkflowHandle]:
    """Closed → secretary signs → chair refuses (returned) → closed again → both sign →
    numbered → distributed."""
    from demo.minutes import _close, principal, sample_content, sign, write
    from meetings.minutes import service as minutes_service
    from meetings.minutes.models import MinutesStatus
    from tests.minutes.conftest import ITEMS, Plan, hold_meeting
    from workflows.minutes.workflows import MinutesWorkflow, minutes_workflow_id

    db, settings = rig.db, rig.settings
    held = await hold_meeting(db, settings, Plan(title="Hội nghị sơ kết 6 tháng đầu năm 2026", items=ITEMS))
    minutes_id = await write(db, held, sample_content(held, conclusions=["Thông qua.", "Giao các huyện.", "Thông qua."]))
    handle = rig.client.get_workflow_handle(minutes_workflow_id(minutes_id))

    async def status_is(*statuses: MinutesStatus) -> bool:
        async with db.session() as session:
            return (await minutes_service.get(session, minutes_id=minutes_id)).status in statuses

    with rig.env.with_time_skipping_disabled():
        await _close(db, settings, rig.client, minutes_id)
        await sign(db, settings, minutes_id, "ngoc.vo", rig.client)
        await until(lambda: status_is(MinutesStatus.awaiting_chair))
        chair = await principal(db, "lan.nguyen")
        async with db.session() as session:
            await minutes_service.refuse(session, principal=chair, minutes_id=minutes_id, comment="Bổ sung kết luận.")
        await handle.signal(MinutesWorkflow.returned)
        secretary = await principal(db, "ngoc.vo")
        async with db.session() as session:
            minutes = await minutes_service.get(session, minutes_id=minutes_id)
            content = minutes_service.content_of(minutes)
        content["items"][str(held.item_ids[1])]["conclusion"] = "Giao các huyện xây dựng kế hoạch trước ngày 15/7."
        async with db.session() as session:
            assert (
                await minutes_service.save(
                    session, principal=secretary, minutes_id=minutes_id, base_revision=minutes.revision, content=content
                )
            ).saved
        await _close(db, settings, rig.client, minutes_id)
        await sign(db, settings, minutes_id, "ngoc.vo", rig.client)
        await until(lambda: status_is(MinutesStatus.awaiting_chair))
        await sign(db, settings, minutes_id, "lan.nguyen", rig.client)
        assert await finished(handle)
    return {"minutes-returned-then-signed": handle}


async def minutes_reminded_then_signed(rig: Rig) -> dict[str, WorkflowHandle]:
    """Closed → the secretary is reminded and told she is overdue → both sign → distributed."""
    from demo.minutes import _close, sample_content, sign, write
    from tests.minutes.conftest import ITEMS, Plan, hold_meeting
    from workflows.minutes.workflows import MinutesWorkflow, minutes_workflow_id

    db, settings = rig.db, rig.settings
    held = await hold_meeting(db, settings, Plan(title="Họp Ban Thường vụ", items=ITEMS[:1], poll=None, units={}, speeches=[]))
    minutes_id = await write(db, held, sample_content(held, conclusions=["Thống nhất."]))
    handle = rig.client.get_workflow_handle(minutes_workflow_id(minutes_id))
    with rig.env.with_time_skipping_disabled():
        await _close(db, settings, rig.client, minutes_id)
    await rig.env.fast_forward(handle, timedelta(days=6))

    async def noticed() -> bool:
        return len((await handle.query(MinutesWorkflow.progress)).notices) >= 2

    await until(noticed)
    await sign(db, settings, minutes_id, "ngoc.vo", rig.client)

    async def chair_turn() -> bool:
        return (await handle.query(MinutesWorkflow.progress)).phase == "awaiting_chair"

    await until(chair_turn)
    await sign(db, settings, minutes_id, "lan.nguyen", rig.client)
    assert await finished(handle)
    return {"minutes-reminded-then-signed": handle}


async def _task_rig(rig: Rig, owners: list[tuple[str, int]]) -> list[int]:
    from demo.minutes import add_tasks, write
    from services.calendar import vn_today
    from services.tasks.models import OwnerKind
    from tests.minutes.conftest import ITEMS, Plan, hold_meeting

    held = await hold_meeting(rig.db, rig.settings, Plan(title="Họp giao ban", items=ITEMS[:1], poll=None, units={}, speeches=[]))
    minutes_id = await write(rig.db, held, {"items": {}})
    return await add_tasks(
        rig.db, minutes_id, held, [(0, title, OwnerKind.user, "thu.le", vn_today() + timedelta(days=days)) for title, days in owners]
    )


async def _task_start(rig: Rig, task_id: int) -> WorkflowHandle:
    from workflows.tasks.workflows import TaskInput, TaskWorkflow

    return await rig.client.start_workflow(
        TaskWorkflow.run, TaskInput(task_id=task_id), id=f"task-{task_id}", task_queue=rig.settings.task_queue, start_signal="changed"
    )


async def tasks_all(rig: Rig) -> dict[str, WorkflowHandle]:
    """Three tasks: done before any deadline; reminded, overdue, escalated, then done; cancelled."""
    from sqlalchemy import func, select

    from demo.minutes import principal
    from services.audit.models import AuditEntry
    from services.tasks import service as tasks
    from tests.minutes.conftest import hold_meeting  # noqa: F401 (same helpers as the task tests)
    from workflows.tasks.workflows import TaskWorkflow

    db = rig.db
    done_id, late_id, cancelled_id = await _task_rig(
        rig, [("Gửi danh sách hội viên", 20), ("Báo cáo kết quả hỗ trợ phụ nữ khởi nghiệp", 10), ("Khảo sát nhu cầu", 15)]
    )
    owner, assigner = await principal(db, "thu.le"), await principal(db, "ngoc.vo")
    with rig.env.with_time_skipping_disabled():
        done, late, cancelled = [await _task_start(rig, t) for t in (done_id, late_id, cancelled_id)]
        for handle in (done, late, cancelled):
            await handle.execute_update(TaskWorkflow.sync, 1)
        async with db.session() as session:
            await tasks.complete(session, principal=owner, task_id=done_id, result="Đã gửi.")
        await done.signal(TaskWorkflow.changed)
        assert await finished(done) == "done"
        async with db.session() as session:
            await tasks.cancel(session, principal=assigner, task_id=cancelled_id, reason="Không còn cần thiết.")
        await cancelled.signal(TaskWorkflow.changed)
        await finished(cancelled)
    await rig.env.fast_forward(late, timedelta(days=30))

    async def escalated() -> bool:
        async with db.session() as session:
            return bool(await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "task.escalate")))

    await until(escalated)
    async with db.session() as session:
        await tasks.complete(session, principal=owner, task_id=late_id, result="Đã nộp báo cáo.")
    await late.signal(TaskWorkflow.changed)
    assert await finished(late) == "done"
    return {"task-done": done, "task-reminded-overdue-escalated-done": late, "task-cancelled": cancelled}


# --- reports ----------------------------------------------------------------------------------


async def _report(rig: Rig, prefix: str, n: int, deadline_days: float = 3):  # type: ignore[no-untyped-def]
    from services.db import utcnow
    from tests.reports.factory import bulk_orgs, create_request, tracking
    from workflows.reports.workflows import ReportRequestWorkflow, RequestInput

    orgs = await bulk_orgs(rig.db, n, prefix=prefix)
    req = await create_request(rig.db, rig.settings, orgs, deadline=utcnow() + timedelta(days=deadline_days))
    with rig.env.with_time_skipping_disabled():
        parent = await rig.client.start_workflow(
            ReportRequestWorkflow.run, RequestInput(request_id=req.id), id=f"report-request-{req.id}", task_queue=rig.settings.task_queue
        )
    await until(lambda: _delivered(rig, req.id, n))
    # The parent delivers a batch before it starts its children: wait for them too (they are signalled next).
    await until(lambda: _children_started(parent, n))
    await until(lambda: tracking(parent, n))  # it keeps their deadlines (signalled next)
    return req.id, orgs, parent


async def _children_started(parent: WorkflowHandle, n: int) -> bool:
    from workflows.reports.workflows import ReportRequestWorkflow

    return (await parent.query(ReportRequestWorkflow.progress)).started >= n


async def _delivered(rig: Rig, request_id: int, n: int) -> bool:
    from sqlalchemy import func, select

    from services.reports.models import ReportTarget

    async with rig.db.session() as session:
        return (
            await session.scalar(
                select(func.count())
                .select_from(ReportTarget)
                .where(ReportTarget.request_id == request_id, ReportTarget.delivered_at.is_not(None))
            )
        ) >= n


async def _poke_targets(rig: Rig, request_id: int, orgs: list[int]) -> None:
    """What the relay does for a changed target of a request that tracks its targets itself."""
    from workflows.reports.workflows import ReportRequestWorkflow

    for oid in orgs:
        await rig.client.get_workflow_handle(f"report-request-{request_id}").signal(ReportRequestWorkflow.target_changed, oid)


async def reports_submitted(rig: Rig) -> dict[str, WorkflowHandle]:
    """Fan-out to three bodies; all three report; the request completes."""
    from tests.reports.factory import principal, submit
    from workflows.reports.workflows import ReportRequestWorkflow

    rid, orgs, parent = await _report(rig, "rsub", 3)
    officer = await principal(rig.db, "rsub.officer")
    for oid in orgs:
        await submit(rig.db, rig.settings, rid, oid, officer)
    await _poke_targets(rig, rid, orgs)
    await parent.signal(ReportRequestWorkflow.wake)
    await finished(parent)
    return {"report-request-submitted": parent}


async def reports_closed_early(rig: Rig) -> dict[str, WorkflowHandle]:
    """Fan-out to two bodies; one reports; the requester closes early: the other is missing."""
    from services.reports import service as reports
    from tests.reports.factory import principal, submit
    from workflows.reports.workflows import ReportRequestWorkflow

    rid, orgs, parent = await _report(rig, "rclo", 2)
    officer = await principal(rig.db, "rclo.officer")
    await submit(rig.db, rig.settings, rid, orgs[0], officer)
    await _poke_targets(rig, rid, orgs[:1])
    lan = await principal(rig.db, "lan.nguyen")
    async with rig.db.session() as session:
        await reports.close(session, principal=lan, request_id=rid, reason="Tổng hợp số liệu.")
    await parent.signal(ReportRequestWorkflow.wake)
    await finished(parent)
    return {"report-request-closed-early": parent}


async def reports_extended(rig: Rig) -> dict[str, WorkflowHandle]:
    """One body is reminded, the deadline is extended (the request's workflow reads its target
    again), it reports before the new deadline; the request completes."""
    from sqlalchemy import func, select

    from services.audit.models import AuditEntry
    from services.db import utcnow
    from services.reports import service as reports
    from tests.reports.factory import principal, submit
    from workflows.reports.workflows import ReportRequestWorkflow

    rid, orgs, parent = await _report(rig, "rext", 1)
    await rig.env.fast_forward(parent, timedelta(days=1, hours=2))

    async def reminded() -> bool:
        async with rig.db.session() as session:
            return bool(await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "report.remind")))

    await until(reminded)

    async def upcoming() -> str:
        return (await parent.query(ReportRequestWorkflow.next_notices)).get(orgs[0], "")

    async def overdue_next() -> bool:
        return (await upcoming()).startswith("overdue")

    await until(overdue_next)
    before = await upcoming()
    lan = await principal(rig.db, "lan.nguyen")
    async with rig.db.session() as session:
        await reports.extend(session, principal=lan, request_id=rid, deadline=utcnow() + timedelta(days=10), reason="Gia hạn theo đề nghị.")
    await parent.signal(ReportRequestWorkflow.deadline_changed)

    async def moved() -> bool:
        return (await upcoming()) not in ("", before)

    await until(moved)
    officer = await principal(rig.db, "rext.officer")
    await submit(rig.db, rig.settings, rid, orgs[0], officer)
    await _poke_targets(rig, rid, orgs)
    await parent.signal(ReportRequestWorkflow.wake)
    await finished(parent)
    return {"report-request-extended": parent}


async def reports_in_batches(rig: Rig) -> dict[str, WorkflowHandle]:
    """Five bodies, two per batch: the parent delivers the next batch while it reads the deadlines
    of one, and continues as new in mid fan-out; the requester then closes the request."""
    from services.db import utcnow
    from services.reports import service as reports
    from tests.reports.factory import bulk_orgs, create_request, principal
    from workflows.reports.workflows import ReportRequestWorkflow, RequestInput

    orgs = await bulk_orgs(rig.db, 5, prefix="rbat")
    rig.settings.report_fanout_batch = 2
    try:
        req = await create_request(rig.db, rig.settings, orgs, deadline=utcnow() + timedelta(days=3))
        with rig.env.with_time_skipping_disabled():
            parent = await rig.client.start_workflow(
                ReportRequestWorkflow.run,
                RequestInput(request_id=req.id, history_limit=40),
                id=f"report-request-{req.id}",
                task_queue=rig.settings.task_queue,
            )
        await until(lambda: _delivered(rig, req.id, 5))
        await until(lambda: _children_started(parent, 5))
    finally:
        rig.settings.report_fanout_batch = 100
    assert (await parent.query(ReportRequestWorkflow.progress)).runs > 1, "the parent should have continued as new"
    lan = await principal(rig.db, "lan.nguyen")
    async with rig.db.session() as session:
        await reports.close(session, principal=lan, request_id=req.id, reason="Tổng hợp số liệu.")
    await parent.signal(ReportRequestWorkflow.wake)
    await finished(parent)
    first_run = rig.client.get_workflow_handle(parent.id, run_id=parent.first_execution_run_id)
    return {"report-request-in-batches": first_run, "report-request-in-batches-last-run": parent}


# --- audit ------------------------------------------------------------------------------------


async def audit_checkpoint(rig: Rig) -> dict[str, WorkflowHandle]:
    from workflows.audit.workflows import AuditCheckpointWorkflow

    handle = await rig.client.start_workflow(
        AuditCheckpointWorkflow.run, id=f"audit-checkpoint-{uuid.uuid4().hex[:6]}", task_queue=rig.settings.task_queue
    )
    await finished(handle)
    return {"audit-checkpoint": handle}


# --- archive ----------------------------------------------------------------------------------


async def archive_refresh(rig: Rig) -> dict[str, WorkflowHandle]:
    """Two weekly passes: the first stamps an issued document, the second finds nothing due."""
    from workflows.archive.workflows import ArchiveInput, ArchiveRefreshWorkflow

    await _issued_without_signing(rig, "Lưu trữ: dấu thời gian")
    handle = await rig.client.start_workflow(
        ArchiveRefreshWorkflow.run,
        ArchiveInput(every_days=7),
        id=f"archive-refresh-{uuid.uuid4().hex[:6]}",
        task_queue=rig.settings.task_queue,
    )
    await rig.env.fast_forward(handle, timedelta(days=15))  # type: ignore[attr-defined]

    async def two_passes() -> bool:
        return (await handle.query(ArchiveRefreshWorkflow.progress))["passes"] >= 2

    await until(two_passes)
    await handle.terminate("recorded")
    return {"archive-refresh": handle}


# --- register prints --------------------------------------------------------------------------


async def register_print(rig: Rig) -> dict[str, WorkflowHandle]:
    """The clerk prints this year's incoming register: started through the outbox (the relay),
    printed in one part, kept."""
    from sqlalchemy import select
    from temporalio.service import RPCError

    from services.authz import load_principal
    from services.calendar import vn_today
    from services.directory.models import User
    from services.documents import register_prints
    from services.outbox.service import workflow_prefix

    async with rig.db.session() as session:
        clerk = await load_principal(session, await session.scalar(select(User).where(User.username == "mai.tran")))
        job = await register_prints.start(
            session, principal=clerk, kind="incoming", series="chung", organization_id=clerk.me.organization_id, year=vn_today().year
        )
        print_id = job.id
        prefix = await workflow_prefix(session)  # the relay's (this database's) workflow-ID prefix
    handle = rig.client.get_workflow_handle(f"{prefix}register-print-{print_id}")

    async def started() -> bool:
        try:
            await handle.describe()
        except RPCError:
            return False
        return True

    await until(started)
    assert await finished(handle) == "done"
    return {"register-print-done": handle}


SCENARIOS: list[Callable[[Rig], Awaitable[dict[str, WorkflowHandle]]]] = [
    archive_refresh,
    audit_checkpoint,
    incoming_handled_done,
    incoming_done_after_deadlines,
    incoming_returned,
    outgoing_cancelled,
    outgoing_issued_then_recalled,
    outgoing_review_sign_issue_dispatch,
    meeting_reminders_closed,
    meeting_cancelled,
    meeting_rescheduled,
    tasks_all,
    minutes_returned_then_signed,
    minutes_reminded_then_signed,
    reports_submitted,
    reports_closed_early,
    reports_extended,
    reports_in_batches,
    register_print,
]


def _prepare(root: Path) -> tuple[Settings, Any]:
    """A demo database, settings whose data dir holds a development PKI with trust services."""
    from demo.directory import DEMO_PIN, demo_directory_specs
    from signing.pki import init_dev_pki
    from signing.trust_services import start_trust_services
    from tests.conftest import Templates

    url = Templates(root).template("sqlite", demo=True)
    data_dir = root / "data"
    data_dir.mkdir()
    port = free_port()
    people, orgs = demo_directory_specs(pin=DEMO_PIN)
    init_dev_pki(data_dir=data_dir, people=people, orgs=orgs, base_url=f"http://127.0.0.1:{port}")
    services = start_trust_services(data_dir, host="127.0.0.1", port=port)
    settings = Settings(
        data_dir=data_dir, secret_key="record-secret", temporal_address=None, database_url=url, payload_keys=TEST_PAYLOAD_KEYS
    )
    settings.trust_services_port = port
    settings.outgoing_dispatch_timeout_seconds = 5
    settings.task_queue = f"record-{uuid.uuid4().hex[:6]}"
    return settings, services


async def record(names: list[str]) -> None:
    from tests.conftest import temporal_binary
    from workflows.context import ActivityContext
    from workflows.relay import OutboxRelay
    from workflows.worker import build_worker

    root = Path(tempfile.mkdtemp(prefix="lienthong-record-"))
    settings, services = await asyncio.to_thread(_prepare, root)
    db = Database(settings.database_url)
    set_database(db)
    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=["--headless", "--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"],
    )
    client = app_client(env.client)  # payloads sealed with the test key ring, which the replay test holds
    rig = Rig(env=env, client=client, db=db, settings=settings)
    HISTORIES.mkdir(parents=True, exist_ok=True)
    # Services queue their signals in the outbox (minutes closing, for one): a relay delivers them, as
    # beside `lienthong worker`.
    relay = asyncio.create_task(OutboxRelay(client, db, settings, poll=timedelta(milliseconds=200), reconcile_every=None).run())
    try:
        async with build_worker(client, task_queue=settings.task_queue, context=ActivityContext(settings, db)):
            for scenario in SCENARIOS:
                if names and not any(scenario.__name__.startswith(n.replace("-", "_")) for n in names):
                    continue
                print(f"{scenario.__name__} …", flush=True)
                handles = await scenario(rig)
                for name, handle in handles.items():
                    history = await handle.fetch_history()
                    # The workflow ID goes with the history: code may read it (report children derive theirs).
                    recorded = {"workflowId": handle.id, **json.loads(history.to_json())}
                    text = json.dumps(recorded, separators=(",", ":"))
                    (HISTORIES / f"{name}.json").write_text(text + "\n")
                    print(f"  {name}.json: {len(history.events)} events, {len(text) // 1024} KiB", flush=True)
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await env.shutdown()
        await db.dispose()
        services.stop()


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
