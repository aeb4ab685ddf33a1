"""The archive workflow: one per installation, started through the outbox when the worker
starts (a running one is kept), never ending.

Every `every` it runs an archive pass at its own clock (`workflow.now()`), so a test can skip
years of time and see the refresh happen before the authority's certificate expires. It
continues as new every `PASSES_PER_RUN` passes to keep its history short.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

from workflows import retry
from workflows.heartbeat import HEARTBEAT

with workflow.unsafe.imports_passed_through():
    from workflows.archive.activities import ArchiveActivities, PassResult

WORKFLOW_ID = "archive-refresh"
PASSES_PER_RUN = 52


class ArchiveInput(BaseModel):
    every_days: int = 7
    passes: int = 0  # passes done by earlier runs (for the query)


@workflow.defn
class ArchiveRefreshWorkflow:
    def __init__(self) -> None:
        self._passes = 0
        self._last: PassResult | None = None

    @workflow.query
    def progress(self) -> dict[str, object]:
        return {"passes": self._passes, "last": self._last.model_dump() if self._last else None}

    @workflow.run
    async def run(self, start: ArchiveInput) -> None:
        self._passes = start.passes
        for _ in range(PASSES_PER_RUN):
            await workflow.sleep(timedelta(days=start.every_days))
            self._last = await workflow.execute_activity_method(
                ArchiveActivities.archive_pass,
                workflow.now(),
                start_to_close_timeout=timedelta(hours=6),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=retry.CHECKPOINT,
            )
            self._passes += 1
        workflow.continue_as_new(ArchiveInput(every_days=start.every_days, passes=self._passes))
