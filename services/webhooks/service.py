"""Webhooks: an organisation's administrators subscribe an HTTPS endpoint to its events.

`emit` is the one way an event reaches subscribers. The domains call it from the single function
where each change happens (incoming `_touch`, outgoing `_event`, `schedule_meeting`, the minutes'
`number_and_date`), inside the change's transaction: a delivery row per subscription that wants
the event, committed or rolled back with the change. An event belongs to the organisation that
owns the object, and only that organisation's subscriptions get it, so nobody learns of an object
they may not see. The deliverer (services/webhooks/delivery.py) sends the rows.

Every change of a subscription is one function here that writes the change and its audit entry
in the caller's transaction.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState, Session, selectinload
from sqlalchemy.orm.attributes import NO_VALUE, QueryableAttribute

from services.audit.service import Actor, record
from services.authz import Principal, require
from services.config import Settings
from services.db import utcnow
from services.directory.models import Organization, Role
from services.errors import InvalidInput, NotFound
from services.i18n import Message, _l
from services.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

# The events an organisation may subscribe to, with their labels.
EVENT_TYPES: dict[str, Message] = {
    "incoming.arrived": _l("A new incoming document (arrived or registered)"),
    "outgoing.issued": _l("An outgoing document was issued"),
    "document.status_changed": _l("A document's status changed"),
    "meeting.scheduled": _l("A meeting was scheduled"),
    "minutes.signed": _l("Minutes were signed"),
}
TEST_EVENT = "ping"  # sent by "send a test event" to one subscription, whatever it subscribed to
MAX_SUBSCRIPTIONS = 20  # per organisation
RECENT = 50  # deliveries shown with a subscription
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# Called after a commit that wrote deliveries, so a deliverer in this process sends them at once.
listeners: set[Callable[[], None]] = set()


@event.listens_for(Session, "after_commit")
def _wake_deliverers(session: Session) -> None:
    if session.info.pop("webhooks_written", False):
        for listener in list(listeners):
            listener()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop("webhooks_written", None)


# --- emitting -------------------------------------------------------------------------------------


def _payload(event_type: str, org: Organization, kind: str, object_id: int, path: str, data: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "occurred_at": utcnow().isoformat(timespec="seconds"),
        "organization": {"id": org.id, "code": org.code, "name": org.name},
        "object": {"id": object_id, "kind": kind, "path": path},
        "data": data or {},
    }


async def _queue(session: AsyncSession, subscriptions: Iterable[WebhookSubscription], payload: dict[str, Any]) -> list[WebhookDelivery]:
    now = utcnow()
    rows = [
        WebhookDelivery(
            subscription_id=s.id,
            event_id=payload["id"],
            event_type=payload["type"],
            payload=json.dumps(payload, ensure_ascii=False),
            status="pending",
            created_at=now,
            due_at=now,
            attempts=0,
        )
        for s in subscriptions
    ]
    session.add_all(rows)
    if rows:
        await session.flush()
        session.info["webhooks_written"] = True
    return rows


async def emit(
    session: AsyncSession,
    *,
    event_type: str,
    organization_id: int,
    kind: str,
    object_id: int,
    path: str,
    data: dict[str, Any] | None = None,
) -> int:
    """Queue `event_type` about (kind, object_id), owned by `organization_id`, for that
    organisation's active subscriptions to it, in the caller's transaction; how many were queued."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    subscriptions = (
        await session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.organization_id == organization_id, WebhookSubscription.active.is_(True))
        )
    ).all()
    wanted = [s for s in subscriptions if event_type in s.event_types]
    if not wanted:
        return 0
    org = await session.get(Organization, organization_id)
    assert org is not None
    return len(await _queue(session, wanted, _payload(event_type, org, kind, object_id, path, data)))


def track_status(attribute: QueryableAttribute[Any]) -> None:
    """Remember a model's status before the first change in a transaction, for `status_change`
    (a domain whose status is set in many functions reports changes from one place)."""

    def remember(target: Any, value: Any, old: Any, _initiator: Any) -> None:
        state: InstanceState[Any] = target._sa_instance_state
        state.info.setdefault("webhook_status_from", old)

    event.listen(attribute, "set", remember, active_history=True)


def status_change(obj: Any) -> tuple[str, str] | None:
    """(before, now) of a tracked status changed since the last call; None when it did not change
    (or the object is new)."""
    state: InstanceState[Any] = obj._sa_instance_state
    before = state.info.pop("webhook_status_from", NO_VALUE)
    if before is NO_VALUE or before is None:
        return None
    before, now = getattr(before, "value", before), getattr(obj.status, "value", obj.status)
    return None if before == now else (str(before), str(now))


# --- subscriptions --------------------------------------------------------------------------------


def check_url(url: str, settings: Settings) -> str:
    """An HTTPS URL with a host and no credentials; http only on this host when the setting says so.
    Addresses of this host or a private network are refused (the server would post into it)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise InvalidInput(_l("The endpoint is not a valid URL. Give an address like https://example.vn/hooks.")) from None
    if len(url) > 2000 or not host or parts.username or parts.password or parts.scheme not in ("https", "http"):
        raise InvalidInput(_l("The endpoint is not a valid URL. Give an address like https://example.vn/hooks."))
    local = host in LOCAL_HOSTS
    if parts.scheme == "http" and not (local and settings.webhook_allow_http_localhost):
        raise InvalidInput(_l("The endpoint must use HTTPS."))
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if (local and not settings.webhook_allow_http_localhost) or (not local and address is not None and not address.is_global):
        raise InvalidInput(_l("The endpoint must be a public address, not this server or a private network."))
    return url


def _events(events: Iterable[str]) -> str:
    chosen = sorted({e.strip() for e in events if e.strip()})
    if not chosen:
        raise InvalidInput(_l("Choose at least one event."))
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(_l("Unknown event: {event}.", event=", ".join(unknown)[:100]))
    return " ".join(chosen)


async def _audit(session: AsyncSession, actor: Actor, sub: WebhookSubscription, action: str, **details: Any) -> None:
    await record(
        session,
        actor=actor,
        action=action,
        object_type="webhook",
        object_id=sub.id,
        organization_id=sub.organization_id,
        details={"url": sub.url, **details},
    )


async def create(
    session: AsyncSession,
    *,
    principal: Principal,
    settings: Settings,
    organization_id: int,
    url: str,
    events: Iterable[str],
    description: str = "",
) -> tuple[WebhookSubscription, str]:
    """Subscribe `url` to the organisation's `events`; returns the subscription and its secret,
    which is never shown again."""
    require(principal, [Role.admin], organization_id, "organization")
    url = check_url(url, settings)
    chosen = _events(events)
    count = await session.scalar(select(func.count()).where(WebhookSubscription.organization_id == organization_id))
    if (count or 0) >= MAX_SUBSCRIPTIONS:
        raise InvalidInput(_l("An organisation may have at most {limit} webhooks. Delete one first.", limit=MAX_SUBSCRIPTIONS))
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = WebhookSubscription(
        organization_id=organization_id,
        url=url,
        events=chosen,
        description=(description or "").strip()[:200],
        secret=secret,
        active=True,
        created_at=utcnow(),
        created_by_id=principal.user.id,
    )
    session.add(sub)
    await session.flush()
    await _audit(session, principal.actor, sub, "webhook.created", events=sub.event_types)  # never the secret
    return sub, secret


async def list_for(session: AsyncSession, *, principal: Principal, organization_id: int | None = None) -> list[WebhookSubscription]:
    """The subscriptions of the organisations the principal administers (or of one of them)."""
    scope = principal.orgs_with(Role.admin)
    if organization_id is not None:
        require(principal, [Role.admin], organization_id, "organization")
        scope = {organization_id}
    query = select(WebhookSubscription).where(WebhookSubscription.organization_id.in_(scope)).order_by(WebhookSubscription.id)
    return list((await session.scalars(query)).all())


async def get_for(session: AsyncSession, *, principal: Principal, subscription_id: int) -> WebhookSubscription:
    sub = await session.get(WebhookSubscription, subscription_id)
    if sub is None or sub.organization_id not in principal.orgs_with(Role.admin):
        raise NotFound(_l("webhook not found"))
    return sub


async def set_active(session: AsyncSession, *, principal: Principal, subscription_id: int, active: bool) -> WebhookSubscription:
    """Disable (nothing is sent, pending deliveries wait) or enable again."""
    sub = await get_for(session, principal=principal, subscription_id=subscription_id)
    if sub.active != active:
        sub.active = active
        await _audit(session, principal.actor, sub, "webhook.enabled" if active else "webhook.disabled")
        if active:
            session.info["webhooks_written"] = True
    return sub


async def remove(session: AsyncSession, *, principal: Principal, subscription_id: int) -> None:
    """Delete the subscription with its deliveries and their attempts."""
    sub = await get_for(session, principal=principal, subscription_id=subscription_id)
    # Lock order (services/db.py): the subscription, then its rows, all before the audit head —
    # a change of the subscription (disabling it) holds its row when it takes the head.
    await session.execute(select(WebhookSubscription.id).where(WebhookSubscription.id == sub.id).with_for_update())
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == sub.id)
    await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
    await session.delete(sub)
    await session.flush()
    await _audit(session, principal.actor, sub, "webhook.deleted")


async def send_test(session: AsyncSession, *, principal: Principal, subscription_id: int) -> WebhookDelivery:
    """Queue a `ping` event for this subscription only (its object: the organisation)."""
    sub = await get_for(session, principal=principal, subscription_id=subscription_id)
    org = await session.get(Organization, sub.organization_id)
    assert org is not None
    payload = _payload(TEST_EVENT, org, "organization", org.id, "/", {"test": True})
    [row] = await _queue(session, [sub], payload)
    await _audit(session, principal.actor, sub, "webhook.test", event_id=payload["id"])
    return row


async def redeliver(session: AsyncSession, *, principal: Principal, subscription_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (the same event ID and body), from its first attempt on."""
    sub = await get_for(session, principal=principal, subscription_id=subscription_id)
    row = await session.get(WebhookDelivery, delivery_id)
    if row is None or row.subscription_id != sub.id:
        raise NotFound(_l("delivery not found"))
    row.status, row.attempts, row.due_at, row.delivered_at = "pending", 0, utcnow(), None
    await _audit(session, principal.actor, sub, "webhook.redeliver", delivery_id=row.id, event_id=row.event_id)
    session.info["webhooks_written"] = True
    await session.flush()
    return row


async def deliveries(session: AsyncSession, *, subscription_id: int, limit: int = RECENT) -> list[WebhookDelivery]:
    """The latest deliveries of a subscription, newest first, with their attempts."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
        .options(selectinload(WebhookDelivery.attempt_rows))
    )
    return list((await session.scalars(query)).all())


async def delivery(session: AsyncSession, *, subscription_id: int, delivery_id: int) -> WebhookDelivery:
    row = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription_id)
        .options(selectinload(WebhookDelivery.attempt_rows))
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(_l("delivery not found"))
    return row
