"""Prometheus metrics of a web process: request latency by route, and `/metrics` for scrapers.

`/metrics` answers a scraper that presents `LIENTHONG_METRICS_TOKEN` as a Bearer token; without
a configured token only this host may scrape (loopback), so nothing leaks through a proxy.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.errors import Forbidden
from services.i18n import _l
from services.logs import request_id
from services.metrics import HTTP_REQUEST_SECONDS, OUTBOX_BACKLOG, OUTBOX_OLDEST_SECONDS
from services.outbox.models import OutboxCommand
from web.deps import Probe

router = APIRouter()
LOOPBACK = {"127.0.0.1", "::1"}
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class Scraper(Probe):
    """Public in the sense of needing no user: a metrics token, or a scraper on this host."""

    def describe(self) -> str:
        return "metrics scraper (LIENTHONG_METRICS_TOKEN, or loopback without one)"

    async def __call__(self, request: Request) -> None:  # type: ignore[override]  # no database session
        token = request.app.state.settings.metrics_token
        if token is not None:
            sent = request.headers.get("authorization", "")
            if sent.startswith("Bearer ") and secrets.compare_digest(sent[7:], token.get_secret_value()):
                return None
        elif request.client is not None and request.client.host in LOOPBACK:
            return None
        raise Forbidden(_l("Metrics are only for the configured scraper."))


@router.get("/metrics", dependencies=[Depends(Scraper())], tags=["health"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: this process's metrics, plus the outbox backlog read from the
    database (the same for every process)."""
    async with request.app.state.db.read() as session:
        pending, oldest = (
            await session.execute(select(func.count(), func.min(OutboxCommand.created_at)).where(OutboxCommand.delivered_at.is_(None)))
        ).one()
    OUTBOX_BACKLOG.set(pending)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    OUTBOX_OLDEST_SECONDS.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class Observed:
    """Pure ASGI middleware (no task or stream per request, unlike `@app.middleware`): gives every
    HTTP request an ID (the proxy's `X-Request-ID` when it sends a sane one) that its log lines and
    its answer carry, and times it by its route template (`/incoming/{document_id}`, not the URL:
    a label per document would grow without bound)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent = Headers(scope=scope).get("x-request-id", "")
        rid = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            request_id.reset(token)
            template = getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_REQUEST_SECONDS.labels(scope["method"], template, f"{status // 100}xx").observe(time.perf_counter() - started)


def install(app: FastAPI) -> None:
    """Outermost: every request observed, error pages included."""
    app.add_middleware(Observed)
