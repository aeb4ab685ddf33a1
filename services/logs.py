"""Process logging: plain text for a terminal, or one JSON object per line for a log collector,
each line carrying the HTTP request's ID and, inside Temporal code, the workflow's ID."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def _temporal_ids(record: logging.LogRecord) -> dict[str, str]:
    """The workflow (and activity) a record comes from: the SDK's loggers attach it; any other
    logger called inside an activity finds it in the activity's context."""
    ids: dict[str, str] = {}
    for attr in ("temporal_workflow", "temporal_activity"):
        info = getattr(record, attr, None)
        if isinstance(info, dict):
            for key in ("workflow_id", "run_id", "workflow_type", "activity_type"):
                if info.get(key):
                    ids[key] = str(info[key])
    # Asked without an exception for every record outside one (half of a log line's CPU), and
    # never in a process that has not imported the SDK's activities.
    activity = sys.modules.get("temporalio.activity")
    if "workflow_id" not in ids and activity is not None and activity.in_activity():
        info = activity.info()
        ids.update(workflow_id=info.workflow_id or "", activity_type=info.activity_type)
    return ids


class Context(logging.Filter):
    """Puts the request and workflow IDs on every record (`%(context)s` in the text format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids: dict[str, str] = {}
        if (rid := request_id.get()) is not None:
            ids["request_id"] = rid
        ids.update(_temporal_ids(record))
        record.ids = ids
        record.context = " ".join(f"{k}={v}" for k, v in ids.items())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "ids", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Send every logger's records (uvicorn's and Temporal's included) to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Context())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s %(context)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # through the root handler, in its format
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
