"""The one worker process: registers every workflow and activity of Liên Thông."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from workflows.audit.activities import create_audit_checkpoint
from workflows.audit.workflows import AuditCheckpointWorkflow

WORKFLOWS: list[type] = [AuditCheckpointWorkflow]
ACTIVITIES: list[Callable[..., Any]] = [create_audit_checkpoint]


def build_worker(
    client: Client,
    *,
    task_queue: str,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
) -> Worker:
    """A worker for every registered workflow and activity (plus extra ones in tests)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[*WORKFLOWS, *workflows],
        activities=[*ACTIVITIES, *activities],
    )
