"""Wrong-PIN counters, one per key (`person:<username>`, `org:<code>`).

After the n-th wrong PIN in a row (n ≥ 2: one typo is free) a key refuses attempts until
`not_before` = now + `pin_delay_seconds` × 2^(n-2) (no request sleeps: the attempt is refused
with the time to come back); at `pin_max_failures` it is locked until an administrator unlocks it, and its holder is
told. A right PIN resets the counter. The check itself lives in `signing.service.open_signer`,
the one place a PIN opens a key; this module keeps the state and its audit entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor, record
from services.config import Settings
from services.db import utcnow
from services.directory.models import Role, RoleAssignment
from services.errors import NotFound
from services.i18n import _l
from services.keys.models import PinGuard
from services.notifications.service import notify


@dataclass(frozen=True)
class KeyRef:
    """A key and who holds it: a person, or an organisation (its seal, held by its clerks)."""

    key: str
    user_id: int | None = None
    organization_id: int | None = None

    @classmethod
    def person(cls, *, username: str, user_id: int, organization_id: int) -> KeyRef:
        return cls(f"person:{username}", user_id=user_id, organization_id=organization_id)

    @classmethod
    def seal(cls, *, code: str, organization_id: int) -> KeyRef:
        return cls(f"org:{code}", organization_id=organization_id)

    @property
    def is_seal(self) -> bool:
        return self.key.startswith("org:")


Refusal = Literal["locked", "wait"]


def refusal(guard: PinGuard | None, *, now: datetime | None = None) -> tuple[Refusal, datetime | None] | None:
    """Why an attempt on this key is refused now (locked, or wait until an instant), or None."""
    if guard is None:
        return None
    if guard.locked_at is not None:
        return "locked", None
    now = now or utcnow()
    if guard.not_before is not None and now < guard.not_before:
        return "wait", guard.not_before
    return None


async def state(session: AsyncSession, *, key: str) -> PinGuard | None:
    return await session.get(PinGuard, key, populate_existing=True)


async def _locked_row(session: AsyncSession, ref: KeyRef) -> PinGuard:
    """The key's row, created if missing, locked for this transaction (concurrent failures queue)."""
    values = {"key": ref.key, "user_id": ref.user_id, "organization_id": ref.organization_id, "failures": 0, "updated_at": utcnow()}
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(postgresql.insert(PinGuard).values(values).on_conflict_do_nothing(index_elements=["key"]))
    else:
        await session.execute(sqlite.insert(PinGuard).values(values).on_conflict_do_nothing(index_elements=["key"]))
    row = await session.scalar(select(PinGuard).where(PinGuard.key == ref.key).with_for_update().execution_options(populate_existing=True))
    assert row is not None
    return row


async def _holders(session: AsyncSession, ref: KeyRef) -> set[int]:
    if not ref.is_seal:
        return {ref.user_id} if ref.user_id is not None else set()
    clerks = await session.scalars(
        select(RoleAssignment.user_id).where(RoleAssignment.organization_id == ref.organization_id, RoleAssignment.role == Role.clerk)
    )
    return set(clerks.all())


async def record_failure(session: AsyncSession, *, settings: Settings, actor: Actor, ref: KeyRef, details: dict[str, object]) -> PinGuard:
    """Count one wrong PIN: delay the next attempt, or lock the key at the limit and tell its holder."""
    row = await _locked_row(session, ref)
    now = utcnow()
    row.failures += 1
    row.last_failure_at = row.updated_at = now
    newly_locked = row.locked_at is None and row.failures >= settings.pin_max_failures
    if newly_locked:
        row.locked_at, row.not_before = now, None
    elif row.locked_at is None and row.failures >= 2:  # one typo is free; then the wait doubles
        delay = min(settings.pin_delay_seconds * 2 ** (row.failures - 2), settings.pin_delay_max_seconds)
        row.not_before = now + timedelta(seconds=delay)
    await record(
        session,
        actor=actor,
        action="signing.pin_failed",
        object_type="key",
        object_id=ref.key,
        organization_id=ref.organization_id,
        details={
            **details,
            "failures": row.failures,
            "locked": row.locked_at is not None,
            "not_before": row.not_before.isoformat() if row.not_before else None,
        },
    )
    if newly_locked:
        assert row.locked_at is not None
        what = _l("The organisation's digital seal") if ref.is_seal else _l("Your signing key")
        await notify(
            session,
            user_ids=await _holders(session, ref),
            kind="signing.key_locked",
            link="/account",
            dedupe_key=f"pin-locked-{ref.key}-{row.locked_at.isoformat()}",
            title=_l("{what} locked after {failures} wrong PINs", what=what, failures=row.failures),
            body=_l("If it was not you, tell an administrator at once. Administrators unlock it under Administration › Signing keys."),
        )
    return row


async def record_success(session: AsyncSession, *, actor: Actor, ref: KeyRef) -> None:
    """A right PIN: the counter starts again from zero (recorded when there was something to reset)."""
    row = await state(session, key=ref.key)
    if row is None or (row.failures == 0 and row.locked_at is None):
        return
    row = await _locked_row(session, ref)
    failures = row.failures
    row.failures, row.not_before, row.locked_at, row.updated_at = 0, None, None, utcnow()
    await record(
        session,
        actor=actor,
        action="signing.pin_reset",
        object_type="key",
        object_id=ref.key,
        organization_id=ref.organization_id,
        details={"failures": failures},
    )


async def unlock(session: AsyncSession, *, actor: Actor, key: str) -> PinGuard:
    """An administrator unlocks a key: the counter starts from zero; its holder is told."""
    row = await state(session, key=key)
    if row is None:
        raise NotFound(_l("key not found"))
    ref = KeyRef(row.key, user_id=row.user_id, organization_id=row.organization_id)
    row = await _locked_row(session, ref)
    failures, was_locked = row.failures, row.locked_at is not None
    row.failures, row.not_before, row.locked_at, row.updated_at = 0, None, None, utcnow()
    await record(
        session,
        actor=actor,
        action="signing.pin_unlock",
        object_type="key",
        object_id=key,
        organization_id=row.organization_id,
        details={"failures": failures, "was_locked": was_locked},
    )
    await notify(
        session,
        user_ids=await _holders(session, ref),
        kind="signing.key_unlocked",
        link="/account",
        dedupe_key=f"pin-unlocked-{key}-{row.updated_at.isoformat()}",
        title=_l("An administrator unlocked your signing key; you can sign with your PIN again."),
    )
    return row


async def troubled(session: AsyncSession, *, organization_ids: set[int]) -> list[PinGuard]:
    """Keys of these organisations (and their people) that are locked or counting failures."""
    if not organization_ids:
        return []
    rows = await session.scalars(
        select(PinGuard)
        .where(
            PinGuard.organization_id.in_(organization_ids),
            PinGuard.failures > 0,
        )
        .order_by(PinGuard.locked_at.is_(None), PinGuard.updated_at.desc())
    )
    return list(rows.all())
