"""Sign-in throttling: progressive delays per account and per address, never a lock-out of the
owner by guesses from elsewhere (issue 13)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from demo.directory import DEMO_PASSWORD
from services.audit.models import AuditEntry
from services.auth.models import LoginAttempt
from services.auth.service import sign_in_not_before
from tests.helpers import sign_in

ATTACKER, OFFICE = "203.0.113.9", "10.20.0.5"


async def _rewind(database, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Move every recorded attempt back in time, as if the clock had run on (no sleeping)."""
    async with database.session() as session:
        for attempt in (await session.scalars(select(LoginAttempt))).all():
            attempt.at -= timedelta(seconds=seconds)


async def _wait_after_last_failure(database, settings, username: str, ip: str) -> float:  # type: ignore[no-untyped-def]
    """How long after its last failure the address must wait (0 when it may try now)."""
    async with database.read() as session:
        not_before = await sign_in_not_before(session, settings, username=username, ip=ip)
        last = await session.scalar(
            select(LoginAttempt.at).where(LoginAttempt.ip == ip, LoginAttempt.success.is_(False)).order_by(LoginAttempt.at.desc()).limit(1)
        )
    return 0 if not_before is None else (not_before - last).total_seconds()


async def test_failures_delay_the_next_attempt_ever_longer_up_to_the_cap(demo_db, client_for, settings) -> None:
    settings.login_delay_max_seconds = 30
    attacker = await client_for(demo_db, ip=ATTACKER)
    for _ in range(settings.login_free_failures_per_account):
        assert (await sign_in(attacker, "mai.tran", "doan-mat-khau-1")).status_code == 401
    waits = []
    for _ in range(6):
        wait = await _wait_after_last_failure(demo_db, settings, "mai.tran", ATTACKER)
        waits.append(wait)
        # While the delay runs, even the right password is refused, with a Retry-After.
        refused = await sign_in(attacker, "mai.tran", DEMO_PASSWORD)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= wait
        assert "Đăng nhập sai nhiều lần" in refused.text and "lt_session" not in refused.headers.get("set-cookie", "")
        await _rewind(demo_db, wait)
        assert (await sign_in(attacker, "mai.tran", "doan-mat-khau-2")).status_code == 401
    assert waits == [2, 4, 8, 16, 30, 30]
    async with demo_db.read() as session:
        throttled = (await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "auth.login_throttled"))).all()
    assert len(throttled) == 6 and "mai.tran" in str(throttled[0])


async def test_guesses_from_elsewhere_never_lock_the_owner_out(demo_db, client_for, settings) -> None:
    attacker = await client_for(demo_db, ip=ATTACKER)
    for _ in range(settings.login_free_failures_per_account):
        await sign_in(attacker, "mai.tran", "doan-mat-khau-1")
    for _ in range(5):  # many more failures, each after its delay has run out
        await _rewind(demo_db, settings.login_delay_max_seconds)
        assert (await sign_in(attacker, "mai.tran", "doan-mat-khau-2")).status_code == 401
    assert (await sign_in(attacker, "mai.tran", DEMO_PASSWORD)).status_code == 429
    clerk = await client_for(demo_db, ip=OFFICE)
    assert (await sign_in(clerk, "mai.tran")).status_code == 303
    assert (await clerk.get("/")).status_code == 200


async def test_a_success_forgives_the_accounts_earlier_typos(demo_db, client_for, settings) -> None:
    clerk = await client_for(demo_db, ip=OFFICE)
    for _ in range(settings.login_free_failures_per_account):
        await sign_in(clerk, "mai.tran", "go-nham-mat-khau")
    await _rewind(demo_db, await _wait_after_last_failure(demo_db, settings, "mai.tran", OFFICE))
    assert (await sign_in(clerk, "mai.tran")).status_code == 303
    later = await client_for(demo_db, ip=OFFICE)
    assert (await sign_in(later, "mai.tran", "go-nham-lan-nua")).status_code == 401
    assert await _wait_after_last_failure(demo_db, settings, "mai.tran", OFFICE) == 0


async def test_an_address_trying_many_names_is_delayed_for_every_name(demo_db, client_for, settings) -> None:
    settings.login_free_failures_per_address = 3
    attacker = await client_for(demo_db, ip=ATTACKER)
    for name in ("a.one", "b.two", "c.three"):
        assert (await sign_in(attacker, name, "whatever-wrong")).status_code == 401
    refused = await sign_in(attacker, "lan.nguyen")
    assert refused.status_code == 429 and refused.headers["retry-after"]
    # The same person from another address is not concerned.
    assert (await sign_in(await client_for(demo_db, ip=OFFICE), "lan.nguyen")).status_code == 303
