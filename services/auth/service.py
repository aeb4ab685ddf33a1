"""Sign-in with throttling, browser sessions, personal API tokens and password change."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from services.audit.service import Actor, record
from services.auth.models import ApiToken, LoginAttempt, TokenScope, UserSession
from services.auth.passwords import hash_password, needs_rehash, verify_password
from services.config import Settings
from services.db import Reader, utcnow
from services.directory import service as directory
from services.directory.models import User
from services.errors import InvalidInput, NotFound, TooManyAttempts, Unauthenticated
from services.events import service as events
from services.i18n import Message, _l

TOKEN_PREFIX = "lt_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class SignIn:
    user: User
    token: str
    session: UserSession


def _delay(settings: Settings, failures: int, free: int) -> timedelta:
    """How long after the last failure the next attempt must wait: nothing for the free ones,
    then the base doubled at each further failure, up to the cap."""
    if failures < free:
        return timedelta(0)
    exponent = min(failures - free, 30)  # 2**30 s is past any cap
    return timedelta(seconds=min(settings.login_delay_base_seconds * 2**exponent, settings.login_delay_max_seconds))


async def _failures(session: AsyncSession, *conditions: ColumnElement[bool], since: datetime) -> tuple[int, datetime | None]:
    count, last = (
        await session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(LoginAttempt.success.is_(False), LoginAttempt.at >= since, *conditions)
        )
    ).one()
    return count or 0, last


async def sign_in_not_before(session: AsyncSession, settings: Settings, *, username: str, ip: str) -> datetime | None:
    """The instant before which `username` may not try to sign in from `ip`, or None.

    Two counts, each from this address only, so that guessing from elsewhere never locks the
    owner out: failures on this account since its last success from here, and failures on any
    account (someone trying many names). Refused attempts are not failures: they do not push
    the instant further.
    """
    since = utcnow() - timedelta(minutes=settings.login_failure_window_minutes)
    last_success = await session.scalar(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.success.is_(True))
    )
    account_since = max(since, last_success) if last_success else since
    instants = []
    for conditions, start, free in (
        ((LoginAttempt.username == username, LoginAttempt.ip == ip), account_since, settings.login_free_failures_per_account),
        ((LoginAttempt.ip == ip,), since, settings.login_free_failures_per_address),
    ):
        count, last = await _failures(session, *conditions, since=start)
        if last is not None and (wait := _delay(settings, count, free)):
            instants.append(last + wait)
    not_before = max(instants, default=None)
    return not_before if not_before and not_before > utcnow() else None


def _wait_words(seconds: int) -> Message:
    if seconds < 60:
        return _l("{n} seconds", n=seconds)
    return _l("{n} minutes", n=-(-seconds // 60))


async def _password_holder(session: AsyncSession, *, settings: Settings, username: str, password: str, ip: str) -> User:
    """The active user with this name and password; a failure is recorded and throttled (the
    caller commits the session even then)."""
    username = (username or "").strip().lower()[:64]
    not_before = await sign_in_not_before(session, settings, username=username, ip=ip)
    if not_before is not None:
        retry_after = max(1, math.ceil((not_before - utcnow()).total_seconds()))
        await record(
            session,
            actor=Actor(user_id=None, name=username, ip=ip),
            action="auth.login_throttled",
            object_type="user",
            details={"username": username, "retry_after_seconds": retry_after},
        )
        raise TooManyAttempts(
            _l("Too many failed sign-ins. To protect the account, try again in {wait}.", wait=_wait_words(retry_after)),
            retry_after=retry_after,
        )
    user = await directory.find_user(session, username=username)
    ok = await verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or not user.active:
        session.add(LoginAttempt(username=username, ip=ip, success=False))
        await record(
            session,
            actor=Actor(user_id=user.id if user else None, name=username, ip=ip),
            action="auth.login_failed",
            object_type="user",
            object_id=user.id if user else None,
            organization_id=user.organization_id if user else None,
            details={"username": username},
        )
        raise Unauthenticated(_l("The username or password is wrong."))
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    session.add(LoginAttempt(username=username, ip=ip, success=True))
    return user


async def sign_in(session: AsyncSession, *, settings: Settings, username: str, password: str, ip: str, user_agent: str | None) -> SignIn:
    """Check the password and open a session; failures are recorded and throttled.

    Raises Unauthenticated (wrong name or password) or TooManyAttempts after writing the failed
    attempt to the session: callers commit the session even then (web/routes/account.py does).
    """
    user = await _password_holder(session, settings=settings, username=username, password=password, ip=ip)
    token = secrets.token_urlsafe(32)
    user_session = UserSession(
        token_hash=_digest(token),
        csrf_token=secrets.token_urlsafe(32),
        user_id=user.id,
        expires_at=utcnow() + timedelta(hours=settings.session_hours),
        ip=ip,
        user_agent=(user_agent or "")[:255],
    )
    session.add(user_session)
    await session.flush()
    await record(
        session,
        actor=Actor(user_id=user.id, name=user.full_name, organization_id=user.organization_id, ip=ip),
        action="auth.login",
        object_type="user",
        object_id=user.id,
        details={"session_id": user_session.id},
    )
    return SignIn(user=user, token=token, session=user_session)


@cache
def _session_with_user() -> Select[UserSession]:
    # Built once (on first use, once every mapper is configured): every page and every live
    # connect looks a session up, and building the eager-load option each time cost more than a
    # cached statement's execution (bench/bench_live.py).
    return select(UserSession).options(joinedload(UserSession.user))


async def resolve_session(session: AsyncSession, *, token: str) -> UserSession | None:
    user_session = await session.scalar(_session_with_user().where(UserSession.token_hash == _digest(token)))
    if user_session is None or user_session.expires_at <= utcnow() or not user_session.user.active:
        return None
    return user_session


_sessions, _users = UserSession.__table__, User.__table__
# The same rule as resolve_session, for the live channel's connect (web/live.py), where thousands
# of phones reconnect at once and only the user's id is needed: a Core statement of one column,
# built once, with no ORM objects to load (bench/bench_live.py: the ORM lookup was half a connect).
_LIVE_SESSION_USER = (
    select(_sessions.c.user_id, _sessions.c.expires_at)
    .join(_users, _users.c.id == _sessions.c.user_id)
    .where(_sessions.c.token_hash == bindparam("digest"), _sessions.c.expires_at > bindparam("now"), _users.c.active.is_(True))
)


# What a statement made by `live_session_statement` may ask about the session's user.
LIVE_SESSION_USER_ID = _sessions.c.user_id


def live_session_statement(*also: ColumnElement[Any]) -> Select[Any]:
    """The live session's user (as `live_session`), when the session ends and, in the same read,
    `also`: truths about that user (`LIVE_SESSION_USER_ID`). Run with `live_session_params(token)`;
    no row: no session."""
    return _LIVE_SESSION_USER.add_columns(*also)


def live_session_params(token: str) -> dict[str, object]:
    return {"digest": _digest(token), "now": utcnow()}


async def live_session(reader: Reader, *, token: str) -> tuple[int, datetime] | None:
    """The user of a live session (not signed out, not expired) of an active user and when the
    session ends, else None."""
    row = (await reader.execute(_LIVE_SESSION_USER, live_session_params(token))).first()
    return None if row is None else (row[0], row[1])


async def sign_out(session: AsyncSession, *, actor: Actor, user_session: UserSession) -> None:
    await session.delete(user_session)
    await record(session, actor=actor, action="auth.logout", object_type="user", object_id=actor.user_id)
    # The session's live sockets (other tabs) are closed and, re-connecting, refused.
    await events.access_changed(session, user_session.user_id)


async def end_sessions(session: AsyncSession, *, actor: Actor, user: User, keep_session_id: int | None = None) -> None:
    """Sign the user out of every browser but `keep_session_id`'s; their live sockets are closed too."""
    ended = await session.scalars(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.id != (keep_session_id or -1)).returning(UserSession.id)
    )
    await record(
        session,
        actor=actor,
        action="user.sessions_ended",
        object_type="user",
        object_id=user.id,
        organization_id=user.organization_id,
        details={"sessions": len(ended.all())},
    )
    await events.access_changed(session, user.id)


async def reset_password(session: AsyncSession, *, actor: Actor, user: User, password: str) -> None:
    """An administrator's reset (a forgotten or leaked password): the new password, and the person
    signed out everywhere — whoever used the old one is out too."""
    await directory.set_password(session, actor=actor, user=user, password=password)
    await end_sessions(session, actor=actor, user=user)


async def change_own_password(
    session: AsyncSession, *, actor: Actor, user: User, current: str, new: str, keep_session_id: int | None
) -> None:
    if not await verify_password(user.password_hash, current):
        raise InvalidInput(_l("The current password is wrong."))
    if current == new:
        raise InvalidInput(_l("The new password must differ."))
    await directory.set_password(session, actor=actor, user=user, password=new)
    # Other browsers signed in with the old password are signed out.
    await end_sessions(session, actor=actor, user=user, keep_session_id=keep_session_id)


TOKEN_DAYS = (30, 90, 180, 365)  # the validity choices offered; 90 is the default
DEFAULT_TOKEN_DAYS = 90


async def create_api_token(
    session: AsyncSession,
    *,
    actor: Actor,
    user: User,
    name: str,
    scope: str = TokenScope.read.value,
    days: int = DEFAULT_TOKEN_DAYS,
) -> tuple[ApiToken, str]:
    """Create a bearer token; the clear value is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_l("Give the token a name."))
    if scope not in {s.value for s in TokenScope}:
        raise InvalidInput(_l("Choose read-only or full access."))
    if days not in TOKEN_DAYS:
        raise InvalidInput(_l("Choose one of the offered validity periods."))
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name[:128],
        token_hash=_digest(clear),
        prefix=clear[:10],
        scope=scope,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(token)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="auth.token_create",
        object_type="api_token",
        object_id=token.id,
        details={"name": token.name, "prefix": token.prefix, "scope": scope, "expires_at": token.expires_at.isoformat()},
    )
    return token, clear


async def token_for_password(
    session: AsyncSession, *, settings: Settings, username: str, password: str, ip: str, name: str, scope: str, days: int
) -> tuple[ApiToken, str]:
    """An API token for an app that signs in with the user's name and password (a phone, a
    script): the same checks, throttling and records as signing in on the page."""
    user = await _password_holder(session, settings=settings, username=username, password=password, ip=ip)
    actor = Actor(user_id=user.id, name=user.full_name, organization_id=user.organization_id, ip=ip)
    return await create_api_token(session, actor=actor, user=user, name=name, scope=scope, days=days)


async def revoke_api_token(session: AsyncSession, *, actor: Actor, user: User, token_id: int) -> None:
    token = await session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_l("token not found"))
    token.revoked = True
    await record(
        session,
        actor=actor,
        action="auth.token_revoke",
        object_type="api_token",
        object_id=token.id,
        details={"name": token.name},
    )


TOKEN_USE_PRECISION = timedelta(minutes=1)


async def resolve_api_token(session: AsyncSession, *, clear: str) -> ApiToken:
    """The live token for `clear`; Unauthenticated when it is unknown, revoked or expired. Its
    last use is stamped by `touch_api_token` (at most once a minute), so reading through a
    token needs no write."""
    token = await session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(clear)).options(joinedload(ApiToken.user)))
    if token is None or token.revoked or not token.user.active:
        raise Unauthenticated(_l("Invalid or revoked API token."))
    if token.expires_at <= utcnow():
        raise Unauthenticated(
            _l("The API token has expired. Create a new one on the My account page."),
        )
    return token


def api_token_needs_touch(token: ApiToken) -> bool:
    return token.last_used_at is None or utcnow() - token.last_used_at >= TOKEN_USE_PRECISION


async def touch_api_token(session: AsyncSession, *, token_id: int) -> None:
    """Stamp the token's last use (after a request; a read-only request cannot)."""
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))


async def list_api_tokens(session: AsyncSession, *, user: User) -> list[ApiToken]:
    return list((await session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))).all())
