"""The meeting workflow on the real Temporal dev server, with reminders under time skipping."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from meetings import scheduling
from meetings.models import Meeting
from services.notifications.models import Notification
from tests.helpers import app_client
from tests.meetings.factory import CHAIR, ORGANISER, build_meeting, principal
from workflows.context import ActivityContext
from workflows.meetings.workflows import MeetingInput, MeetingWorkflow, Reschedule
from workflows.relay import workflow_id
from workflows.worker import build_worker


def _client(temporal_env) -> Client:  # type: ignore[no-untyped-def]
    """The environment's client (with its time-skipping interceptor) and the app's converter."""
    return app_client(temporal_env.client)


async def _kinds(database, meeting_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        rows = (
            await session.execute(
                select(Notification.kind, Notification.dedupe_key)
                .where(Notification.link == f"/meetings/{meeting_id}")
                .order_by(Notification.id)
            )
        ).all()
    return [f"{kind}|{key.rsplit(':', 1)[0]}" for kind, key in rows]


async def _wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_invitations_then_reminders_moved_by_a_reschedule_then_open_and_close(temporal_env, demo_db_sqlite, settings) -> None:
    db = demo_db_sqlite
    built = await build_meeting(db, settings, starts_in=timedelta(days=2))
    mid = built.meeting_id
    queue = f"meet-{uuid.uuid4().hex[:6]}"
    async with db.session() as session:
        starts = (await session.get(Meeting, mid)).starts_at
    async with build_worker(_client(temporal_env), task_queue=queue, context=ActivityContext(settings, db)):
        with temporal_env.with_time_skipping_disabled():
            handle = await _client(temporal_env).start_workflow(
                MeetingWorkflow.run,
                MeetingInput(meeting_id=mid, reminder_minutes=[24 * 60, 60]),
                id=f"{workflow_id('meeting', mid)}-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )

        async def invited() -> bool:
            return any(k.startswith("meeting.invited") for k in await _kinds(db, mid))

        await _wait_for(invited)
        async with db.session() as session:
            meeting = await session.get(Meeting, mid)
            assert meeting.invitations_sent_at is not None and meeting.invitation_docx_sha
            assert meeting.invitation_outgoing_id is not None  # the GM draft in the outgoing flow
        # 25 hours later the 1-day reminder has gone out, the 1-hour one has not.
        await temporal_env.fast_forward(handle, timedelta(hours=25))

        async def reminded() -> bool:
            return sum(k.startswith("meeting.reminder") for k in await _kinds(db, mid)) > 0

        await _wait_for(reminded)
        kinds = await _kinds(db, mid)
        assert [k for k in kinds if "reminder" in k] and all("reminder-1440-" in k for k in kinds if "reminder" in k)

        # Rescheduled two days later: the old 1-hour reminder never fires, the new ones do.
        organiser = await principal(db, ORGANISER)
        async with db.session() as session:
            meeting = await scheduling.reschedule_meeting(
                session,
                principal=organiser,
                meeting_id=mid,
                starts_at=starts + timedelta(days=2),
                ends_at=starts + timedelta(days=2, hours=3),
            )
            new_start, version = meeting.starts_at, meeting.schedule_version
        await handle.signal(MeetingWorkflow.rescheduled, Reschedule(starts_at=new_start, version=version))
        await temporal_env.fast_forward(handle, timedelta(hours=48))

        async def moved() -> bool:
            return sum(k.startswith("meeting.reminder") for k in await _kinds(db, mid)) >= 2 * 1 and any(
                k.startswith("meeting.rescheduled") for k in await _kinds(db, mid)
            )

        await _wait_for(moved)
        progress = await handle.query(MeetingWorkflow.progress)
        reminder_keys = sorted(progress.reminders_sent)
        assert reminder_keys == sorted([f"1440@{starts.isoformat()}", f"1440@{new_start.isoformat()}"])
        kinds = await _kinds(db, mid)
        assert not any(f"reminder-60-{starts.isoformat()}" in k for k in kinds)

        chair = await principal(db, CHAIR)
        async with db.session() as session:
            await scheduling.open_meeting(session, principal=chair, meeting_id=mid)
        await handle.signal(MeetingWorkflow.opened)
        async with db.session() as session:
            await scheduling.close_meeting(session, principal=chair, meeting_id=mid)
        await handle.signal(MeetingWorkflow.closed)
        outcome = await handle.result()
    assert outcome.status == "closed"
    kinds = await _kinds(db, mid)
    assert any(k.startswith("meeting.closed") for k in kinds)
    # Each person got each notice once.
    async with db.session() as session:
        keys = (await session.scalars(select(Notification.dedupe_key).where(Notification.link == f"/meetings/{mid}"))).all()
    assert len(keys) == len(set(keys))


async def test_a_cancelled_meeting_tells_everyone_and_ends(temporal_env, demo_db_sqlite, settings) -> None:
    db = demo_db_sqlite
    built = await build_meeting(db, settings, starts_in=timedelta(days=3))
    mid = built.meeting_id
    queue = f"meet-{uuid.uuid4().hex[:6]}"
    async with build_worker(_client(temporal_env), task_queue=queue, context=ActivityContext(settings, db)):
        handle = await _client(temporal_env).start_workflow(
            MeetingWorkflow.run, MeetingInput(meeting_id=mid), id=f"{workflow_id('meeting', mid)}-{uuid.uuid4().hex[:6]}", task_queue=queue
        )

        # Time skips on its own: both reminders go out, then the workflow waits for the chair.
        async def both() -> bool:
            return sum(k.startswith("meeting.reminder") for k in await _kinds(db, mid)) >= 2 * 6

        await _wait_for(both)
        organiser = await principal(db, ORGANISER)
        async with db.session() as session:
            await scheduling.cancel_meeting(session, principal=organiser, meeting_id=mid, reason="Trùng lịch làm việc với Trung ương Hội")
        await handle.signal(MeetingWorkflow.cancelled)
        outcome = await handle.result()
    assert outcome.status == "cancelled" and len(outcome.reminders_sent) == 2
    kinds = await _kinds(db, mid)
    assert sum(k.startswith("meeting.cancelled") for k in kinds) == sum(k.startswith("meeting.invited") for k in kinds) > 0


async def test_demo_meetings_cover_every_state_and_seeding_twice_is_harmless(temporal_env, demo_db_sqlite, settings) -> None:
    from demo.meetings import seed_demo
    from meetings.models import MeetingStatus

    db = demo_db_sqlite
    client = _client(temporal_env)
    settings.task_queue = f"demo-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, task_queue=settings.task_queue, context=ActivityContext(settings, db)):
        await seed_demo(settings=settings, database=db, client=client)
        await seed_demo(settings=settings, database=db, client=client)
        async with db.session() as session:
            statuses = sorted(m.status.value for m in (await session.scalars(select(Meeting))).all())
        assert statuses == sorted(["scheduled", "open", "closed", "draft", "cancelled"])
        async with db.session() as session:
            live = await session.scalar(select(Meeting).where(Meeting.status == MeetingStatus.open))
            from meetings.service import facts

            record = await facts(session, meeting_id=live.id)
        assert [i.status for i in record.items][:2] == ["done", "running"]


class _HoldStateRead(Interceptor):
    """Lets the workflow's first state read run, then holds its answer until `release` is set."""

    def __init__(self) -> None:
        self.read, self.release = asyncio.Event(), asyncio.Event()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        gate = self

        class Hold(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> object:
                result = await self.next.execute_activity(input)
                if activity.info().activity_type == "meeting_state" and not gate.read.is_set():
                    gate.read.set()
                    await gate.release.wait()
                return result

        return Hold(next)


async def test_a_close_signalled_while_the_state_is_read_ends_the_workflow(temporal_env, demo_db_sqlite, settings) -> None:
    """The state read answers "open"; before its answer comes back the meeting is closed and both
    signals arrive (a worker killed and replaced in between, as in the fault test): the read must
    not undo the close."""
    db = demo_db_sqlite
    built = await build_meeting(db, settings, starts_in=timedelta(days=2))
    mid = built.meeting_id
    chair = await principal(db, CHAIR)
    async with db.session() as session:
        await scheduling.open_meeting(session, principal=chair, meeting_id=mid)
    queue = f"meet-{uuid.uuid4().hex[:6]}"
    gate = _HoldStateRead()
    client = _client(temporal_env)
    with temporal_env.with_time_skipping_disabled():
        async with build_worker(client, task_queue=queue, context=ActivityContext(settings, db), interceptors=[gate]):
            handle = await client.start_workflow(
                MeetingWorkflow.run,
                MeetingInput(meeting_id=mid),
                id=f"{workflow_id('meeting', mid)}-{uuid.uuid4().hex[:6]}",
                task_queue=queue,
            )
            await asyncio.wait_for(gate.read.wait(), timeout=60)
            async with db.session() as session:
                await scheduling.close_meeting(session, principal=chair, meeting_id=mid)
            await handle.signal(MeetingWorkflow.opened)
            await handle.signal(MeetingWorkflow.closed)
            gate.release.set()
            outcome = await asyncio.wait_for(handle.result(), timeout=60)
    assert outcome.status == "closed"
