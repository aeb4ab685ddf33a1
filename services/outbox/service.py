"""Writing commands for Temporal and reading them back for the relay.

A route or activity that changes an object calls `tell(...)` in the same transaction: if the
change commits, the command is there; if it rolls back, so does the command. The relay in the
worker delivers each command (signal-with-start, so a missing workflow is started) and marks it
delivered; a failed delivery is retried with backoff. The kinds and their workflows are mapped in
workflows/relay.py — this module knows nothing of Temporal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.db import utcnow
from services.outbox.models import Deployment, OutboxCommand

KINDS = {"incoming", "outgoing", "task", "meeting", "minutes", "report-request", "report-target", "exchange", "archive", "register-print"}
MAX_BACKOFF = timedelta(minutes=1)
# A relay's claim on the commands it is delivering, renewed while it delivers (`renew`): a relay
# killed in mid-round holds them back this long at most, never a whole round's worth of retries.
LEASE = timedelta(seconds=15)

# Called after a commit that wrote commands, so a relay in this process delivers them at once
# instead of at its next poll.
listeners: set[Callable[[], None]] = set()


@dataclass(frozen=True)
class Command:
    id: int
    kind: str
    object_id: int
    signal: str | None
    args: list[Any]
    attempts: int


async def tell(session: AsyncSession, kind: str, object_id: int, signal: str | None = "changed", *args: Any) -> None:
    """Queue `signal(*args)` for the workflow of (kind, object_id), in the caller's transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown workflow kind {kind!r}")
    now = utcnow()
    session.add(
        OutboxCommand(
            kind=kind, object_id=object_id, signal=signal, args=json.dumps(args, default=str), created_at=now, due_at=now, attempts=0
        )
    )
    session.info["outbox_written"] = True


async def tell_all(database: Any, kind: str, object_ids: list[int], signal: str | None = "changed", *args: Any) -> None:
    """`tell` for several objects in a transaction of its own (seeders, after their changes)."""
    async with database.session() as session:
        for object_id in object_ids:
            await tell(session, kind, object_id, signal, *args)


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    if session.info.pop("outbox_written", False):
        for listener in list(listeners):
            listener()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop("outbox_written", None)


async def claim(session: AsyncSession, *, limit: int = 500, lease: timedelta = LEASE) -> list[Command]:
    """Take the due commands, oldest first, for `lease`: another relay skips them meanwhile, and
    if this one dies before marking them they come due again."""
    now = utcnow()
    ids = (
        await session.scalars(
            select(OutboxCommand.id)
            .where(OutboxCommand.delivered_at.is_(None), OutboxCommand.due_at <= now)
            .order_by(OutboxCommand.id)
            .limit(limit)
        )
    ).all()
    if not ids:
        return []
    claimed = (
        await session.execute(
            update(OutboxCommand)
            .where(OutboxCommand.id.in_(ids), OutboxCommand.delivered_at.is_(None), OutboxCommand.due_at <= now)
            .values(due_at=now + lease)
            .returning(
                OutboxCommand.id,
                OutboxCommand.kind,
                OutboxCommand.object_id,
                OutboxCommand.signal,
                OutboxCommand.args,
                OutboxCommand.attempts,
            )
        )
    ).all()
    return sorted((Command(r.id, r.kind, r.object_id, r.signal, json.loads(r.args), r.attempts) for r in claimed), key=lambda c: c.id)


async def renew(session: AsyncSession, *, ids: list[int], lease: timedelta = LEASE) -> None:
    """Extend the claim on commands still being delivered (those marked meanwhile are left alone)."""
    if ids:
        await session.execute(
            update(OutboxCommand).where(OutboxCommand.id.in_(ids), OutboxCommand.delivered_at.is_(None)).values(due_at=utcnow() + lease)
        )


async def delivered(session: AsyncSession, *, ids: list[int]) -> None:
    if ids:
        await session.execute(update(OutboxCommand).where(OutboxCommand.id.in_(ids)).values(delivered_at=utcnow()))


async def failed(session: AsyncSession, *, command: Command, error: str) -> timedelta:
    """Count a failed delivery and put the command off (1 s, 2 s, 4 s … up to a minute)."""
    wait = min(timedelta(seconds=2 ** min(command.attempts, 10)), MAX_BACKOFF)
    await session.execute(
        update(OutboxCommand)
        .where(OutboxCommand.id == command.id)
        .values(attempts=OutboxCommand.attempts + 1, due_at=utcnow() + wait, last_error=error[:2000])
    )
    return wait


async def backlog(session: AsyncSession) -> tuple[int, float]:
    """(undelivered commands, age in seconds of the oldest): Temporal away shows here."""
    count, oldest = (
        await session.execute(select(func.count(), func.min(OutboxCommand.created_at)).where(OutboxCommand.delivered_at.is_(None)))
    ).one()
    if not count or oldest is None:
        return 0, 0.0
    return int(count), max(0.0, (utcnow() - oldest).total_seconds())


async def purge(session: AsyncSession, *, older_than: timedelta = timedelta(days=7)) -> int:
    """Forget delivered commands after a while (they are only a delivery log)."""
    # A DELETE's result is a CursorResult (it has the rowcount); execute() is typed for any statement.
    result = cast(
        CursorResult[Any],
        await session.execute(
            delete(OutboxCommand).where(OutboxCommand.delivered_at.is_not(None), OutboxCommand.delivered_at < utcnow() - older_than)
        ),
    )
    return result.rowcount or 0


async def workflow_prefix(session: AsyncSession) -> str:
    """This database's workflow-ID prefix (made by the migration)."""
    return await session.scalar(select(Deployment.workflow_prefix).where(Deployment.id == 1)) or ""
