"""Sign-in, throttling, CSRF, API tokens and password change, through the real app."""

from __future__ import annotations

from sqlalchemy import select

from demo.directory import DEMO_PASSWORD
from services.audit.models import AuditEntry
from tests.helpers import csrf_of, post_form, sign_in


async def _actions(database) -> list[str]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all())


async def test_demo_leader_signs_in_and_sees_home(demo_db, client_for) -> None:
    client = await client_for(demo_db)
    response = await sign_in(client, "lan.nguyen")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    home = await client.get("/")
    assert home.status_code == 200
    assert "Nguyễn Thị Lan" in home.text and "Hội Liên hiệp Phụ nữ tỉnh Bến Tre" in home.text
    assert (await _actions(demo_db))[-1] == "auth.login"


async def test_wrong_password_is_refused_and_recorded(demo_db, client_for) -> None:
    client = await client_for(demo_db)
    response = await sign_in(client, "lan.nguyen", "sai-mat-khau-123")
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in response.text
    assert "lt_session" not in response.headers.get("set-cookie", "")
    assert (await _actions(demo_db))[-1] == "auth.login_failed"


async def test_post_without_csrf_token_is_refused(demo_db, client_for) -> None:
    client = await client_for(demo_db)
    await sign_in(client, "lan.nguyen")
    response = await client.post("/account/tokens", data={"name": "no token"})
    assert response.status_code == 403
    anonymous = await client_for(demo_db)
    refused = await anonymous.post("/login", data={"username": "lan.nguyen", "password": DEMO_PASSWORD})
    assert refused.status_code == 403


async def test_api_token_works_as_bearer_and_can_be_revoked(demo_db, client_for) -> None:
    client = await client_for(demo_db)
    await sign_in(client, "thu.le")
    page = await post_form(client, "/account/tokens", {"name": "script báo cáo"}, page="/account")
    assert page.status_code == 200
    token = page.text.split('<code class="token">', 1)[1].split("<", 1)[0]
    script = await client_for(demo_db)
    me = await script.get("/api/me", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "thu.le"
    token_id = page.text.split("/account/tokens/", 1)[1].split("/", 1)[0]
    await post_form(client, f"/account/tokens/{token_id}/revoke", {}, page="/account")
    refused = await script.get("/api/me", headers={"authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert {"auth.token_create", "auth.token_revoke"} <= set(await _actions(demo_db))


async def test_password_change_signs_out_other_browsers(demo_db, client_for) -> None:
    phone, laptop = await client_for(demo_db), await client_for(demo_db)
    await sign_in(phone, "ngoc.vo")
    await sign_in(laptop, "ngoc.vo")
    bad = await post_form(
        laptop,
        "/account/password",
        {"current_password": "wrong-one-x", "new_password": "MatKhauMoi@2026", "confirm_password": "MatKhauMoi@2026"},
        page="/account",
    )
    assert bad.status_code == 422 and "Mật khẩu hiện tại không đúng" in bad.text
    ok = await post_form(
        laptop,
        "/account/password",
        {"current_password": DEMO_PASSWORD, "new_password": "MatKhauMoi@2026", "confirm_password": "MatKhauMoi@2026"},
        page="/account",
    )
    assert ok.status_code == 303
    assert (await laptop.get("/")).status_code == 200
    assert (await phone.get("/")).status_code == 303  # sent back to the sign-in page
    fresh = await client_for(demo_db)
    assert (await sign_in(fresh, "ngoc.vo", "MatKhauMoi@2026")).status_code == 303


async def test_an_administrators_password_reset_signs_the_person_out_everywhere(demo_db, client_for) -> None:
    """A reset is for a forgotten or leaked password: whoever is signed in with the old one — the
    person, or someone who learnt it — is out, and only the new password signs in."""
    phone, admin = await client_for(demo_db), await client_for(demo_db)
    await sign_in(phone, "ngoc.vo")
    await sign_in(admin, "quantri")
    user_id = (await phone.get("/api/me")).json()["id"]
    page = await admin.get(f"/admin/users/{user_id}")
    assert "bị đăng xuất trên mọi thiết bị" in page.text  # the administrator is told before
    done = await post_form(admin, f"/admin/users/{user_id}/password", {"password": "MatKhauMoi@2026"}, page=f"/admin/users/{user_id}")
    assert done.status_code == 303
    assert (await phone.get("/")).status_code == 303  # sent back to the sign-in page
    assert (await admin.get("/")).status_code == 200
    assert (await _actions(demo_db))[-2:] == ["user.password_set", "user.sessions_ended"]  # the trail says both
    fresh = await client_for(demo_db)
    assert (await sign_in(fresh, "ngoc.vo", "MatKhauMoi@2026")).status_code == 303


async def test_logout_ends_the_session(demo_db, client_for) -> None:
    client = await client_for(demo_db)
    await sign_in(client, "lan.nguyen")
    token = await csrf_of(client, "/")
    assert (await client.post("/logout", data={"csrf_token": token})).status_code == 303
    assert (await client.get("/")).headers["location"].startswith("/login")
    assert (await _actions(demo_db))[-1] == "auth.logout"


async def test_open_redirect_after_sign_in_is_ignored(demo_db, client_for) -> None:
    client = await client_for(demo_db)
    token = await csrf_of(client, "/login")
    response = await client.post(
        "/login", data={"username": "lan.nguyen", "password": DEMO_PASSWORD, "csrf_token": token, "next": "//evil.example/x"}
    )
    assert response.headers["location"] == "/"


async def test_a_live_connect_knows_a_session_by_the_same_rule_as_a_page(demo_db, settings) -> None:
    """The live channel's Core lookup (auth.live_session) accepts exactly the sessions a
    page accepts: live ones of active users; not an expired one, a deactivated user's or an unknown
    token."""
    from datetime import timedelta

    from sqlalchemy import update

    from services.auth import service as auth
    from services.auth.models import UserSession
    from services.db import utcnow
    from services.directory.models import User

    async with demo_db.session() as session:
        opened = await auth.sign_in(
            session, settings=settings, username="mai.tran", password=DEMO_PASSWORD, ip="127.0.0.1", user_agent=None
        )
    token, user_id = opened.token, opened.user.id

    async def both() -> tuple[int | None, int | None]:
        async with demo_db.read() as session:
            page = await auth.resolve_session(session, token=token)
            found = await auth.live_session(session, token=token)
            return (page.user_id if page else None), (found[0] if found else None)

    assert await both() == (user_id, user_id)
    async with demo_db.read() as session:
        assert await auth.live_session(session, token=token + "x") is None
    async with demo_db.session() as session:
        await session.execute(update(User).where(User.id == user_id).values(active=False))
    assert await both() == (None, None)
    async with demo_db.session() as session:
        await session.execute(update(User).where(User.id == user_id).values(active=True))
        await session.execute(update(UserSession).where(UserSession.user_id == user_id).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert await both() == (None, None)
