"""The deadline kernel under time skipping for its two later users (patch `kernel-v2`): the review
deadline of an outgoing draft and a meeting's reminders. Each rung goes out once, however often
the workflow is woken (repeated signals, its own periodic wake) or its worker restarted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select

from meetings import scheduling
from meetings.models import Meeting
from services.db import utcnow
from services.deadlines.models import DeadlineNotice
from services.notifications.models import Notification
from services.outgoing import service as outgoing
from services.outgoing.models import Decision
from tests.helpers import end_earlier_workflows, send, worker_with_relay
from tests.incoming.conftest import pydantic_client
from tests.meetings.factory import ORGANISER, build_meeting, principal
from tests.outgoing import flow
from workflows.context import ActivityContext
from workflows.meetings.workflows import MeetingInput, MeetingWorkflow, Reschedule
from workflows.outgoing.workflows import OutgoingWorkflow
from workflows.worker import build_worker

NOTICE_ACTIVITIES = {"kernel_notice", "outgoing_remind", "meeting_send_reminder"}


async def _until(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def _rows(db, kind: str, object_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return sorted(
            (
                await session.scalars(
                    select(DeadlineNotice.step).where(DeadlineNotice.object_kind == kind, DeadlineNotice.object_id == object_id)
                )
            ).all()
        )


async def _notice_activities(handle) -> int:  # type: ignore[no-untyped-def]
    """How many deadline notices the workflow scheduled (one activity each), over its history."""
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name in NOTICE_ACTIVITIES
    )


async def _review_titles(db, user_id: int, doc_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        titles = (
            await session.scalars(
                select(Notification.title).where(
                    Notification.kind == "outgoing.review_reminder",
                    Notification.user_id == user_id,
                    Notification.link == f"/outgoing/{doc_id}",
                )
            )
        ).all()
    return sorted(t.split(":")[0] for t in titles)


async def test_an_overdue_reviewer_is_reminded_once_per_rung_not_at_every_wake(temporal_env, demo_db_sqlite, settings) -> None:
    db = demo_db_sqlite
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "outgoing-")
    doc_id = await flow.draft(db, settings, doc_type="TB", subject="Thông báo lịch trực Tết 2027")
    async with db.session() as session:
        officer, first, second = [await flow.user(session, u) for u in ("thu.le", "ngoc.vo", "hanh.pham")]
        doc = await outgoing.get(session, document_id=doc_id)
        await outgoing.submit(
            session, actor=flow.actor_of(officer), doc=doc, reviewer_ids=[first.id, second.id], due_at=utcnow() + timedelta(days=2)
        )
    handle = client.get_workflow_handle(f"outgoing-{doc_id}")
    signals = 0

    async def wake(times: int) -> None:
        """Tell the workflow to look again `times` times and wait until it is waiting again."""
        nonlocal signals
        for _ in range(times):
            await send(client, settings, "outgoing", doc_id, "changed", "viewed")
        signals += times

        async def settled() -> bool:
            progress = await handle.query(OutgoingWorkflow.progress)
            return progress is not None and progress.signals == signals and progress.step == "waiting"

        await _until(settled)

    async with worker_with_relay(client, settings, db, "kernel-og"):
        with temporal_env.with_time_skipping_disabled():
            await wake(1)
        # Past the reminder (a day before) and the deadline, then woken again and again: by
        # signals and by six-hourly re-reads (the workflow's own timers before the kernel).
        await temporal_env.fast_forward(handle, timedelta(days=2, hours=2))  # type: ignore[attr-defined]

        async def both_rungs() -> bool:
            return await _review_titles(db, first.id, doc_id) == ["Quá hạn góp ý", "Sắp đến hạn góp ý"]

        await _until(both_rungs)
        await wake(3)
        await temporal_env.fast_forward(handle, timedelta(hours=13))  # type: ignore[attr-defined]
        await wake(2)
        assert await _review_titles(db, first.id, doc_id) == ["Quá hạn góp ý", "Sắp đến hạn góp ý"]
        assert await _review_titles(db, second.id, doc_id) == []  # not their turn yet

        # The first reviewer initials: the second one's turn, already overdue: one overdue notice.
        async with db.session() as session:
            doc = await outgoing.get(session, document_id=doc_id)
            await outgoing.decide(session, actor=flow.actor_of(first), doc=doc, decision=Decision.initialled)
        await wake(1)

        async def second_told() -> bool:
            return await _review_titles(db, second.id, doc_id) == ["Quá hạn góp ý"]

        await _until(second_told)
        await wake(3)
        await temporal_env.fast_forward(handle, timedelta(hours=13))  # type: ignore[attr-defined]
        await wake(1)
        assert await _review_titles(db, second.id, doc_id) == ["Quá hạn góp ý"]
        assert await _review_titles(db, first.id, doc_id) == ["Quá hạn góp ý", "Sắp đến hạn góp ý"]
        # Once per rung: reminder, overdue, the second reviewer's overdue; not once per wake.
        assert await _notice_activities(handle) == 3
        assert await _rows(db, "outgoing_review", doc_id) == ["overdue"]  # re-armed for the second reviewer
        await handle.terminate("test done")


async def test_a_meeting_reminder_goes_out_once_across_wakes_and_a_worker_restart(
    temporal_env,
    demo_db_sqlite,
    settings,
) -> None:
    db = demo_db_sqlite
    client = pydantic_client(temporal_env)
    built = await build_meeting(db, settings, starts_in=timedelta(days=2))
    mid = built.meeting_id
    organiser = await principal(db, ORGANISER)
    async with db.session() as session:
        starts = (await session.get(Meeting, mid)).starts_at
        moved = await scheduling.reschedule_meeting(
            session, principal=organiser, meeting_id=mid, starts_at=starts + timedelta(hours=1), ends_at=starts + timedelta(hours=4)
        )
        notice = Reschedule(starts_at=moved.starts_at, version=moved.schedule_version)
        invited = await scheduling.invited_user_ids(session, moved)
    queue = f"kernel-meet-{uuid.uuid4().hex[:6]}"
    context = ActivityContext(settings, db)

    async def reminders() -> dict[str, int]:
        async with db.session() as session:
            keys = (
                await session.scalars(
                    select(Notification.dedupe_key).where(Notification.link == f"/meetings/{mid}", Notification.kind == "meeting.reminder")
                )
            ).all()
        counts: dict[str, int] = {}
        for key in keys:
            counts[key.split("-")[3]] = counts.get(key.split("-")[3], 0) + 1
        return counts

    async def redeliver(times: int) -> None:
        """The relay delivers at least once: the reschedule notice arrives again."""
        for _ in range(times):
            await handle.signal(MeetingWorkflow.rescheduled, notice)

    async with build_worker(client, task_queue=queue, context=context):
        with temporal_env.with_time_skipping_disabled():
            handle = await client.start_workflow(
                MeetingWorkflow.run,
                MeetingInput(meeting_id=mid, reminder_minutes=settings.meeting_reminder_minutes),
                id=f"meeting-{mid}-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )
            await redeliver(3)
        await temporal_env.fast_forward(handle, timedelta(hours=26))  # type: ignore[attr-defined]

        async def day_before() -> bool:
            return await reminders() == {"1440": len(invited)}

        await _until(day_before)
        await redeliver(3)
        await _until(lambda: _announced(db, mid, len(invited)))
    # The worker stops and another one takes over: the workflow is replayed from its history.
    async with build_worker(client, task_queue=queue, context=context):
        await redeliver(2)
        await temporal_env.fast_forward(handle, timedelta(hours=22, minutes=30))  # type: ignore[attr-defined]

        async def hour_before() -> bool:
            return "60" in await reminders()

        await _until(hour_before)
        await redeliver(2)
        async with db.session() as session:
            await scheduling.cancel_meeting(session, principal=organiser, meeting_id=mid, reason="Trùng lịch công tác")
        await handle.signal(MeetingWorkflow.cancelled)
        outcome = await handle.result()
    assert outcome.status == "cancelled"
    assert sorted(outcome.reminders_sent) == sorted([f"1440@{notice.starts_at.isoformat()}", f"60@{notice.starts_at.isoformat()}"])
    assert await reminders() == {"1440": len(invited), "60": len(invited)}  # each person, each reminder, once
    assert await _notice_activities(handle) == 2
    assert await _rows(db, "meeting", mid) == ["reminder-1440", "reminder-60"]


async def _announced(db, mid: int, people: int) -> bool:  # type: ignore[no-untyped-def]
    """The reschedule was announced (once per person, however often it was delivered)."""
    async with db.session() as session:
        keys = (
            await session.scalars(
                select(Notification.dedupe_key).where(Notification.link == f"/meetings/{mid}", Notification.kind == "meeting.rescheduled")
            )
        ).all()
    return len(keys) == people
