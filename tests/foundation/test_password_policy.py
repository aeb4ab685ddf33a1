"""Password policy (ASVS 2.1): a minimum length and an offline strength check, no composition
rules; weak choices are refused with a message the user understands (issue 13)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from demo.directory import DEMO_PASSWORD, walk
from services.auth.passwords import password_problem
from services.directory.models import Organization, User
from tests.helpers import post_form, sign_in

TOO_EASY = "Mật khẩu quá dễ đoán"
OWN_NAME = "không được chứa tên hoặc tên đăng nhập"


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("ngan-qua", "ít nhất 10 ký tự"),
        ("aaaaaaaaaaaa", TOO_EASY),
        ("matkhau123456", TOO_EASY),
        ("password1234", TOO_EASY),
        ("1234567890", TOO_EASY),
        ("qwertyuiop12", TOO_EASY),
        ("ngoc.vo2026!", OWN_NAME),
        ("VoThiNgoc@1", OWN_NAME),
        ("ngocvo1990!!", OWN_NAME),
    ],
)
def test_weak_passwords_are_named_for_what_is_wrong(password: str, expected: str) -> None:
    problem = password_problem(password, username="ngoc.vo", full_name="Võ Thị Ngọc")
    assert problem is not None and expected in problem[0]


def test_strong_passwords_and_every_demo_account_pass() -> None:
    for password in ("Ca-phe-sua-da-luc-6h", "MatKhauMoi@2026", "trâu ăn cỏ bên sông Hàm Luông"):
        assert password_problem(password, username="ngoc.vo", full_name="Võ Thị Ngọc") is None
    for org in walk():
        for person in org.users:
            assert password_problem(DEMO_PASSWORD, username=person.username, full_name=person.full_name) is None


async def test_password_change_refuses_weak_passwords_and_keeps_the_old_one(demo_db_sqlite, client_for) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "ngoc.vo")
    for weak, expected in (
        ("aaaaaaaaaaaa", TOO_EASY),
        ("matkhau123456", TOO_EASY),
        ("ngoc.vo12345", OWN_NAME),
        ("VoThiNgoc2026", OWN_NAME),
    ):
        page = await post_form(
            client,
            "/account/password",
            {"current_password": DEMO_PASSWORD, "new_password": weak, "confirm_password": weak},
            page="/account",
        )
        assert page.status_code == 422 and expected in page.text
    assert (await sign_in(await client_for(demo_db_sqlite), "ngoc.vo")).status_code == 303


async def test_admin_cannot_create_a_user_with_a_weak_password(demo_db_sqlite, client_for) -> None:
    async with demo_db_sqlite.read() as session:
        org_id = await session.scalar(select(Organization.id).where(Organization.code == "hlhpn-bentre"))
    admin = await client_for(demo_db_sqlite)
    await sign_in(admin, "quantri")
    form = {"username": "hoa.pham", "full_name": "Phạm Thị Hoa", "password": "PhamThiHoa2026"}
    page = await post_form(admin, f"/admin/orgs/{org_id}/users", form, page=f"/admin/orgs/{org_id}")
    assert page.status_code == 422 and OWN_NAME in page.text
    page = await post_form(admin, f"/admin/orgs/{org_id}/users", {**form, "password": "aaaaaaaaaaaa"}, page=f"/admin/orgs/{org_id}")
    assert page.status_code == 422 and TOO_EASY in page.text
    async with demo_db_sqlite.read() as session:
        assert await session.scalar(select(User).where(User.username == "hoa.pham")) is None
    page = await post_form(
        admin, f"/admin/orgs/{org_id}/users", {**form, "password": "Song-Ham-Luong-mua-nuoc-noi"}, page=f"/admin/orgs/{org_id}"
    )
    assert page.status_code == 303


async def test_hashing_and_strength_checks_run_off_the_event_loop(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """argon2 costs ~50 ms and zxcvbn tens of milliseconds by design: on the event loop, a burst of
    sign-ins would stall every other request (/healthz missed its 1 s during fuzzing)."""
    import asyncio
    import threading

    from services.auth import passwords

    loop_thread = threading.current_thread()
    seen: list[threading.Thread] = []
    real_verify, real_problem = passwords._verify, passwords.password_problem

    def verify(*args):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread())
        return real_verify(*args)

    def problem(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread())
        return real_problem(*args, **kwargs)

    monkeypatch.setattr(passwords, "_verify", verify)
    monkeypatch.setattr(passwords, "password_problem", problem)
    stored = await passwords.hash_password(DEMO_PASSWORD)
    results = await asyncio.gather(
        *(passwords.verify_password(stored, DEMO_PASSWORD) for _ in range(3)), passwords.check_password("aaaaaaaaaaaa")
    )
    assert results == [True, True, True, (results[3][0], results[3][1])] and TOO_EASY in results[3][0]
    assert seen and loop_thread not in seen


def test_installations_hash_at_the_standard_cost_which_only_a_test_run_lowers(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The suite hashes at the lowest cost (tests/conftest.py sets LIENTHONG_PASSWORD_HASHING);
    without that setting, and always in production, new hashes use RFC 9106's low-memory profile,
    and a cheap hash is replaced at the owner's next sign-in."""
    from argon2 import PasswordHasher, extract_parameters, profiles

    from services.auth import passwords
    from services.config import Settings

    monkeypatch.delenv("LIENTHONG_PASSWORD_HASHING")
    standard = passwords.parameters(Settings(_env_file=None))  # type: ignore[call-arg]  # pydantic-settings' init option
    assert standard == profiles.RFC_9106_LOW_MEMORY
    stored = PasswordHasher.from_parameters(standard).hash(DEMO_PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and extract_parameters(stored) == standard
    monkeypatch.setenv("LIENTHONG_PASSWORD_HASHING", "cheap-for-tests")
    assert passwords.parameters(Settings(_env_file=None, production=True)) == standard  # type: ignore[call-arg]
    cheap = passwords.parameters(Settings(_env_file=None))  # type: ignore[call-arg]
    assert cheap.time_cost == 1 and cheap.memory_cost < standard.memory_cost
    assert PasswordHasher.from_parameters(standard).check_needs_rehash(PasswordHasher.from_parameters(cheap).hash(DEMO_PASSWORD))
