"""Idempotency keys of the public API: a POST retried with the same key does its action once.

The key's row is inserted before the action, in the action's transaction, and filled with the
answer after it: a retry that arrives after the commit finds the answer; one that arrives while
the first still runs waits on the row's unique index (PostgreSQL) or the write lock (SQLite)
and then finds it; an action that failed rolled its key back with it, so a retry tries again.
An action that must commit on the way (signing waits on OCSP and the time stamp outside any
transaction) holds its key in a committed row of its own first, answered later or released if
the action fails; meanwhile a retry finds the row unanswered (`status_code` 0).
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import IdempotentRequest
from services.db import utcnow
from services.errors import InvalidInput
from services.i18n import _l

KEPT = timedelta(days=1)
MAX_KEY = 128


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise InvalidInput(_l("The Idempotency-Key header must be 1 to {limit} printable ASCII characters.", limit=MAX_KEY))
    return key


async def answered(session: AsyncSession, *, user_id: int, key: str, request: str) -> IdempotentRequest | None:
    """The stored answer of this key, if it is younger than a day; a key used for another
    request is refused."""
    found = await session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.user_id == user_id, IdempotentRequest.key == key, IdempotentRequest.created_at > utcnow() - KEPT
        )
    )
    if found is not None and found.request != request:
        raise InvalidInput(_l("This Idempotency-Key was already used for another request ({request}).", request=found.request))
    return found


async def reserve(session: AsyncSession, *, user_id: int, key: str, request: str) -> IdempotentRequest:
    """Hold the key for this transaction (expired keys of anyone are removed on the way)."""
    await session.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at <= utcnow() - KEPT))
    row = IdempotentRequest(user_id=user_id, key=key, request=request, status_code=0, body="", headers="{}")
    session.add(row)
    await session.flush()
    return row


def fill(row: IdempotentRequest, *, status_code: int, body: str, headers: dict[str, str]) -> None:
    row.status_code, row.body, row.headers = status_code, body, json.dumps(headers)


async def release(session: AsyncSession, *, row_id: int) -> None:
    """Give back the key of an action that failed after holding its key (see the module's note)."""
    await session.execute(delete(IdempotentRequest).where(IdempotentRequest.id == row_id))
