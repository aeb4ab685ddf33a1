"""Activities of the meeting process: thin, idempotent wrappers over meetings/ and notify.

Each notification carries a dedupe key built from the meeting, the step and (for reminders)
the start time it refers to, so a retried activity notifies nobody twice and a rescheduled
meeting's reminders are new ones.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity

from meetings import live
from meetings.access import get_meeting
from meetings.invitations import request_invitation
from meetings.models import MeetingStatus
from meetings.reminders import VN_TZ, remind
from meetings.scheduling import invited_user_ids
from services.audit.service import Actor, record
from services.db import utcnow
from services.i18n import _l
from services.notifications.service import notify
from workflows.context import ActivityContext

SYSTEM = Actor.system("meeting-workflow")


class MeetingRef(BaseModel):
    meeting_id: int


class MeetingState(BaseModel):
    status: str
    starts_at: datetime
    schedule_version: int


class InvitationsSent(BaseModel):
    notified: int
    docx_sha: str
    outgoing_id: int | None = None


class ReminderInput(BaseModel):
    meeting_id: int
    minutes_before: int
    starts_at: datetime


class AnnounceInput(BaseModel):
    meeting_id: int
    what: str  # rescheduled | cancelled | closed
    version: int = 0


class MeetingActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @activity.defn(name="meeting_state")
    async def meeting_state(self, ref: MeetingRef) -> MeetingState:
        async with self.context.database.read() as session:
            meeting = await get_meeting(session, ref.meeting_id)
            return MeetingState(status=meeting.status.value, starts_at=meeting.starts_at, schedule_version=meeting.schedule_version)

    @activity.defn(name="meeting_send_invitations")
    async def send_invitations(self, ref: MeetingRef) -> InvitationsSent:
        """Produce the GM (outgoing draft + DOCX on the meeting) and tell everyone invited."""
        async with self.context.database.session() as session:
            meeting = await get_meeting(session, ref.meeting_id, for_update=True)
            result = await request_invitation(session, settings=self.context.settings, meeting_id=meeting.id, actor=SYSTEM)
            users = await invited_user_ids(session, meeting)
            sent = await notify(
                session,
                user_ids=users,
                kind="meeting.invited",
                title=_l("Meeting invitation: {title}", title=meeting.title),
                body=_l("Time: {when:%H:%M on %d/%m/%Y}. {place}", when=meeting.starts_at.astimezone(VN_TZ), place=meeting.place or ""),
                link=f"/meetings/{meeting.id}",
                dedupe_key=f"meeting-{meeting.id}-invited",
            )
            if meeting.invitations_sent_at is None:
                meeting.invitations_sent_at = utcnow()
                await record(
                    session,
                    actor=SYSTEM,
                    action="meeting.invitations_sent",
                    object_type="meeting",
                    object_id=meeting.id,
                    organization_id=meeting.organization_id,
                    details={"notified": sorted(users), "outgoing_id": result.outgoing_id, "docx_sha256": result.docx_sha},
                )
                await live.emit(session, meeting.id, "documents", {})
            return InvitationsSent(notified=len(sent), docx_sha=result.docx_sha, outgoing_id=result.outgoing_id)

    @activity.defn(name="meeting_send_reminder")
    async def send_reminder(self, data: ReminderInput) -> int:
        """Remind everyone invited; nothing when the meeting moved or is no longer scheduled.
        Only executions started before patch `kernel-v2` call it (the kernel's adapter since)."""
        async with self.context.database.session() as session:
            meeting = await get_meeting(session, data.meeting_id)
            if meeting.status != MeetingStatus.scheduled or meeting.starts_at != data.starts_at:
                return 0
            return len(await remind(session, meeting, data.minutes_before))

    @activity.defn(name="meeting_announce")
    async def announce(self, data: AnnounceInput) -> int:
        """Tell everyone invited that the meeting was rescheduled, cancelled or closed."""
        async with self.context.database.session() as session:
            meeting = await get_meeting(session, data.meeting_id)
            if data.what == "rescheduled":
                title = _l("Meeting rescheduled: {title}", title=meeting.title)
                body = _l("New time: {when:%H:%M on %d/%m/%Y}.", when=meeting.starts_at.astimezone(VN_TZ))
            elif data.what == "cancelled":
                title = _l("Meeting cancelled: {title}", title=meeting.title)
                body = _l("Reason: {reason}", reason=meeting.cancel_reason or "")
            else:
                title = _l("Meeting closed: {title}", title=meeting.title)
                body = _l("See the voting results and documents on the meeting page.")
            sent = await notify(
                session,
                user_ids=await invited_user_ids(session, meeting),
                kind=f"meeting.{data.what}",
                title=title,
                body=body,
                link=f"/meetings/{meeting.id}",
                dedupe_key=f"meeting-{meeting.id}-{data.what}-{data.version}",
            )
            return len(sent)
