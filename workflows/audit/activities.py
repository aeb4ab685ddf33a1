"""Activities of the audit checkpoint process (thin wrappers over services.audit)."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from services.audit import service as audit
from workflows.context import ActivityContext


class CheckpointResult(BaseModel):
    created: bool
    first_seq: int | None = None
    last_seq: int | None = None
    merkle_root: str | None = None


class AuditActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @activity.defn(name="create_audit_checkpoint")
    async def create_audit_checkpoint(self) -> CheckpointResult:
        """Sign the entries since the last checkpoint (idempotent: a retry finds nothing new)."""
        async with self.context.database.session() as session:
            checkpoint = await audit.create_checkpoint(session, data_dir=self.context.settings.data_dir)
            if checkpoint is None:
                return CheckpointResult(created=False)
            return CheckpointResult(
                created=True,
                first_seq=checkpoint.first_seq,
                last_seq=checkpoint.last_seq,
                merkle_root=checkpoint.merkle_root,
            )
