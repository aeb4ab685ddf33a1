"""A lazily connected Temporal client shared by the web process."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from services.config import Settings
from workflows.client import connect


class TemporalHandle:
    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        async with self._lock:
            if self._client is None:
                self._client = await connect(self.settings)
            return self._client

    async def healthy(self, timeout: float = 3.0) -> bool:
        try:
            client = await asyncio.wait_for(self.client(), timeout=timeout)
            return await asyncio.wait_for(client.service_client.check_health(), timeout=timeout)
        except Exception:  # noqa: BLE001 - any failure means "not reachable" for /healthz
            return False

    async def close(self) -> None:
        self._client = None
