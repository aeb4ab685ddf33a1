"""Starting or poking the outgoing workflow of a document (signal-with-start: idempotent)."""

from __future__ import annotations

from temporalio.client import Client

from services.config import Settings
from workflows.client import workflow_id
from workflows.outgoing.workflows import OutgoingInput, OutgoingWorkflow


async def poke(client: Client, *, settings: Settings, document_id: int, kind: str) -> None:
    """Tell the document's workflow that its state changed, starting it if it is not running."""
    await client.start_workflow(
        OutgoingWorkflow.run,
        OutgoingInput(document_id=document_id, dispatch_timeout_seconds=settings.outgoing_dispatch_timeout_seconds),
        id=workflow_id("outgoing", document_id),
        task_queue=settings.task_queue,
        start_signal="changed",
        start_signal_args=[kind],
    )
