"""The deadline kernel's adapter for the signatures of the minutes: one tracked object per
minutes and role (`minutes.secretary`, `minutes.chair`), due on the date the role must sign by;
a reminder on the morning of that day, an overdue notice the next morning (to the chair too when
the secretary is late). Closing the minutes again (a new round) arms both again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from meetings.minutes import service as minutes_service
from meetings.minutes.models import MinutesStatus
from services.deadlines.ladder import Ladder, Rung
from services.deadlines.service import Tracking

ROLES = ("secretary", "chair")


def signature_ladder() -> Ladder:
    return Ladder((Rung("reminder", None), Rung("overdue", None, after_due=True)))


@dataclass
class MinutesSignatureDeadlines:
    role: str
    ladder: Ladder = field(default_factory=signature_ladder)

    @property
    def kind(self) -> str:
        return f"minutes.{self.role}"

    @classmethod
    def for_role(cls, role: str) -> MinutesSignatureDeadlines:
        if role not in ROLES:
            raise ValueError(f"no signature deadline for {role!r}")
        return cls(role)

    async def state(self, session: AsyncSession, object_id: int) -> Tracking:
        minutes = await minutes_service.get(session, minutes_id=object_id)
        signing = await minutes_service.signing_state(session, minutes_id=object_id)
        due = signing.due if signing.role == self.role else None
        return Tracking(status=signing.status, revision=signing.round, closed=minutes.status == MinutesStatus.distributed, due=due)

    async def announce(self, session: AsyncSession, object_id: int, revision: int) -> list[int]:
        return []  # closing the minutes and accepting a signature tell the next signer

    async def notice(self, session: AsyncSession, object_id: int, step: str, due: date | datetime) -> list[int]:
        minutes = await minutes_service.get(session, minutes_id=object_id)
        await minutes_service.signing_notice(session, minutes_id=object_id, role=self.role, kind=step, round_=minutes.round)
        return []
