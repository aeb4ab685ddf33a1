"""The deadline kernel's adapter for incoming documents: who is told what at each rung.

The ladder counts working days from the due date set at direction (settings
`incoming_reminder_working_days`, `incoming_escalate_after_working_days`); a reminder and an
overdue notice go to the lead handler, the escalation to the leader who directed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor
from services.config import Settings
from services.deadlines.ladder import Ladder, working_day_ladder
from services.deadlines.service import Tracking
from services.directory.models import User
from services.events.service import publish
from services.i18n import _l
from services.incoming import service as incoming
from services.incoming.models import CLOSED, OPEN_HANDLING
from services.notifications.service import notify

KIND = "incoming"


@dataclass
class IncomingDeadlines:
    ladder: Ladder = field(default_factory=lambda: working_day_ladder(reminder_before=2, escalate_after=1))
    kind: str = KIND

    @classmethod
    def from_settings(cls, settings: Settings) -> IncomingDeadlines:
        return cls(
            working_day_ladder(
                reminder_before=settings.incoming_reminder_working_days, escalate_after=settings.incoming_escalate_after_working_days
            )
        )

    async def state(self, session: AsyncSession, object_id: int) -> Tracking:
        doc = await incoming._load(session, object_id)
        due = doc.due_date if doc.status in OPEN_HANDLING else None
        return Tracking(status=doc.status, revision=doc.revision or 0, closed=doc.status in CLOSED, due=due)

    async def announce(self, session: AsyncSession, object_id: int, revision: int) -> list[int]:
        return await incoming.notify_step(session, document_id=object_id, revision=revision)

    async def notice(self, session: AsyncSession, object_id: int, step: str, due: date | datetime) -> list[int]:
        assert isinstance(due, date)
        doc = await incoming._load(session, object_id)
        link = f"/incoming/{doc.id}"
        label = f"{doc.number_notation} — {doc.subject[:120]}"
        key = f"incoming-{doc.id}-{step}-{due.isoformat()}"
        handlers = [doc.lead_user_id] if doc.lead_user_id else []
        actor = Actor.system("deadline")
        if step == "reminder":
            told = handlers
            await notify(
                session,
                user_ids=handlers,
                kind="incoming.reminder",
                link=link,
                dedupe_key=key,
                title=_l("Due soon ({due:%d/%m/%Y}): {label}", due=due, label=label),
                body=_l("A document you lead is due soon. Update the progress or complete it."),
            )
            await incoming._audit(session, actor, doc, "incoming.remind", due_date=due.isoformat(), to=handlers)
        elif step == "overdue":
            told = handlers
            await notify(
                session,
                user_ids=handlers,
                kind="incoming.overdue",
                link=link,
                dedupe_key=key,
                title=_l("Overdue (due {due:%d/%m/%Y}): {label}", due=due, label=label),
                body=_l("The document is overdue. Complete it or ask a leader for an extension."),
            )
            await incoming._audit(session, actor, doc, "incoming.overdue", due_date=due.isoformat(), to=handlers)
        else:
            told = (
                [doc.directed_by_id] if doc.directed_by_id else await incoming._users_with(session, doc.organization_id, incoming.LEADERS)
            )
            lead = await session.get(User, doc.lead_user_id) if doc.lead_user_id else None
            await notify(
                session,
                user_ids=told,
                kind="incoming.escalation",
                link=link,
                dedupe_key=key,
                title=_l("Document overdue and not handled (due {due:%d/%m/%Y}): {label}", due=due, label=label),
                body=_l("Lead handler: {value}. Follow it up or extend the due date.", value=lead.full_name if lead else "—"),
            )
            await incoming._audit(session, actor, doc, "incoming.escalate", due_date=due.isoformat(), to=told)
        await session.flush()
        await publish(session, channel=f"incoming-{doc.id}", kind="incoming.deadline", payload={"kind": step})
        return told
