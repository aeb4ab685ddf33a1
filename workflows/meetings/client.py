"""Starting and signalling the meeting workflow from the web process (or the demo seeder)."""

from __future__ import annotations

from datetime import datetime

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from services.config import Settings
from workflows.client import workflow_id
from workflows.meetings.workflows import MeetingInput, MeetingWorkflow, Reschedule


def meeting_workflow_id(meeting_id: int) -> str:
    return workflow_id("meeting", meeting_id)


async def start(client: Client, *, settings: Settings, meeting_id: int, task_queue: str | None = None) -> None:
    """Start `meeting-<id>` (harmless when it already runs)."""
    await client.start_workflow(
        MeetingWorkflow.run, MeetingInput(meeting_id=meeting_id, reminder_minutes=settings.meeting_reminder_minutes),
        id=meeting_workflow_id(meeting_id), task_queue=task_queue or settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


async def signal(client: Client, *, meeting_id: int, name: str, starts_at: datetime | None = None, version: int = 0) -> None:
    """Tell the workflow what changed: rescheduled, opened, closed or cancelled."""
    handle = client.get_workflow_handle(meeting_workflow_id(meeting_id))
    if name == "rescheduled":
        assert starts_at is not None
        await handle.signal(MeetingWorkflow.rescheduled, Reschedule(starts_at=starts_at, version=version))
    else:
        await handle.signal(name)
