"""Connecting to Temporal with the app's converter: pydantic models, encrypted payloads."""

from __future__ import annotations

from functools import cache

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from services.codec import encrypted_converter, parse_key_ring
from services.config import Settings


def data_converter(settings: Settings) -> DataConverter:
    """The converter of every client, worker and replayer (keys: settings.ensure_payload_keys)."""
    return encrypted_converter(parse_key_ring(settings.ensure_payload_keys()))


async def connect(settings: Settings, address: str | None = None) -> Client:
    """A client for the configured (or given) Temporal frontend."""
    target = address or settings.temporal_address
    if not target:
        raise RuntimeError("LIENTHONG_TEMPORAL_ADDRESS is not set (use `lienthong dev` for the embedded server)")
    return await Client.connect(
        target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=_runtime(settings.temporal_metrics_port),
    )


@cache
def _runtime(metrics_port: int | None) -> Runtime:
    """The SDK's runtime, one per process; with a port, it serves the SDK's Prometheus metrics."""
    if metrics_port is None:
        return Runtime.default()
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"0.0.0.0:{metrics_port}")))


def workflow_id(kind: str, object_id: object) -> str:
    """Workflow IDs derive from business IDs, so starting twice is harmless."""
    return f"{kind}-{object_id}"
