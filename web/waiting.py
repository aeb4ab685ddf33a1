"""What waits for the signed-in person: one read that both the navigation badges and the home page
show, so a badge always counts the lines of "Việc chờ tôi" (and the queues they link to)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.minutes import service as minutes_service
from services.authz import Principal
from services.incoming import service as incoming
from services.notifications.service import unread_query
from services.outgoing import service as outgoing
from services.reports import service as reports
from services.tasks import service as tasks


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
    from web.routes.meetings import meetings_soon, unanswered_query

    # Every plain count in one statement: each statement is a round trip (to SQLite's thread or
    # to PostgreSQL), and every page a signed-in person opens reads these badges.
    queries: dict[str, Select[int] | None] = {
        "notifications": unread_query(principal.user.id),
        "meetings_unanswered": unanswered_query(principal),
        "tasks": tasks.open_query(principal),
        "reports": reports.waiting_query(principal),
        **{f"incoming.{queue}": query for queue, query in (await incoming.queue_count_queries(session, principal=principal)).items()},
        **{f"outgoing.{queue}": query for queue, query in outgoing.count_queries(principal).items()},
    }
    asked = {key: query for key, query in queries.items() if query is not None}
    row = (await session.execute(select(*(query.scalar_subquery() for query in asked.values())))).one()
    counts = dict(zip(asked, row, strict=True))
    outgoing_counted = sum(n for key, n in counts.items() if key.startswith("outgoing."))
    signatures = await minutes_service.waiting_signature(session, user_id=principal.user.id)
    return Waiting(
        notifications=counts["notifications"],
        incoming={queue: counts.get(f"incoming.{queue}", 0) for queue in incoming.QUEUES},
        outgoing=await outgoing.review_count(session, principal) + outgoing_counted,
        meetings_soon=await meetings_soon(session, principal),
        meetings_unanswered=counts.get("meetings_unanswered", 0),
        tasks=counts["tasks"] + len(signatures),  # my open tasks and the minutes waiting for my signature
        reports=counts.get("reports", 0),
    )
