"""The deadline kernel's adapter for meeting reminders: one tracked object per meeting
(`meeting`), "due" at its start; one rung per lead of the setting `meeting_reminder_minutes`
(`reminder-1440`, `reminder-60`), each telling everyone invited. A reminder that can no longer
go out in time is skipped (services.deadlines.ladder.minute_ladder); a rescheduled meeting has
a new start, so its reminders are armed again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from meetings.access import get_meeting
from meetings.models import Meeting, MeetingStatus
from meetings.scheduling import invited_user_ids
from services.audit.service import Actor, record
from services.config import Settings
from services.deadlines.ladder import Ladder, minute_ladder
from services.deadlines.service import Tracking
from services.i18n import Message, _l
from services.notifications.service import notify

KIND = "meeting"
VN_TZ = timezone(timedelta(hours=7))


def lead(minutes: int) -> Message:
    if minutes % (24 * 60) == 0:
        return _l("{n} day(s)", n=minutes // (24 * 60))
    if minutes % 60 == 0:
        return _l("{n} hour(s)", n=minutes // 60)
    return _l("{n} minute(s)", n=minutes)


async def remind(session: AsyncSession, meeting: Meeting, minutes_before: int) -> list[int]:
    """Remind everyone invited `minutes_before` the start; keyed by the start it refers to, so a
    retry tells nobody twice and a rescheduled meeting's reminders are new ones."""
    sent = await notify(
        session,
        user_ids=await invited_user_ids(session, meeting),
        kind="meeting.reminder",
        title=_l("Meeting reminder ({lead} to go): {title}", lead=lead(minutes_before), title=meeting.title),
        body=_l("Starts at {when:%H:%M on %d/%m/%Y}.", when=meeting.starts_at.astimezone(VN_TZ)),
        link=f"/meetings/{meeting.id}",
        dedupe_key=f"meeting-{meeting.id}-reminder-{minutes_before}-{meeting.starts_at.isoformat()}",
    )
    return [note.user_id for note in sent]


@dataclass
class MeetingReminders:
    ladder: Ladder = field(default_factory=lambda: minute_ladder([24 * 60, 60]))
    kind: str = KIND

    @classmethod
    def from_settings(cls, settings: Settings) -> MeetingReminders:
        return cls(minute_ladder(settings.meeting_reminder_minutes))

    async def state(self, session: AsyncSession, object_id: int) -> Tracking:
        meeting = await get_meeting(session, object_id)
        scheduled = meeting.status == MeetingStatus.scheduled
        # "Closed" for the kernel: no reminder is due any more (the meeting workflow goes on).
        return Tracking(
            status=meeting.status.value,
            revision=meeting.schedule_version,
            closed=not scheduled,
            due=meeting.starts_at if scheduled else None,
        )

    async def announce(self, session: AsyncSession, object_id: int, revision: int) -> list[int]:
        return []  # the invitations and the reschedule notices are the meeting workflow's own

    async def notice(self, session: AsyncSession, object_id: int, step: str, due: date | datetime) -> list[int]:
        meeting = await get_meeting(session, object_id)
        minutes = int(step.removeprefix("reminder-"))
        told = await remind(session, meeting, minutes)
        await record(
            session,
            actor=Actor.system("meeting-workflow"),
            action="meeting.reminder",
            object_type="meeting",
            object_id=meeting.id,
            organization_id=meeting.organization_id,
            details={"minutes_before": minutes, "starts_at": meeting.starts_at.isoformat(), "to": sorted(told)},
        )
        return told
