"""API tokens: a scope (read only / full) and an expiry chosen at creation; a token cannot mint
or revoke tokens (issue 13)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from demo.directory import DEMO_PASSWORD
from services.auth.models import ApiToken
from services.migrate import upgrade
from tests.helpers import post_form, sign_in


async def _new_token(client, **form: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    page = await post_form(client, "/account/tokens", {"name": "script báo cáo", **form}, page="/account")
    assert page.status_code == 200, page.text
    token = page.text.split('<code class="token">', 1)[1].split("<", 1)[0]
    token_id = page.text.split("/account/tokens/", 1)[1].split("/", 1)[0]
    return token, token_id


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_a_read_only_token_reads_and_is_refused_any_change(demo_db_sqlite, client_for) -> None:
    browser = await client_for(demo_db_sqlite)
    await sign_in(browser, "thu.le")
    token, _ = await _new_token(browser)  # read only unless chosen otherwise
    script = await client_for(demo_db_sqlite)
    assert (await script.get("/api/me", headers=_bearer(token))).status_code == 200
    assert (await script.get("/api/orgs", headers=_bearer(token))).status_code == 200
    for path, form in (
        (
            "/account/password",
            {"current_password": DEMO_PASSWORD, "new_password": "Song-Ham-Luong-1", "confirm_password": "Song-Ham-Luong-1"},
        ),
        ("/notifications/read", {}),
        ("/logout", {}),
    ):
        refused = await script.post(path, data=form, headers=_bearer(token))
        assert refused.status_code == 403, path
        assert "chỉ có quyền đọc" in refused.json()["message"]
    # Nothing changed: the password is still the old one.
    assert (await sign_in(await client_for(demo_db_sqlite), "thu.le")).status_code == 303


async def test_a_full_token_changes_data_but_cannot_create_or_revoke_tokens(demo_db_sqlite, client_for) -> None:
    browser = await client_for(demo_db_sqlite)
    await sign_in(browser, "thu.le")
    token, token_id = await _new_token(browser, scope="full")
    script = await client_for(demo_db_sqlite)
    wrong = await script.post(
        "/account/password",
        headers=_bearer(token),
        data={"current_password": "khong-phai-mat-khau", "new_password": "Song-Ham-Luong-1", "confirm_password": "Song-Ham-Luong-1"},
    )
    assert wrong.status_code == 422  # past the access check: a full token may write
    minted = await script.post("/account/tokens", data={"name": "con", "scope": "full"}, headers=_bearer(token))
    revoked = await script.post(f"/account/tokens/{token_id}/revoke", headers=_bearer(token))
    assert minted.status_code == revoked.status_code == 403
    assert "đăng nhập trên trình duyệt" in minted.json()["message"]
    async with demo_db_sqlite.read() as session:
        tokens = (await session.execute(select(ApiToken.scope, ApiToken.revoked))).all()
    assert [tuple(t) for t in tokens] == [("full", False)]
    assert (await script.get("/api/me", headers=_bearer(token))).status_code == 200


async def test_an_expired_token_is_refused_and_shown_as_expired(demo_db_sqlite, client_for) -> None:
    browser = await client_for(demo_db_sqlite)
    await sign_in(browser, "thu.le")
    token, token_id = await _new_token(browser, days="30")
    async with demo_db_sqlite.read() as session:
        created = await session.get(ApiToken, int(token_id))
        assert created is not None
        assert timedelta(days=29) < created.expires_at - created.created_at <= timedelta(days=30, seconds=1)
    script = await client_for(demo_db_sqlite)
    assert (await script.get("/api/me", headers=_bearer(token))).status_code == 200
    async with demo_db_sqlite.session() as session:
        stored = await session.get(ApiToken, int(token_id))
        stored.expires_at = datetime.now(UTC) - timedelta(minutes=1)  # type: ignore[union-attr]
    refused = await script.get("/api/me", headers=_bearer(token))
    assert refused.status_code == 401 and "đã hết hạn" in refused.json()["message"]
    page = await browser.get("/account")
    assert "Đã hết hạn" in page.text and "Hết hạn ngày" in page.text


async def test_token_choices_are_checked_and_default_to_read_only_for_90_days(demo_db_sqlite, client_for) -> None:
    browser = await client_for(demo_db_sqlite)
    await sign_in(browser, "thu.le")
    for form in ({"scope": "admin"}, {"days": "3650"}):
        page = await post_form(browser, "/account/tokens", {"name": "x", **form}, page="/account")
        assert page.status_code == 422
    await _new_token(browser)
    async with demo_db_sqlite.read() as session:
        ((scope, lifetime),) = [(t.scope, t.expires_at - t.created_at) for t in (await session.scalars(select(ApiToken))).all()]
    assert scope == "read" and timedelta(days=89) < lifetime <= timedelta(days=90, seconds=1)


async def test_migration_keeps_existing_tokens_full_and_gives_them_90_days(tmp_path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url, "0011")
    with sqlite3.connect(path) as db:  # foreign keys are not enforced on a plain connection
        db.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at, revoked) "
            "VALUES (1, 'cũ', 'ab', 'lt_x', '2026-01-01 00:00:00.000000', 0)"
        )
    await asyncio.to_thread(upgrade, url)
    with sqlite3.connect(path) as db:
        scope, expires = db.execute("SELECT scope, expires_at FROM api_tokens").fetchone()
    left = datetime.fromisoformat(expires).replace(tzinfo=UTC) - datetime.now(UTC)
    assert scope == "full" and timedelta(days=89) < left <= timedelta(days=90)
