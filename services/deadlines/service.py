"""Reading a tracked object's deadlines and sending each rung's notice once.

A domain supplies an `Adapter`: its object's state (status, revision, closed, due date or
instant), what it announces on a new step, and who is told what at each rung. The functions
here own the rest: where the rungs fall, which were sent (the `deadline_notices` table) and the
once-only send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services import calendar
from services.deadlines.ladder import Ladder, RungAt, Tracked, due_instant, pending
from services.deadlines.models import DeadlineNotice
from services.errors import InvalidInput
from services.i18n import _l


@dataclass
class Tracking:
    """A domain object as the deadline kernel sees it."""

    status: str
    revision: int
    closed: bool
    due: date | datetime | None  # None: no deadline runs now (not assigned yet, awaiting someone else…)


class Adapter(Protocol):
    @property
    def kind(self) -> str: ...  # read-only: the minutes' adapter derives it from the role

    ladder: Ladder

    async def state(self, session: AsyncSession, object_id: int) -> Tracking:
        """The object's status, revision, whether it is final, and its current due date."""

    async def announce(self, session: AsyncSession, object_id: int, revision: int) -> list[int]:
        """Tell whoever must act on this revision (idempotent); returns who was told."""

    async def notice(self, session: AsyncSession, object_id: int, step: str, due: date | datetime) -> list[int]:
        """Send the rung's notice (notification, audit entry, live event); returns who was told."""


async def sent_steps(session: AsyncSession, *, kind: str, object_id: int, due_at: datetime) -> set[str]:
    rows = await session.scalars(
        select(DeadlineNotice.step).where(
            DeadlineNotice.object_kind == kind, DeadlineNotice.object_id == object_id, DeadlineNotice.due_at == due_at
        )
    )
    return set(rows.all())


async def _holidays(session: AsyncSession, due: date | datetime) -> set[date]:
    if isinstance(due, datetime):
        return set()  # hour ladders do not count working days
    return await calendar.holiday_set(session, due)


async def rungs_for(
    session: AsyncSession, *, kind: str, object_id: int, ladder: Ladder, due: date | datetime
) -> tuple[list[tuple[str, datetime]], list[RungAt]]:
    """Every rung's instant for `due` and the rungs still pending."""
    holidays = await _holidays(session, due)
    sent = await sent_steps(session, kind=kind, object_id=object_id, due_at=due_instant(due))
    placed = [(rung.step, at) for rung, at in ladder.instants(due, holidays)]
    return placed, pending(ladder, due, sent, holidays)


async def snapshot(session: AsyncSession, *, adapter: Adapter, object_id: int) -> Tracked:
    """The object's state and the rungs not sent yet for its current due instant."""
    state = await adapter.state(session, object_id)
    snap = Tracked(kind=adapter.kind, object_id=object_id, status=state.status, revision=state.revision, closed=state.closed)
    if not state.closed and state.due is not None:
        snap.due_at = due_instant(state.due)
        _, snap.rungs = await rungs_for(session, kind=adapter.kind, object_id=object_id, ladder=adapter.ladder, due=state.due)
    return snap


async def send(session: AsyncSession, *, adapter: Adapter, object_id: int, step: str, due_at: datetime) -> bool:
    """Send `step`'s notice for the due instant `due_at`, once. False when it was sent already,
    the object is final, its due date moved, or a later rung was sent (nothing is sent then)."""
    if step not in adapter.ladder.steps:
        raise InvalidInput(_l("Unknown deadline step {step!r}.", step=step))
    state = await adapter.state(session, object_id)
    if state.closed or state.due is None or due_instant(state.due) != due_at:
        return False
    _, ahead = await rungs_for(session, kind=adapter.kind, object_id=object_id, ladder=adapter.ladder, due=state.due)
    if step not in {r.step for r in ahead}:
        return False
    session.add(DeadlineNotice(object_kind=adapter.kind, object_id=object_id, step=step, due_at=due_at))
    await session.flush()  # a concurrent send fails here on the unique constraint, before anyone is told
    await adapter.notice(session, object_id, step, state.due)
    return True


async def rearm(session: AsyncSession, *, kind: str, object_id: int) -> None:
    """Forget the notices sent for an object: every rung is due again (a new owner, a new round)."""
    await session.execute(delete(DeadlineNotice).where(DeadlineNotice.object_kind == kind, DeadlineNotice.object_id == object_id))
