"""Sending webhook deliveries: signed POSTs, every attempt recorded, retried with backoff.

The deliverer (run by `lienthong worker` and `lienthong dev`, beside the outbox relay) claims
due deliveries for a lease (another deliverer skips them meanwhile; one that dies lets them come
due again), POSTs each with no transaction open, then records the attempt: delivered on a 2xx,
else put off (doubling from `webhook_backoff_seconds` up to `webhook_backoff_max_seconds`) and
marked failed after `webhook_max_attempts`.

The signature: `Lienthong-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
the subscription's secret. A receiver recomputes it over the raw body (`verify` below) and
refuses a timestamp older than a few minutes, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from services.aio import wait_set
from services.config import Settings
from services.db import Database, utcnow
from services.webhooks import service as webhooks
from services.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
POLL = timedelta(seconds=2)
PARALLEL = 8
BATCH = 50
TOLERANCE_SECONDS = 300
USER_AGENT = "LienThong-Webhooks/1"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The `Lienthong-Signature` header value of `body` sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: the signature matches the raw body and the timestamp is recent."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))


def body_of(payload: str, base_url: str) -> bytes:
    """The JSON sent: the stored event with its object's page as an absolute URL."""
    event = json.loads(payload)
    obj = event["object"]
    event["object"] = {"id": obj["id"], "kind": obj["kind"], "url": base_url.rstrip("/") + obj.pop("path")}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Due:
    id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def claim(database: Database, *, now: datetime, lease: timedelta = LEASE, limit: int = BATCH) -> list[Due]:
    """Take the due deliveries of active subscriptions for `lease`, oldest first."""
    async with database.session() as session:
        active = select(WebhookSubscription.id).where(WebhookSubscription.active.is_(True))
        ids = (
            await session.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.due_at <= now, WebhookDelivery.subscription_id.in_(active))
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
        ).all()
        if not ids:
            return []
        taken = (
            await session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == "pending", WebhookDelivery.due_at <= now)
                .values(due_at=now + lease)
                .returning(WebhookDelivery.id)
            )
        ).all()
        rows = (
            await session.execute(
                select(WebhookDelivery, WebhookSubscription.url, WebhookSubscription.secret)
                .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookDelivery.id.in_(taken))
                .order_by(WebhookDelivery.id)
            )
        ).all()
        return [Due(d.id, url, secret, d.event_id, d.event_type, d.payload, d.attempts) for d, url, secret in rows]


async def attempt(client: httpx.AsyncClient, due: Due, *, settings: Settings, timestamp: int) -> Outcome:
    """POST one delivery; never raises (a refused connection is an outcome like a 500)."""
    body = body_of(due.payload, settings.base_url)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Lienthong-Event-Id": due.event_id,
        "Lienthong-Event-Type": due.event_type,
        "Lienthong-Delivery-Id": str(due.id),
        "Lienthong-Signature": signature(due.secret, body, timestamp),
    }
    started = time.monotonic()
    try:
        response = await client.post(due.url, content=body, headers=headers, timeout=settings.webhook_timeout_seconds)
        status, error = response.status_code, None if response.is_success else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:500]
    return Outcome(status, error, int((time.monotonic() - started) * 1000))


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: doubling, capped."""
    return timedelta(seconds=min(settings.webhook_backoff_seconds * 2 ** min(attempts - 1, 30), settings.webhook_backoff_max_seconds))


async def settle(database: Database, results: list[tuple[Due, Outcome]], *, settings: Settings, now: datetime) -> None:
    """Record each attempt and move its delivery on: delivered, put off, or failed."""
    async with database.session() as session:
        for due, outcome in results:
            session.add(
                WebhookAttempt(
                    delivery_id=due.id, at=now, status_code=outcome.status_code, error=outcome.error, duration_ms=outcome.duration_ms
                )
            )
            attempts = due.attempts + 1
            values: dict[str, Any] = {"attempts": attempts, "last_status_code": outcome.status_code, "last_error": outcome.error}
            if outcome.ok:
                values |= {"status": "delivered", "delivered_at": now}
            elif attempts >= settings.webhook_max_attempts:
                values |= {"status": "failed"}
            else:
                values |= {"due_at": now + backoff(settings, attempts)}
            # Only while still claimed: a redelivery asked meanwhile starts afresh and is kept.
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == due.id, WebhookDelivery.attempts == due.attempts).values(**values)
            )


async def deliver_due(
    database: Database, settings: Settings, *, client: httpx.AsyncClient | None = None, now: datetime | None = None
) -> int:
    """Claim what is due at `now` (default: the clock), send it, record it; how many were sent."""
    now = now or utcnow()
    claimed = await claim(database, now=now)
    if not claimed:
        return 0
    own = client is None
    client = client or httpx.AsyncClient(follow_redirects=False)
    gate = asyncio.Semaphore(PARALLEL)

    async def send(due: Due) -> tuple[Due, Outcome]:
        async with gate:
            return due, await attempt(client, due, settings=settings, timestamp=int(now.timestamp()))

    try:
        results = await asyncio.gather(*(send(due) for due in claimed))
    finally:
        if own:
            await client.aclose()
    await settle(database, list(results), settings=settings, now=now)
    failed = [o for _, o in results if not o.ok]
    if failed:
        log.info("webhooks: %d delivered, %d put off (%s)", len(results) - len(failed), len(failed), failed[0].error)
    return len(results)


async def run_deliverer(database: Database, settings: Settings, *, poll: timedelta = POLL) -> None:
    """Deliver until cancelled: at once after a commit that queued deliveries, else every `poll`."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def listener() -> None:
        loop.call_soon_threadsafe(wake.set)

    webhooks.listeners.add(listener)
    try:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            while True:
                wake.clear()
                try:
                    busy = await deliver_due(database, settings, client=client)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database busy or away (logged): the next round tries again
                    log.warning("webhooks: round failed", exc_info=True)
                    busy = 0
                if not busy:
                    await wait_set(wake, poll.total_seconds())
    finally:
        webhooks.listeners.discard(listener)
