"""One workflow per minutes (`minutes-<id>`): render the Biên bản when the secretary closes it,
collect the secretary's signature then the chair's (each with its due date, a reminder on the
due day and an overdue notice), number it in the BB series and distribute it.

Signing happens in the web route (the signer types the PIN there); the route stores the signed
file and signals `signed` with its hash, and an activity validates it against the expected
signer before the flow moves on. A refusal (`returned`) sends the minutes back to the
secretary; closing them again (`closed` with the next round) starts the signatures over.
Since patch `kernel-v1` the signature deadlines are the deadline kernel's (workflows/kernel.py,
objects `minutes.secretary` / `minutes.chair`); executions started before it keep their own
ladder in `_collect` until they end.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

from workflows import retry
from workflows.heartbeat import HEARTBEAT
from workflows.kernel import PATCH, Tracker

with workflow.unsafe.imports_passed_through():
    from workflows.minutes.activities import (
        AcceptInput,
        FinalCheck,
        MinutesActivities,
        NoticeInput,
        RenderInput,
        SigningStateOut,
    )

RETRY = retry.DATABASE
RENDER_RETRY = retry.RENDER
TIMEOUT = timedelta(seconds=60)
RENDER_TIMEOUT = timedelta(minutes=5)


class MinutesInput(BaseModel):
    minutes_id: int


class Signed(BaseModel):
    role: str  # secretary | chair
    sha256: str


class MinutesProgress(BaseModel):
    phase: str
    round: int
    notices: list[str]
    notation: str | None = None


@workflow.defn(name="MinutesWorkflow")
class MinutesWorkflow:
    def __init__(self) -> None:
        self._requested = 0
        self._rendered = 0
        self._events = 0
        self._signed: list[Signed] = []
        self._phase = "writing"
        self._notices: list[str] = []
        self._notation: str | None = None
        self._kernel = False

    @workflow.signal
    def closed(self, round: int) -> None:
        """The secretary closed the minutes for signing (round = how many times so far)."""
        self._requested = max(self._requested, round)
        self._events += 1

    @workflow.signal
    def signed(self, data: Signed) -> None:
        """A signer signed in the web route; `sha256` names the stored signed file."""
        self._signed.append(data)
        self._events += 1

    @workflow.signal
    def returned(self) -> None:
        """A signer refused: the minutes went back to the secretary."""
        self._events += 1

    @workflow.query
    def progress(self) -> MinutesProgress:
        return MinutesProgress(phase=self._phase, round=self._rendered, notices=self._notices, notation=self._notation)

    async def _state(self, minutes_id: int) -> SigningStateOut:
        return await workflow.execute_activity_method(
            MinutesActivities.signing_state, minutes_id, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
        )

    async def _collect(self, minutes_id: int, role: str, round_: int) -> bool:
        """Wait for `role`'s valid signature; False when the minutes were returned."""
        self._phase = f"awaiting_{role}"
        while True:
            seen = self._events
            state = await self._state(minutes_id)
            if state.round != round_ or state.status in ("returned", "draft"):
                return False
            if state.role != role:
                return True  # already past this signature (a replayed or restarted flow)
            shas = [s.sha256 for s in self._signed if s.role == role]
            self._signed = [s for s in self._signed if s.role != role]
            if state.pending_sha and state.pending_sha not in shas:
                shas.append(state.pending_sha)  # signed while a signal was lost
            if shas:
                for sha in shas:
                    await workflow.execute_activity_method(
                        MinutesActivities.accept_signature,
                        AcceptInput(minutes_id=minutes_id, role=role, sha256=sha),
                        start_to_close_timeout=TIMEOUT * 2,
                        heartbeat_timeout=HEARTBEAT,
                        retry_policy=RETRY,
                    )
                continue
            if self._kernel:
                tracker = Tracker(f"minutes.{role}", lambda: self._events)
                step = await tracker.advance(await tracker.snapshot(minutes_id), seen)
                if step is not None:
                    self._notices.append(f"{round_}:{role}:{step}")
                continue
            upcoming = None
            for kind, at in (("reminder", state.reminder_at), ("overdue", state.overdue_at)):
                key = f"{round_}:{role}:{kind}"
                if at is not None and key not in self._notices:
                    upcoming = (kind, at, key)
                    break
            if upcoming is None:
                await workflow.wait_condition(lambda: self._events != seen)
                continue
            kind, at, key = upcoming
            wait = (at - workflow.now()).total_seconds()
            if wait > 0:
                try:
                    await workflow.wait_condition(lambda: self._events != seen, timeout=timedelta(seconds=wait))
                    continue  # something happened before the deadline: re-read
                except TimeoutError:
                    pass
            await workflow.execute_activity_method(
                MinutesActivities.signing_notice,
                NoticeInput(minutes_id=minutes_id, role=role, kind=kind, round=round_),
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
            )
            self._notices.append(key)

    @workflow.run
    async def run(self, data: MinutesInput) -> str:
        self._kernel = workflow.patched(PATCH)
        while True:
            self._phase = "writing"
            await workflow.wait_condition(lambda: self._requested > self._rendered)
            round_ = self._requested
            self._phase = "rendering"
            await workflow.execute_activity_method(
                MinutesActivities.render,
                RenderInput(minutes_id=data.minutes_id, round=round_),
                start_to_close_timeout=RENDER_TIMEOUT,
                heartbeat_timeout=HEARTBEAT,
                retry_policy=RENDER_RETRY,
            )
            self._rendered = round_
            if not await self._collect(data.minutes_id, "secretary", round_):
                continue
            if not await self._collect(data.minutes_id, "chair", round_):
                continue
            break
        self._phase = "numbering"
        self._notation = await workflow.execute_activity_method(
            MinutesActivities.number, data.minutes_id, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
        )
        check: FinalCheck = await workflow.execute_activity_method(
            MinutesActivities.validate_final,
            data.minutes_id,
            start_to_close_timeout=TIMEOUT * 2,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=retry.VALIDATION,
        )
        workflow.logger.info(
            "minutes %s numbered %s: %s signatures, valid=%s", data.minutes_id, self._notation, check.signatures, check.all_valid
        )
        self._phase = "distributing"
        await workflow.execute_activity_method(
            MinutesActivities.distribute,
            data.minutes_id,
            start_to_close_timeout=TIMEOUT * 2,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=retry.DELIVERY,
        )
        self._phase = "distributed"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._notation


def minutes_workflow_id(minutes_id: int) -> str:
    return f"minutes-{minutes_id}"
