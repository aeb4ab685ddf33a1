"""The caller's notifications over the public API: what the bell in the navigation shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.notifications import service as notifications
from services.notifications.models import Notification
from web.api_v1.common import Answer, IdempotencyKey, once
from web.deps import SessionDep, SignedIn

router = APIRouter(prefix="/api/v1/notifications", tags=["api v1: notifications"])


class NotificationOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    link: str | None = Field(description="The page of what it is about")
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    unread: int = Field(description="How many of the caller's notifications are unread")


class Unread(BaseModel):
    unread: int


def _out(n: Notification) -> NotificationOut:
    return NotificationOut(id=n.id, kind=n.kind, title=n.title, body=n.body, link=n.link, created_at=n.created_at, read_at=n.read_at)


async def _unread(session: AsyncSession, principal: Principal) -> int:
    return await notifications.unread_count(session, user_id=principal.user.id)


@router.get("", response_model=NotificationPage)
async def listing(
    principal: SignedIn,
    session: SessionDep,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$", description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
) -> NotificationPage:
    """Newest first."""
    items = await notifications.list_for(
        session, user_id=principal.user.id, limit=limit + 1, before_id=int(cursor) if cursor else None, unread_only=unread
    )
    more, items = len(items) > limit, items[:limit]
    return NotificationPage(
        items=[_out(n) for n in items], next_cursor=str(items[-1].id) if more and items else None, unread=await _unread(session, principal)
    )


@router.post("/{notification_id}/read", response_model=NotificationOut)
async def read_one(
    request: Request, principal: SignedIn, session: SessionDep, notification_id: int, key: IdempotencyKey = None
) -> Response:
    """Mark one as read (again is harmless)."""

    async def act() -> Answer:
        # Someone else's (or no) notification: the update touches nothing and get_for's 404
        # rolls the transaction back.
        await notifications.mark_read(session, user_id=principal.user.id, notification_id=notification_id)
        return Answer(_out(await notifications.get_for(session, user_id=principal.user.id, notification_id=notification_id)))

    return await once(request, session, principal, key, act)


@router.post("/read-all", response_model=Unread)
async def read_all(request: Request, principal: SignedIn, session: SessionDep, key: IdempotencyKey = None) -> Response:
    """Mark every notification of the caller as read."""

    async def act() -> Answer:
        await notifications.mark_read(session, user_id=principal.user.id)
        return Answer(Unread(unread=await _unread(session, principal)))

    return await once(request, session, principal, key, act)
