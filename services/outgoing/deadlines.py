"""The deadline kernel's adapter for the review of an outgoing draft: one tracked object per
document (`outgoing_review`), due at the current round's review deadline; a reminder hours
before it (not once it passed) and an overdue notice at it, to the reviewers whose turn it is
(setting `outgoing_review_reminder_hours`). A new round, or the next reviewer's turn in a
sequential review, arms both again (services.outgoing.service rearms them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.config import Settings
from services.deadlines.ladder import Ladder, Rung
from services.deadlines.service import Tracking
from services.outgoing import service as outgoing
from services.outgoing.models import Status

KIND = "outgoing_review"
STAGES = {"reminder": "soon", "overdue": "overdue"}  # the rung → the reminder's stage (and dedupe key)


def review_ladder(reminder_before: int) -> Ladder:
    return Ladder((Rung("reminder", -reminder_before, skip_once_due=True), Rung("overdue", 0)))


@dataclass
class OutgoingReviewDeadlines:
    ladder: Ladder = field(default_factory=lambda: review_ladder(24))
    kind: str = KIND

    @classmethod
    def from_settings(cls, settings: Settings) -> OutgoingReviewDeadlines:
        return cls(review_ladder(settings.outgoing_review_reminder_hours))

    async def state(self, session: AsyncSession, object_id: int) -> Tracking:
        doc = await outgoing.get(session, document_id=object_id)
        rows = outgoing.current_reviews(doc, await outgoing.reviews(session, document_id=doc.id))
        dues = [r.due_at for r in rows if r.due_at is not None]
        # "Closed" for the kernel: the review is over (the document's own workflow goes on).
        return Tracking(
            status=doc.status.value, revision=doc.review_round, closed=doc.status != Status.in_review, due=min(dues) if dues else None
        )

    async def announce(self, session: AsyncSession, object_id: int, revision: int) -> list[int]:
        return []  # submitting and each decision tell the next reviewers

    async def notice(self, session: AsyncSession, object_id: int, step: str, due: date | datetime) -> list[int]:
        return await outgoing.remind_current_reviewers(session, document_id=object_id, stage=STAGES[step])
