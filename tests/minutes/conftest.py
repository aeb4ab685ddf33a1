"""Helpers for the minutes and tasks tests: held meetings, workers on a private queue."""

from __future__ import annotations

from contextlib import asynccontextmanager

from demo.minutes import Plan, hold_meeting  # noqa: F401  (re-exported for the tests)
from tests.helpers import end_earlier_workflows, worker_with_relay

ITEMS = ["Báo cáo sơ kết 6 tháng đầu năm", "Thảo luận phương hướng 6 tháng cuối năm", "Biểu quyết chương trình phối hợp"]


@asynccontextmanager
async def worker_for(client, settings, database):  # type: ignore[no-untyped-def]
    async with worker_with_relay(client, settings, database, "minutes") as worker:
        yield worker


async def terminate(client, prefix: str) -> None:  # type: ignore[no-untyped-def]
    """Workflow IDs repeat across the fresh databases of tests: end the previous ones."""
    await end_earlier_workflows(client, prefix)


def pydantic_client(temporal_env):  # type: ignore[no-untyped-def]
    """The test server's client with the app's data converter."""
    from tests.helpers import app_client

    return app_client(temporal_env.client)
