"""Starting the one archive workflow (the worker does it on start; a second start is a no-op)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from workflows.archive.workflows import WORKFLOW_ID, ArchiveInput, ArchiveRefreshWorkflow


async def ensure_archive_workflow(client: Client, *, task_queue: str, every_days: int) -> None:
    await client.start_workflow(
        ArchiveRefreshWorkflow.run,
        ArchiveInput(every_days=every_days),
        id=WORKFLOW_ID,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
