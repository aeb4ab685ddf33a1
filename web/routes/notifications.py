"""The person's notifications (the live badge in the navigation counts the unread ones)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from services.notifications import service as notifications
from services.numbers import is_digits
from web.deps import SessionDep, SignedIn, writes_on_read
from web.templating import render

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("")
async def notifications_page(request: Request, principal: SignedIn, session: SessionDep) -> Response:
    items = await notifications.list_for(session, user_id=principal.user.id)
    return render(request, "notifications.html", {"items": items})


@router.post("/read")
async def mark_read(request: Request, principal: SignedIn, session: SessionDep, notification_id: Annotated[str, Form()] = "") -> Response:
    await notifications.mark_read(
        session, user_id=principal.user.id, notification_id=int(notification_id) if is_digits(notification_id) else None
    )
    return RedirectResponse("/notifications", status_code=303)


@router.get("/{notification_id}/open")
@writes_on_read
async def open_notification(request: Request, principal: SignedIn, session: SessionDep, notification_id: int) -> Response:
    """Mark one as read and go to what it is about."""
    target = await notifications.get_for(session, user_id=principal.user.id, notification_id=notification_id)
    await notifications.mark_read(session, user_id=principal.user.id, notification_id=notification_id)
    return RedirectResponse(target.link or "/notifications", status_code=303)
