"""Webhooks over the public API: an organisation's administrators subscribe endpoints to its
events, read the deliveries with their attempts, send a test event and redeliver one — the same
service functions and access rules as the page (web/routes/webhooks.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.webhooks import service as webhooks
from services.webhooks.models import WebhookDelivery, WebhookSubscription
from web.api_v1.common import Answer, IdempotencyKey, once
from web.deps import AdminUser, SessionDep

router = APIRouter(prefix="/api/v1/webhooks", tags=["api v1: webhooks"])

EventType = Literal["incoming.arrived", "outgoing.issued", "document.status_changed", "meeting.scheduled", "minutes.signed"]


class SubscriptionOut(BaseModel):
    id: int
    organization_id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime


class CreatedSubscription(SubscriptionOut):
    secret: str = Field(description="Signs every delivery (Lienthong-Signature). Shown only in this answer: keep it now.")


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None = Field(description="The endpoint's HTTP status; null when it did not answer")
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="The same for every retry and redelivery (Lienthong-Event-Id): deduplicate on it")
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int = Field(description="Attempts since it was queued or redelivered")
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next")
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first")


class SubscriptionDetail(SubscriptionOut):
    deliveries: list[DeliveryOut] = Field(description=f"The latest {webhooks.RECENT}, newest first")


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]


class NewSubscription(BaseModel):
    organization_id: int = Field(description="The organisation whose events are sent (you administer it)")
    url: str = Field(max_length=2000, description="An https:// endpoint")
    events: list[EventType] = Field(min_length=1, max_length=len(webhooks.EVENT_TYPES))
    description: str = Field("", max_length=200)


def _out(sub: WebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=sub.id,
        organization_id=sub.organization_id,
        url=sub.url,
        events=sub.event_types,
        description=sub.description,
        active=sub.active,
        created_at=sub.created_at,
    )


def _delivery(row: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,  # the column holds one of the three
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.due_at if row.status == "pending" else None,
        delivered_at=row.delivered_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        attempt_log=[AttemptOut(at=a.at, status_code=a.status_code, error=a.error, duration_ms=a.duration_ms) for a in row.attempt_rows],
    )


async def _detail(session: AsyncSession, principal: Principal, subscription_id: int) -> SubscriptionDetail:
    sub = await webhooks.get_for(session, principal=principal, subscription_id=subscription_id)
    rows = await webhooks.deliveries(session, subscription_id=sub.id)
    return SubscriptionDetail(**_out(sub).model_dump(), deliveries=[_delivery(r) for r in rows])


@router.get("", response_model=SubscriptionList)
async def listing(
    principal: AdminUser,
    session: SessionDep,
    organization_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Only this organisation's")] = None,
) -> SubscriptionList:
    """The subscriptions of the organisations you administer."""
    subs = await webhooks.list_for(session, principal=principal, organization_id=organization_id)
    return SubscriptionList(items=[_out(s) for s in subs])


@router.post("", status_code=201, response_model=CreatedSubscription)
async def create(
    request: Request, principal: AdminUser, session: SessionDep, body: NewSubscription, key: IdempotencyKey = None
) -> Response:
    """Subscribe an endpoint; the answer holds the signing secret, shown this once."""

    async def act() -> Answer:
        sub, secret = await webhooks.create(
            session,
            principal=principal,
            settings=request.app.state.settings,
            organization_id=body.organization_id,
            url=body.url,
            events=body.events,
            description=body.description,
        )
        created = CreatedSubscription(**_out(sub).model_dump(), secret=secret)
        return Answer(created, 201, {"Location": f"/api/v1/webhooks/{sub.id}"})

    return await once(request, session, principal, key, act)


@router.get("/{subscription_id}", response_model=SubscriptionDetail)
async def subscription(principal: AdminUser, session: SessionDep, subscription_id: int) -> SubscriptionDetail:
    """One subscription with its latest deliveries and their attempts."""
    return await _detail(session, principal, subscription_id)


@router.delete("/{subscription_id}", status_code=204, response_class=Response)
async def delete(principal: AdminUser, session: SessionDep, subscription_id: int) -> Response:
    """Delete the subscription with its deliveries (the audit trail keeps that it existed)."""
    await webhooks.remove(session, principal=principal, subscription_id=subscription_id)
    return Response(status_code=204)


async def _switch(
    request: Request, principal: Principal, session: AsyncSession, subscription_id: int, key: str | None, active: bool
) -> Response:
    async def act() -> Answer:
        await webhooks.set_active(session, principal=principal, subscription_id=subscription_id, active=active)
        return Answer(await _detail(session, principal, subscription_id))

    return await once(request, session, principal, key, act)


@router.post("/{subscription_id}/disable", response_model=SubscriptionDetail)
async def disable(
    request: Request, principal: AdminUser, session: SessionDep, subscription_id: int, key: IdempotencyKey = None
) -> Response:
    """Stop sending; pending deliveries wait until it is enabled again."""
    return await _switch(request, principal, session, subscription_id, key, False)


@router.post("/{subscription_id}/enable", response_model=SubscriptionDetail)
async def enable(request: Request, principal: AdminUser, session: SessionDep, subscription_id: int, key: IdempotencyKey = None) -> Response:
    """Send again, starting with what waited."""
    return await _switch(request, principal, session, subscription_id, key, True)


@router.post("/{subscription_id}/test", status_code=201, response_model=DeliveryOut)
async def send_test(
    request: Request, principal: AdminUser, session: SessionDep, subscription_id: int, key: IdempotencyKey = None
) -> Response:
    """Queue a `ping` event for this endpoint only, to check it receives and verifies."""

    async def act() -> Answer:
        row = await webhooks.send_test(session, principal=principal, subscription_id=subscription_id)
        return Answer(_delivery(await webhooks.delivery(session, subscription_id=subscription_id, delivery_id=row.id)), 201)

    return await once(request, session, principal, key, act)


@router.post("/{subscription_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut)
async def redeliver(
    request: Request, principal: AdminUser, session: SessionDep, subscription_id: int, delivery_id: int, key: IdempotencyKey = None
) -> Response:
    """Send a delivery again (same event ID and body), from a first attempt."""

    async def act() -> Answer:
        await webhooks.redeliver(session, principal=principal, subscription_id=subscription_id, delivery_id=delivery_id)
        return Answer(_delivery(await webhooks.delivery(session, subscription_id=subscription_id, delivery_id=delivery_id)))

    return await once(request, session, principal, key, act)
