"""What waits for the signed-in person: one read that both the navigation badges and the home page
show, so a badge always counts the lines of "Việc chờ tôi" (and the queues they link to)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.incoming import service as incoming
from services.notifications.service import unread_count
from services.outgoing import service as outgoing
from services.reports import service as reports


@dataclass
class Waiting:
    notifications: int = 0
    incoming: dict[str, int] = field(default_factory=dict)  # to_register, to_direct, my_tasks
    outgoing: int = 0
    meetings_soon: list[Any] = field(default_factory=list)
    meetings_unanswered: int = 0
    tasks: int = 0
    reports: int = 0

    def counts(self) -> dict[str, int]:
        """The badge of each navigation section."""
        return {
            "notifications": self.notifications,
            "incoming": sum(self.incoming.values()),
            "outgoing": self.outgoing,
            "meetings": len(self.meetings_soon) + self.meetings_unanswered,
            "tasks": self.tasks,
            "reports": self.reports,
        }


async def waiting_for(session: AsyncSession, principal: Principal) -> Waiting:
    from web.routes.meetings import waiting_for_me as meetings_waiting
    from web.routes.tasks import nav_count as tasks_waiting

    meetings = await meetings_waiting(session, principal)
    return Waiting(
        notifications=await unread_count(session, user_id=principal.user.id),
        incoming=await incoming.queue_counts(session, principal=principal),
        outgoing=await outgoing.waiting_count(session, principal),
        meetings_soon=meetings["soon"],
        meetings_unanswered=meetings["unanswered"],
        tasks=await tasks_waiting(session, principal),
        reports=await reports.waiting_count(session, principal),
    )
