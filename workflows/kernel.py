"""The tracked-object loop every domain with deadlines runs inside its own workflow.

`Tracker.track` reads the object's snapshot through an activity, announces each new revision
once, ends when the object is final, and otherwise waits for a `changed` signal or the next
rung's instant, whichever comes first, and sends that rung's notice through an activity.
`Tracker.advance` is the wait-and-notify step alone, for workflows whose loop does more
(MinutesWorkflow collects signatures between deadlines).

What a rung is and whether it was sent live in services.deadlines; what a notice says and who is
told, in each domain's adapter. The workflow keeps only what it needs to answer queries; the
database decides, so a lost or repeated signal cannot make it wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

from workflows import retry

with workflow.unsafe.imports_passed_through():
    from services.deadlines.ladder import Tracked, next_for
    from workflows.kernel_activities import AnnounceInput, KernelActivities, NoticeInput, TrackedRef

PATCH = "kernel-v1"  # domain workflows switch to this loop behind workflow.patched(PATCH)
PATCH_V2 = "kernel-v2"  # outgoing reviews and meeting reminders switched later, behind this one
RETRY = retry.DATABASE
TIMEOUT = timedelta(seconds=60)


class Tracker:
    """The loop's state, kept on the domain workflow object (queries read it)."""

    def __init__(self, kind: str, changes: Callable[[], int]) -> None:
        self.kind = kind
        self._changes = changes  # the workflow's count of `changed` signals (and `sync` updates)
        self.status: str | None = None
        self.processed = -1  # the revision last acted on
        self.announced = -1
        self.next: tuple[str, datetime] | None = None
        self.sent: list[str] = []

    async def snapshot(self, object_id: int) -> Tracked:
        return await workflow.execute_activity_method(
            KernelActivities.snapshot, TrackedRef(kind=self.kind, object_id=object_id), start_to_close_timeout=TIMEOUT, retry_policy=RETRY
        )

    async def advance(self, snap: Tracked, seen: int) -> str | None:
        """Wait until the object changes (since `seen`) or the next rung is due; send that
        rung's notice in the second case. Returns the step sent, if any."""
        rung = next_for(snap, workflow.now())
        if rung is None:
            self.next = None
            await workflow.wait_condition(lambda: self._changes() != seen)
            return None
        self.next = (rung.step, rung.at)
        wait = (rung.at - workflow.now()).total_seconds()
        if wait > 0:
            try:
                await workflow.wait_condition(lambda: self._changes() != seen, timeout=timedelta(seconds=wait))
                return None
            except TimeoutError:
                pass
        assert snap.due_at is not None
        await workflow.execute_activity_method(
            KernelActivities.notice,
            NoticeInput(kind=self.kind, object_id=snap.object_id, step=rung.step, due_at=snap.due_at),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
        self.sent.append(rung.step)
        return rung.step

    async def track(self, object_id: int, *, restart: Any, announce: str | None = "revision") -> str:
        """Follow the object until it is final; returns its final status. `announce`: tell the
        next actor at each new revision ("revision"), only at the start ("once"), or never (None).
        Continues the workflow as new with `restart` when its history grows long."""
        while True:
            seen = self._changes()
            snap = await self.snapshot(object_id)
            self.status = snap.status
            if (announce == "revision" and snap.revision != self.announced) or (announce == "once" and self.announced < 0):
                await workflow.execute_activity_method(
                    KernelActivities.announce,
                    AnnounceInput(kind=self.kind, object_id=object_id, revision=snap.revision),
                    start_to_close_timeout=TIMEOUT,
                    retry_policy=RETRY,
                )
                self.announced = snap.revision
            self.processed = snap.revision
            if snap.closed:
                self.next = None
                await workflow.wait_condition(workflow.all_handlers_finished)
                return snap.status
            await self.advance(snap, seen)
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(restart)
