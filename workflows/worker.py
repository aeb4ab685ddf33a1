"""The one worker process: registers every workflow and activity of Liên Thông."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from workflows.audit.activities import AuditActivities
from workflows.audit.workflows import AuditCheckpointWorkflow
from workflows.context import ActivityContext

WORKFLOWS: list[type] = [AuditCheckpointWorkflow]


def activities_for(context: ActivityContext) -> list[Callable[..., Any]]:
    """Every activity, bound to the process's settings and database."""
    audit = AuditActivities(context)
    return [audit.create_audit_checkpoint]


def build_worker(
    client: Client,
    *,
    task_queue: str,
    context: ActivityContext,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
) -> Worker:
    """A worker for every registered workflow and activity (plus extra ones in tests)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[*WORKFLOWS, *workflows],
        activities=[*activities_for(context), *activities],
    )
