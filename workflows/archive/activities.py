"""Activities of the archive process (thin wrappers over workflows.archive.refresh)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity

from workflows.context import ActivityContext


class PassResult(BaseModel):
    checked: int
    stamped: int
    failed: list[str]


class ArchiveActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @activity.defn(name="archive_pass")
    async def archive_pass(self, now: datetime) -> PassResult:
        """Stamp every final document that is due at `now` (idempotent: a stamped file is no
        longer due, and a document is repointed only from the file that was stamped)."""
        # Imported here: the PDF signing stack costs every worker start a second or more of CPU,
        # and a pass runs once a week.
        from workflows.archive import refresh

        settings = self.context.settings
        done = await refresh.refresh(
            self.context.database,
            settings,
            now=now,
            margin=timedelta(days=settings.archive_margin_days),
            retry=timedelta(days=settings.archive_retry_days),
        )
        return PassResult(checked=done.checked, stamped=done.stamped, failed=done.failed)
