"""The application's Prometheus metrics, defined once; `/metrics` (web) and the worker's metrics
port expose them. Names follow Prometheus conventions (`_seconds`, `_total`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Page loads and form posts are expected in tens of milliseconds; signing and conversion in seconds.
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)

HTTP_REQUEST_SECONDS = Histogram(
    "lienthong_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and status class.",
    ["method", "route", "status"],
    buckets=_FAST,
)
WEBSOCKET_CONNECTIONS = Gauge("lienthong_websocket_connections", "Live channel clients connected to this process.")
EVENTS_READ = Counter("lienthong_events_read_total", "Events the hub read from the events table.")
EVENTS_FANNED_OUT = Counter("lienthong_events_fanned_out_total", "Event deliveries queued to live clients (one per client).")
LIVE_CLIENTS_DROPPED = Counter("lienthong_live_clients_dropped_total", "Live clients dropped for not reading (they resync).")
LIVE_CLIENTS_ABORTED = Counter(
    "lienthong_live_clients_aborted_total", "Live connections aborted after their write deadline (the client took no data)."
)
OUTBOX_BACKLOG = Gauge("lienthong_outbox_backlog", "Commands in the outbox not yet delivered to Temporal.")
OUTBOX_OLDEST_SECONDS = Gauge("lienthong_outbox_oldest_pending_seconds", "Age of the oldest undelivered outbox command.")
SIGNING_SECONDS = Histogram("lienthong_signing_duration_seconds", "Time to apply one PAdES signature (PIN, seal, minutes).", buckets=_SLOW)
CONVERSION_SECONDS = Histogram("lienthong_conversion_duration_seconds", "Time to convert one DOCX to PDF (LibreOffice).", buckets=_SLOW)
