"""Operations: Prometheus metrics (request latency by route, live clients, events fanned out,
outbox backlog) behind a scraper token or loopback, request IDs, and JSON log lines that carry the
request's and the workflow's IDs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from services.logs import Context, JsonFormatter, request_id
from services.outbox.models import OutboxCommand
from services.outbox.service import tell_all


def _client(app, ip: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 5000)), base_url="http://testserver")


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_are_served_to_the_scraper_only_and_count_what_happened(demo_db_sqlite, settings) -> None:
    from web.app import create_app

    app = create_app(settings=settings, database=demo_db_sqlite)
    await tell_all(demo_db_sqlite, "archive", [0], None)  # one command Temporal has not received
    async with _client(app, "127.0.0.1") as local, _client(app, "10.1.2.3") as remote:
        for _ in range(3):
            assert (await local.get("/login")).status_code == 200
        scraped = await local.get("/metrics")
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        text = scraped.text
        count = _sample(text, "lienthong_http_request_duration_seconds_count", method="GET", route="/login", status="2xx")
        assert count is not None and count >= 3
        async with demo_db_sqlite.read() as session:
            pending = await session.scalar(select(func.count()).select_from(OutboxCommand).where(OutboxCommand.delivered_at.is_(None)))
        assert pending and _sample(text, "lienthong_outbox_backlog") == pending
        for name in ("lienthong_websocket_connections", "lienthong_events_fanned_out_total", "lienthong_signing_duration_seconds_count"):
            assert _sample(text, name) is not None, name
        # A label per route template, never per URL.
        assert not re.search(r'route="/incoming/\d', text)

        refused = await remote.get("/metrics", headers={"accept": "application/json"})
        assert refused.status_code == 403 and "lienthong_" not in refused.text

        settings.metrics_token = SecretStr("scrape-me-please-0123456789")
        assert (await local.get("/metrics")).status_code == 403  # a token, once set, is required from everywhere
        assert (await remote.get("/metrics", headers={"authorization": "Bearer wrong"})).status_code == 403
        ok = await remote.get("/metrics", headers={"authorization": "Bearer scrape-me-please-0123456789"})
        assert ok.status_code == 200 and "lienthong_http_request_duration_seconds" in ok.text


async def test_every_answer_carries_a_request_id_and_a_proxys_id_is_kept_when_sane(demo_db_sqlite, settings) -> None:
    from web.app import create_app

    app = create_app(settings=settings, database=demo_db_sqlite)
    async with _client(app, "127.0.0.1") as web:
        mine = await web.get("/login")
        assert re.fullmatch(r"[0-9a-f]{32}", mine.headers["x-request-id"])
        kept = await web.get("/login", headers={"x-request-id": "nginx-4f2a9c1b77"})
        assert kept.headers["x-request-id"] == "nginx-4f2a9c1b77"
        forged = await web.get("/login", headers={"x-request-id": "<script>alert(1)</script>"})
        assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])


def _json_logger() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(Context())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("lienthong.test.json")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_json_log_lines_carry_the_request_id_and_inside_an_activity_the_workflow_id() -> None:
    logger, out = _json_logger()
    token = request_id.set("req-0123456789")
    try:
        logger.warning("Văn bản %s đã được ký", 42)
    finally:
        request_id.reset(token)

    @activity.defn
    async def render() -> None:
        logger.info("rendering")
        try:
            raise ValueError("broken docx")
        except ValueError:
            logger.exception("conversion failed")

    asyncio.run(ActivityEnvironment().run(render))
    first, second, third = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "Văn bản 42 đã được ký" and first["request_id"] == "req-0123456789" and first["level"] == "WARNING"
    assert "workflow_id" not in first
    assert second["workflow_id"] == "test"  # ActivityEnvironment's workflow
    assert second["activity_type"] and "request_id" not in second
    assert "ValueError: broken docx" in third["exception"]
