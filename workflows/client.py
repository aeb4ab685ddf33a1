"""Connecting to Temporal with the pydantic data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from services.config import Settings


async def connect(settings: Settings, address: str | None = None) -> Client:
    """A client for the configured (or given) Temporal frontend."""
    target = address or settings.temporal_address
    if not target:
        raise RuntimeError("LIENTHONG_TEMPORAL_ADDRESS is not set (use `lienthong dev` for the embedded server)")
    return await Client.connect(target, namespace=settings.temporal_namespace, data_converter=pydantic_data_converter)


def workflow_id(kind: str, object_id: object) -> str:
    """Workflow IDs derive from business IDs, so starting twice is harmless."""
    return f"{kind}-{object_id}"
