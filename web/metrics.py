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


def install(app: FastAPI) -> None:
    """Give every HTTP request an ID (the proxy's `X-Request-ID` when it sends a sane one) that
    its log lines and its answer carry, and time it by its route template (`/incoming/{document_id}`,
    not the URL: a label per document would grow without bound)."""

    @app.middleware("http")
    async def observed(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        sent = request.headers.get("x-request-id", "")
        token = request_id.set(sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex)
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = request_id.get() or ""
            return response
        finally:
            request_id.reset(token)
            route = request.scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUEST_SECONDS.labels(request.method, template, f"{status // 100}xx").observe(time.perf_counter() - started)
