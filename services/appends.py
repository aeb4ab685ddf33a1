"""What every write transaction appends to shared rows, written when it commits.

A change appends its audit entry (`audit.record`), its live events (`events.publish`) and its
share of the statistics' roll-up (`incoming.tally`). The audit trail and the events each have one
global head row (the next sequence number; the chain's last hash) that serialises every writer,
and the roll-up's rows are shared by every document of a day. Taken as they came, the heads were
held from a transaction's first append to its commit, so every other writer waited that long, and
each append cost its own statements.

So the appends wait in the session and `_write` writes them at commit: after the transaction's
own rows (a final flush), the roll-up's rows in key order, then the audit head, then the event
head (services/db.py, lock order). The heads are held for the few statements of a commit, and a
transaction's appends cost those statements however many it made. An append made inside a
savepoint that is rolled back goes with it.

A writer is registered by the module that owns the rows; it gets the appends in the order they
were made and runs inside the commit, on the synchronous session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from services.db import READ_ONLY

# The order the writers run in at commit: the lock order of their rows (services/db.py).
ORDER = ("tally", "audit", "events")
_PENDING = "pending_appends"

Writer = Callable[[Session, list[Any]], None]
_writers: dict[str, Writer] = {}


@dataclass(frozen=True)
class _Append:
    kind: str
    value: Any
    transaction: SessionTransaction  # the innermost (savepoint or root) it was made in


def writer(kind: str) -> Callable[[Writer], Writer]:
    """Register the function that writes `kind`'s appends at commit."""
    assert kind in ORDER, kind

    def register(function: Writer) -> Writer:
        _writers[kind] = function
        return function

    return register


async def append(session: AsyncSession, kind: str, value: Any) -> None:
    """Keep `value` to be written with the transaction's commit."""
    connection = await session.connection()  # begins the transaction if nothing has yet
    if connection.sync_connection is not None and connection.sync_connection.get_execution_options().get(READ_ONLY):
        # A read (Database.read) ends in a rollback: what it appended would be lost without a word.
        raise RuntimeError(f"a read-only transaction cannot append to the {kind}")
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    assert transaction is not None
    sync.info.setdefault(_PENDING, []).append(_Append(kind, value, transaction))


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint released: its appends belong to the enclosing transaction now
    if not session.info.get(_PENDING):
        return
    session.flush()  # the transaction's own rows first: the shared ones come last
    appends: list[_Append] = session.info.pop(_PENDING)
    for kind in ORDER:
        values = [item.value for item in appends if item.kind == kind]
        if values:
            _writers[kind](session, values)


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous: SessionTransaction) -> None:
    # What was appended inside the transaction or savepoint rolled back is undone with it.
    if appends := session.info.get(_PENDING):
        session.info[_PENDING] = [item for item in appends if not _inside(item.transaction, previous)]


@event.listens_for(Session, "after_transaction_end")
def _end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)  # closed without a commit: nothing is written


def _inside(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False
