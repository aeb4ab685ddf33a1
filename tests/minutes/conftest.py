"""Helpers for the minutes and tasks tests: held meetings, workers on a private queue."""

from __future__ import annotations

from contextlib import asynccontextmanager

from demo.minutes import Plan, hold_meeting  # noqa: F401  (re-exported for the tests)
from tests.helpers import worker_with_relay

ITEMS = ["Báo cáo sơ kết 6 tháng đầu năm", "Thảo luận phương hướng 6 tháng cuối năm", "Biểu quyết chương trình phối hợp"]


@asynccontextmanager
async def worker_for(client, settings, database):  # type: ignore[no-untyped-def]
    async with worker_with_relay(client, settings, database, "minutes") as worker:
        yield worker


def pydantic_client(temporal_env):  # type: ignore[no-untyped-def]
    """The test server's client with the app's data converter."""
    from tests.helpers import app_client

    return app_client(temporal_env.client)
