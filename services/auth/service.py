"""Sign-in with throttling, browser sessions, personal API tokens and password change."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.audit.service import Actor, record
from services.auth.models import ApiToken, LoginAttempt, UserSession
from services.auth.passwords import hash_password, needs_rehash, verify_password
from services.config import Settings
from services.db import utcnow
from services.directory import service as directory
from services.directory.models import User
from services.errors import InvalidInput, NotFound, TooManyAttempts, Unauthenticated

TOKEN_PREFIX = "lt_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class SignIn:
    user: User
    token: str
    session: UserSession


async def _recent_failures(session: AsyncSession, settings: Settings, *, username: str, ip: str) -> tuple[int, int]:
    since = utcnow() - timedelta(minutes=settings.login_failure_window_minutes)
    base = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.at >= since, LoginAttempt.success.is_(False))
    per_account = await session.scalar(base.where(LoginAttempt.username == username)) or 0
    per_address = await session.scalar(base.where(LoginAttempt.ip == ip)) or 0
    return per_account, per_address


async def sign_in(
    session: AsyncSession, *, settings: Settings, username: str, password: str, ip: str, user_agent: str | None
) -> SignIn:
    """Check the password and open a session; failures are recorded and throttled.

    Raises Unauthenticated (wrong name or password) or TooManyAttempts after writing the failed
    attempt to the session: callers commit the session even then (web/routes/account.py does).
    """
    username = (username or "").strip().lower()[:64]
    per_account, per_address = await _recent_failures(session, settings, username=username, ip=ip)
    if per_account >= settings.login_max_failures_per_account or per_address >= settings.login_max_failures_per_address:
        await record(
            session, actor=Actor(user_id=None, name=username, ip=ip), action="auth.login_throttled",
            object_type="user", details={"username": username},
        )
        raise TooManyAttempts(
            f"Đăng nhập sai quá nhiều lần. Hãy thử lại sau {settings.login_failure_window_minutes} phút.",
            f"Too many failed sign-ins. Try again in {settings.login_failure_window_minutes} minutes.",
        )
    user = await directory.find_user(session, username=username)
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or not user.active:
        session.add(LoginAttempt(username=username, ip=ip, success=False))
        await record(
            session, actor=Actor(user_id=user.id if user else None, name=username, ip=ip),
            action="auth.login_failed", object_type="user", object_id=user.id if user else None,
            organization_id=user.organization_id if user else None, details={"username": username},
        )
        raise Unauthenticated(
            "Tên đăng nhập hoặc mật khẩu không đúng.", "The username or password is wrong."
        )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.add(LoginAttempt(username=username, ip=ip, success=True))
    token = secrets.token_urlsafe(32)
    user_session = UserSession(
        token_hash=_digest(token), csrf_token=secrets.token_urlsafe(32), user_id=user.id,
        expires_at=utcnow() + timedelta(hours=settings.session_hours), ip=ip, user_agent=(user_agent or "")[:255],
    )
    session.add(user_session)
    await session.flush()
    await record(
        session, actor=Actor(user_id=user.id, name=user.full_name, organization_id=user.organization_id, ip=ip),
        action="auth.login", object_type="user", object_id=user.id, details={"session_id": user_session.id},
    )
    return SignIn(user=user, token=token, session=user_session)


async def resolve_session(session: AsyncSession, *, token: str) -> UserSession | None:
    user_session = await session.scalar(
        select(UserSession).where(UserSession.token_hash == _digest(token)).options(selectinload(UserSession.user))
    )
    if user_session is None or user_session.expires_at <= utcnow() or not user_session.user.active:
        return None
    return user_session


async def sign_out(session: AsyncSession, *, actor: Actor, user_session: UserSession) -> None:
    await session.delete(user_session)
    await record(session, actor=actor, action="auth.logout", object_type="user", object_id=actor.user_id)


async def change_own_password(
    session: AsyncSession, *, actor: Actor, user: User, current: str, new: str, keep_session_id: int | None
) -> None:
    if not verify_password(user.password_hash, current):
        raise InvalidInput("Mật khẩu hiện tại không đúng.", "The current password is wrong.")
    if current == new:
        raise InvalidInput("Mật khẩu mới phải khác mật khẩu hiện tại.", "The new password must differ.")
    await directory.set_password(session, actor=actor, user=user, password=new)
    # Other browsers signed in with the old password are signed out.
    await session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.id != (keep_session_id or -1))
    )


async def create_api_token(session: AsyncSession, *, actor: Actor, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a bearer token; the clear value is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Hãy đặt tên cho mã truy cập (ví dụ: script báo cáo).", "Give the token a name.")
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name[:128], token_hash=_digest(clear), prefix=clear[:10])
    session.add(token)
    await session.flush()
    await record(
        session, actor=actor, action="auth.token_create", object_type="api_token", object_id=token.id,
        details={"name": token.name, "prefix": token.prefix},
    )
    return token, clear


async def revoke_api_token(session: AsyncSession, *, actor: Actor, user: User, token_id: int) -> None:
    token = await session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("Không tìm thấy mã truy cập.", "token not found")
    token.revoked = True
    await record(
        session, actor=actor, action="auth.token_revoke", object_type="api_token", object_id=token.id,
        details={"name": token.name},
    )


TOKEN_USE_PRECISION = timedelta(minutes=1)


async def resolve_api_token(session: AsyncSession, *, clear: str) -> ApiToken | None:
    """The live token for `clear`, or None. Its last use is stamped by `touch_api_token`
    (at most once a minute), so reading through a token needs no write."""
    token = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(clear)).options(selectinload(ApiToken.user))
    )
    if token is None or token.revoked or not token.user.active:
        return None
    return token


def api_token_needs_touch(token: ApiToken) -> bool:
    return token.last_used_at is None or utcnow() - token.last_used_at >= TOKEN_USE_PRECISION


async def touch_api_token(session: AsyncSession, *, token_id: int) -> None:
    """Stamp the token's last use (after a request; a read-only request cannot)."""
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))


async def list_api_tokens(session: AsyncSession, *, user: User) -> list[ApiToken]:
    return list(
        (await session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))).all()
    )
