"""One lock order for the two head rows every write transaction may take: `audit_head`, then
`event_head`.

On PostgreSQL each head is a row lock held until commit. A transaction that published an event
before recording its audit entry (opening a meeting) and one that did the opposite deadlocked
under load (found by the PostgreSQL fault test). So before the event head is taken, the audit
head is taken first unless this transaction holds it already. SQLite has one write lock for the
whole database and needs nothing here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.models import AuditHead

_HELD = "audit_head_held_by"


async def taking_audit_head(session: AsyncSession) -> None:
    """Note that this transaction takes the audit head (the caller updates it next)."""
    await session.connection()  # begins the transaction if nothing has yet
    session.info[_HELD] = session.get_transaction()


async def audit_head_before_event_head(session: AsyncSession) -> None:
    """Take the audit head's lock first, unless this transaction holds it already."""
    connection = await session.connection()  # begins the transaction if nothing has yet
    transaction = session.get_transaction()
    if connection.dialect.name != "postgresql" or session.info.get(_HELD) is transaction:
        return
    await session.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())
    session.info[_HELD] = transaction
