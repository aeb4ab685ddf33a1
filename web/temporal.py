"""A lazily connected Temporal client shared by the web process."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from services.config import Settings
from workflows.client import connect

HEALTH_TTL = 1.0


class TemporalHandle:
    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()
        self._checked: tuple[float, bool] | None = None

    async def client(self) -> Client:
        async with self._lock:
            if self._client is None:
                self._client = await connect(self.settings)
            return self._client

    async def healthy(self, timeout: float = 3.0) -> bool:
        """Whether the frontend answers; an answer is reused for a second, so probes under
        load cost one RPC a second, not one each."""
        now = asyncio.get_running_loop().time()
        if self._checked is not None and now - self._checked[0] < HEALTH_TTL:
            return self._checked[1]
        try:
            client = await asyncio.wait_for(self.client(), timeout=timeout)
            ok = await asyncio.wait_for(client.service_client.check_health(), timeout=timeout)
        except Exception:  # noqa: BLE001 - any failure means "not reachable" for /healthz
            ok = False
        self._checked = (asyncio.get_running_loop().time(), ok)
        return ok

    async def close(self) -> None:
        self._client = None
