"""Wrong PINs on a person's key and on an organisation's seal: from the second one each delays
the next attempt (the wait doubles), the fifth locks the key until an administrator unlocks it, a right PIN
resets the count; the holder is told and every step is in the trail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.audit.models import AuditEntry
from services.db import utcnow
from services.directory.models import User
from services.keys.models import PinGuard
from services.notifications.models import Notification
from tests.helpers import csrf_of, sign_in
from tests.signing.conftest import make_tiny_pdf

RIGHT, WRONG = "123456", "000000"


async def _actions(database) -> list[str]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all())


async def _guard(database, key: str) -> PinGuard | None:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return await session.get(PinGuard, key)


async def _signer(client, mode: str):  # type: ignore[no-untyped-def]
    """A function that posts one signing attempt with a PIN, as the person or with the seal."""
    fields = {"mode": "person", "level": "B-B", "placement": "invisible"}
    if mode == "org":
        page = await client.get("/signing")
        fields.update(mode="org", org_id=re.search(r'name="org_id" value="(\d+)"', page.text).group(1))

    async def attempt(pin: str):  # type: ignore[no-untyped-def]
        token = await csrf_of(client, "/signing")
        return await client.post(
            "/signing/sign",
            data={"csrf_token": token, "pin": pin, **fields},
            files={"file": ("cong-van.pdf", make_tiny_pdf("PIN"), "application/pdf")},
        )

    return attempt


@pytest.mark.parametrize(
    ("mode", "username", "key"),
    [
        ("person", "lan.nguyen", "person:lan.nguyen"),
        ("org", "mai.tran", "org:hlhpn-bentre"),
    ],
)
async def test_five_wrong_pins_lock_the_key_until_an_administrator_unlocks_it(
    mode,
    username,
    key,
    demo_db_sqlite,
    demo_signing,
    client_for,
    settings,
) -> None:
    settings.pin_delay_seconds = 0  # the growing delay has its own test
    client = await client_for(demo_db_sqlite)
    await sign_in(client, username)
    attempt = await _signer(client, mode)
    for n in range(1, 5):
        page = await attempt(WRONG)
        assert page.status_code == 422 and f"Còn {5 - n} lần thử" in page.text
    fifth = await attempt(WRONG)
    assert fifth.status_code == 403 and "đã bị khóa" in fifth.text
    sixth = await attempt(RIGHT)  # the right PIN, refused while locked
    assert sixth.status_code == 403 and "đang bị khóa" in sixth.text and "quản trị" in sixth.text
    actions = await _actions(demo_db_sqlite)
    assert actions.count("signing.pin_failed") == 5 and actions[-1] == "signing.pin_refused"
    assert "signing.sign" not in actions
    async with demo_db_sqlite.session() as session:
        holder = await session.scalar(select(User.id).where(User.username == username))
        told = (await session.scalars(select(Notification).where(Notification.kind == "signing.key_locked"))).all()
    assert holder in {n.user_id for n in told}

    admin = await client_for(demo_db_sqlite)
    await sign_in(admin, "quantri")
    page = await admin.get("/admin/certificates")
    assert page.status_code == 200 and "Đã khóa" in page.text and f'value="{key}"' in page.text
    token = await csrf_of(admin, "/admin/certificates")
    unlocked = await admin.post("/admin/keys/unlock", data={"csrf_token": token, "key": key})
    assert unlocked.status_code == 303
    assert (await _guard(demo_db_sqlite, key)).locked_at is None
    signed = await attempt(RIGHT)
    assert signed.status_code == 200, signed.text[:1500]
    assert "signing.pin_unlock" in await _actions(demo_db_sqlite)


async def test_a_right_pin_resets_the_count(demo_db_sqlite, demo_signing, client_for, settings) -> None:
    settings.pin_delay_seconds = 0
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "lan.nguyen")
    attempt = await _signer(client, "person")
    first = await attempt(WRONG)
    assert "Còn 4 lần thử" in first.text
    # The signing form again, its message beside the PIN and the choices kept (not the PIN).
    assert "data-pin-error" in first.text and 'action="/signing/sign"' in first.text
    assert '<option value="invisible" selected>' in first.text and '<option value="B-B" selected>' in first.text
    assert "cong-van.pdf" in first.text and f'value="{WRONG}"' not in first.text
    assert "Còn 3 lần thử" in (await attempt(WRONG)).text
    assert (await attempt(RIGHT)).status_code == 200
    assert (await _guard(demo_db_sqlite, "person:lan.nguyen")).failures == 0
    assert "signing.pin_reset" in await _actions(demo_db_sqlite)
    assert "Còn 4 lần thử" in (await attempt(WRONG)).text  # counting starts again from zero


async def test_after_a_wrong_pin_even_the_right_one_waits_and_the_wait_doubles(
    demo_db_sqlite,
    demo_signing,
    client_for,
    settings,
) -> None:
    settings.pin_delay_seconds, settings.pin_delay_max_seconds = 600, 3600
    key = "person:lan.nguyen"
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "lan.nguyen")
    attempt = await _signer(client, "person")

    async def let_the_wait_pass() -> None:
        # No test sleeps ten minutes: the stored instant is moved into the past instead.
        async with demo_db_sqlite.session() as session:
            guard = await session.get(PinGuard, key)
            guard.not_before = utcnow() - timedelta(seconds=1)

    assert (await attempt(WRONG)).status_code == 422
    assert (await _guard(demo_db_sqlite, key)).not_before is None  # one typo is free
    assert (await attempt(WRONG)).status_code == 422
    waiting = await attempt(RIGHT)
    assert waiting.status_code == 429 and "hãy chờ" in waiting.text
    assert (await _actions(demo_db_sqlite))[-1] == "signing.pin_refused"
    guard = await _guard(demo_db_sqlite, key)
    assert guard.failures == 2 and guard.not_before - guard.last_failure_at == timedelta(seconds=600)

    await let_the_wait_pass()
    assert (await attempt(WRONG)).status_code == 422
    guard = await _guard(demo_db_sqlite, key)
    assert guard.failures == 3 and guard.not_before - guard.last_failure_at == timedelta(seconds=1200)
    assert (await attempt(RIGHT)).status_code == 429

    await let_the_wait_pass()
    assert (await attempt(RIGHT)).status_code == 200
    assert (await _guard(demo_db_sqlite, key)).failures == 0


async def test_concurrent_wrong_pins_are_all_counted_and_lock_once(demo_db, settings) -> None:
    """Attempts racing on one key each count (the row is locked per failure), on both backends;
    the key locks once and its holder is told once."""
    import asyncio

    from services.audit.service import Actor
    from services.keys import pins

    async with demo_db.session() as session:
        lan = await session.scalar(select(User).where(User.username == "lan.nguyen"))
    ref = pins.KeyRef.person(username=lan.username, user_id=lan.id, organization_id=lan.organization_id)

    async def fail() -> None:
        async with demo_db.session() as session:
            await pins.record_failure(session, settings=settings, actor=Actor(lan.id, lan.full_name), ref=ref, details={"test": True})

    await asyncio.gather(*(fail() for _ in range(6)))
    guard = await _guard(demo_db, ref.key)
    assert guard.failures == 6 and guard.locked_at is not None
    assert pins.refusal(guard) == ("locked", None)
    async with demo_db.session() as session:
        told = (
            await session.scalars(select(Notification).where(Notification.kind == "signing.key_locked", Notification.user_id == lan.id))
        ).all()
        assert len(told) == 1
        await pins.unlock(session, actor=Actor(None, "quản trị"), key=ref.key)
    guard = await _guard(demo_db, ref.key)
    assert guard.failures == 0 and pins.refusal(guard) is None
    assert (await _actions(demo_db)).count("signing.pin_failed") == 6
