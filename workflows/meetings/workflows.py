"""One workflow per meeting (`meeting-<id>`): invitations, reminders, then open and close.

scheduled → invitations sent → reminders (e.g. 1 day and 1 hour before; recomputed when the
meeting is rescheduled) → open → closed (→ minutes, next issue); cancel at any time before it
opens. The database is the record: web routes change it, then signal this workflow.
Since patch `kernel-v2` the reminders are the deadline kernel's (workflows/kernel.py, object
`meeting`, rungs from the setting `meeting_reminder_minutes`), recorded in `deadline_notices` so
each goes out once however often the workflow wakes; executions started before it keep their
own loop until they end.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow

from workflows import retry
from workflows.heartbeat import HEARTBEAT
from workflows.kernel import PATCH_V2, Tracker

with workflow.unsafe.imports_passed_through():
    from workflows.meetings.activities import (
        AnnounceInput,
        InvitationsSent,
        MeetingActivities,
        MeetingRef,
        MeetingState,
        ReminderInput,
    )

RETRY = retry.DATABASE
TIMEOUT = timedelta(minutes=2)
PHASE_NEVER_BACK = "meeting-phase-never-back"  # patch: the state read never undoes a signalled close


class MeetingInput(BaseModel):
    meeting_id: int
    reminder_minutes: list[int] = Field(default_factory=lambda: [24 * 60, 60])


class Reschedule(BaseModel):
    starts_at: datetime
    version: int


class MeetingProgress(BaseModel):
    phase: str
    starts_at: datetime | None
    reminders_sent: list[str]
    invitations_sent: bool


class MeetingOutcome(BaseModel):
    status: str
    reminders_sent: list[str]


@workflow.defn(name="MeetingWorkflow")
class MeetingWorkflow:
    @workflow.init
    def __init__(self, data: MeetingInput) -> None:
        self.meeting_id = data.meeting_id
        self.phase = "scheduled"
        self.starts_at: datetime | None = None
        self.changed = False
        self.invited = False
        self.reminders_sent: list[str] = []
        self.pending_announcements: list[AnnounceInput] = []
        self._changes = 0  # every signal: the kernel's reminder wait re-reads the meeting
        self._kernel = False
        self._tracker = Tracker("meeting", lambda: self._changes)

    @workflow.signal
    def rescheduled(self, data: Reschedule) -> None:
        self.starts_at = data.starts_at
        self.changed = True
        self._changes += 1
        self.pending_announcements.append(AnnounceInput(meeting_id=self.meeting_id, what="rescheduled", version=data.version))

    @workflow.signal
    def opened(self) -> None:
        self._changes += 1
        if self.phase == "scheduled":
            self.phase = "open"

    @workflow.signal
    def closed(self) -> None:
        self._changes += 1
        if self.phase in ("scheduled", "open"):
            self.phase = "closed"

    @workflow.signal
    def cancelled(self) -> None:
        self._changes += 1
        if self.phase == "scheduled":
            self.phase = "cancelled"

    @workflow.query
    def progress(self) -> MeetingProgress:
        return MeetingProgress(
            phase=self.phase, starts_at=self.starts_at, reminders_sent=self.reminders_sent, invitations_sent=self.invited
        )

    async def _announce_pending(self) -> None:
        while self.pending_announcements:
            note = self.pending_announcements.pop(0)
            await workflow.execute_activity_method(
                MeetingActivities.announce, note, start_to_close_timeout=TIMEOUT, heartbeat_timeout=HEARTBEAT, retry_policy=RETRY
            )

    def _next_reminder(self, minutes: list[int]) -> tuple[str, int, datetime] | None:
        assert self.starts_at is not None
        now = workflow.now()
        due = []
        for before in minutes:
            at = self.starts_at - timedelta(minutes=before)
            key = f"{before}@{self.starts_at.isoformat()}"
            if at > now and key not in self.reminders_sent:
                due.append((at, key, before))
        if not due:
            return None
        at, key, before = min(due)
        return key, before, at

    async def _track_reminders(self, meeting_id: int) -> None:
        """Wait for a signal or the next reminder's instant, and send that reminder (the kernel)."""
        seen = self._changes
        if self.phase != "scheduled":
            return  # opened or cancelled while the announcements went out
        snap = await self._tracker.snapshot(meeting_id)
        step = await self._tracker.advance(snap, seen)
        if step is not None and snap.due_at is not None:
            self.reminders_sent.append(f"{step.removeprefix('reminder-')}@{snap.due_at.isoformat()}")

    @workflow.run
    async def run(self, data: MeetingInput) -> MeetingOutcome:
        self._kernel = workflow.patched(PATCH_V2)
        ref = MeetingRef(meeting_id=data.meeting_id)
        state: MeetingState = await workflow.execute_activity_method(
            MeetingActivities.meeting_state, ref, start_to_close_timeout=TIMEOUT, heartbeat_timeout=HEARTBEAT, retry_policy=RETRY
        )
        if self.starts_at is None:
            self.starts_at = state.starts_at
        if state.status in ("cancelled", "closed"):
            return MeetingOutcome(status=state.status, reminders_sent=[])
        if state.status == "open" and self.phase == "scheduled":
            self.phase = "open"
        elif state.status == "open" and self.phase != "open" and not workflow.patched(PHASE_NEVER_BACK):
            # Before the patch a close signalled while the state was read was undone here, and the
            # workflow waited for a close that had already come (the SIGKILL fault test found it).
            self.phase = "open"
        if self.phase == "scheduled":
            sent: InvitationsSent = await workflow.execute_activity_method(
                MeetingActivities.send_invitations, ref, start_to_close_timeout=TIMEOUT, heartbeat_timeout=HEARTBEAT, retry_policy=RETRY
            )
            self.invited = sent.notified >= 0

        while self.phase == "scheduled":
            await self._announce_pending()
            if self._kernel:
                await self._track_reminders(data.meeting_id)
                continue
            self.changed = False
            upcoming = self._next_reminder(data.reminder_minutes)
            wake = lambda: self.phase != "scheduled" or self.changed
            if upcoming is None:
                await workflow.wait_condition(wake)
                continue
            key, before, at = upcoming
            try:
                await workflow.wait_condition(wake, timeout=at - workflow.now())
            except TimeoutError:
                assert self.starts_at is not None
                await workflow.execute_activity_method(
                    MeetingActivities.send_reminder,
                    ReminderInput(meeting_id=data.meeting_id, minutes_before=before, starts_at=self.starts_at),
                    start_to_close_timeout=TIMEOUT,
                    heartbeat_timeout=HEARTBEAT,
                    retry_policy=RETRY,
                )
                self.reminders_sent.append(key)

        await self._announce_pending()
        if self.phase == "cancelled":
            await workflow.execute_activity_method(
                MeetingActivities.announce,
                AnnounceInput(meeting_id=data.meeting_id, what="cancelled"),
                start_to_close_timeout=TIMEOUT,
                heartbeat_timeout=HEARTBEAT,
                retry_policy=RETRY,
            )
            return MeetingOutcome(status="cancelled", reminders_sent=self.reminders_sent)
        await workflow.wait_condition(lambda: self.phase == "closed")
        await workflow.execute_activity_method(
            MeetingActivities.announce,
            AnnounceInput(meeting_id=data.meeting_id, what="closed"),
            start_to_close_timeout=TIMEOUT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
        )
        return MeetingOutcome(status="closed", reminders_sent=self.reminders_sent)
