"""The audit checkpoint workflow, run by a Temporal schedule."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows import retry
from workflows.heartbeat import HEARTBEAT

with workflow.unsafe.imports_passed_through():
    from workflows.audit.activities import AuditActivities, CheckpointResult

SCHEDULE_ID = "audit-checkpoint"


@workflow.defn
class AuditCheckpointWorkflow:
    @workflow.run
    async def run(self) -> CheckpointResult:
        return await workflow.execute_activity_method(
            AuditActivities.create_audit_checkpoint,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT,
            retry_policy=retry.CHECKPOINT,
        )
