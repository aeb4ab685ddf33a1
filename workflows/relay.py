"""The one way commands reach Temporal: the outbox relay, and the reconciliation that repairs
objects whose workflow is missing.

Routes and activities write commands with `services.outbox.service.tell(...)` in the same
transaction as the change. The relay (run by `lienthong worker` and `lienthong dev`) claims due
commands, delivers each with signal-with-start (so a missing workflow is started; the workflows
re-read the database, so a repeated command is harmless), marks it delivered, and puts a failed
one off with backoff. While Temporal is away commands wait in the table; pages keep working
because the database is the record. Commands of one workflow are delivered in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from meetings.minutes.models import Minutes, MinutesStatus
from meetings.models import Meeting, MeetingStatus
from services.aio import wait_set
from services.config import Settings
from services.db import Database, is_unreachable_error
from services.documents.register_prints import OPEN as PRINT_OPEN
from services.documents.register_prints import RegisterPrint
from services.exchange import service as exchange
from services.incoming.models import IncomingDocument
from services.incoming.models import Status as IncomingStatus
from services.outbox import service as outbox
from services.outbox.service import Command
from services.outgoing.models import OutgoingDocument
from services.outgoing.models import Status as OutgoingStatus
from services.reports.models import ReportRequest, RequestStatus
from services.tasks.models import Task, TaskStatus
from workflows.archive.workflows import WORKFLOW_ID as ARCHIVE_WORKFLOW_ID
from workflows.archive.workflows import ArchiveInput, ArchiveRefreshWorkflow
from workflows.incoming.workflows import IncomingInput, IncomingWorkflow
from workflows.meetings.workflows import MeetingInput, MeetingWorkflow, Reschedule
from workflows.minutes.workflows import MinutesInput, MinutesWorkflow, Signed
from workflows.outgoing.workflows import OutgoingInput, OutgoingWorkflow
from workflows.registers.workflows import PrintInput, RegisterPrintWorkflow
from workflows.reports.workflows import (
    ReportRequestWorkflow,
    RequestInput,
    request_workflow_id,
    target_workflow_id,
)
from workflows.tasks.workflows import TaskInput, TaskWorkflow

log = logging.getLogger(__name__)

POLL = timedelta(seconds=1)
RECONCILE_EVERY = timedelta(minutes=10)
PARALLEL = 16  # workflows told at once (each workflow's own commands stay in order)


def workflow_id(kind: str, object_id: int) -> str:
    """`incoming-12`, `meeting-3`…: derived from the business ID, so starting twice is harmless."""
    return f"{kind}-{object_id}"


@dataclass(frozen=True)
class Target:
    """How commands of one kind reach their workflow."""

    start: Callable[[int, Settings], tuple[Callable[..., Awaitable[Any]], Any]] | None  # None: only signal a running one
    typed_args: Callable[[str | None, list[Any]], list[Any]] = lambda _signal, args: args
    reuse: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE


def _meeting_args(signal: str | None, args: list[Any]) -> list[Any]:
    if signal == "rescheduled":
        return [Reschedule(starts_at=datetime.fromisoformat(args[0]), version=int(args[1]))]
    return args


def _outgoing_args(signal: str | None, args: list[Any]) -> list[Any]:
    # `changed` names what changed ("submitted", "issued"…); a bare look (reconciliation) says so.
    return args or ["look"] if signal == "changed" else args


def _minutes_args(signal: str | None, args: list[Any]) -> list[Any]:
    if signal == "signed":
        return [Signed(role=args[0], sha256=args[1])]
    return args


TARGETS: dict[str, Target] = {
    "incoming": Target(lambda oid, _s: (IncomingWorkflow.run, IncomingInput(document_id=oid))),
    "task": Target(lambda oid, _s: (TaskWorkflow.run, TaskInput(task_id=oid))),
    "outgoing": Target(
        lambda oid, s: (OutgoingWorkflow.run, OutgoingInput(document_id=oid, dispatch_timeout_seconds=s.outgoing_dispatch_timeout_seconds)),
        _outgoing_args,
    ),
    "meeting": Target(
        lambda oid, s: (MeetingWorkflow.run, MeetingInput(meeting_id=oid, reminder_minutes=s.meeting_reminder_minutes)),
        _meeting_args,
        WorkflowIDReusePolicy.REJECT_DUPLICATE,
    ),
    "minutes": Target(lambda oid, _s: (MinutesWorkflow.run, MinutesInput(minutes_id=oid)), _minutes_args),
    # The fan-out is started once (again only if it failed); its signals go to a running parent.
    "report-request": Target(
        lambda oid, _s: (ReportRequestWorkflow.run, RequestInput(request_id=oid)), reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
    ),
    # Children belong to their parent: never started from outside, only told when running.
    "report-target": Target(None),
    # One per installation (object 0), told at every worker start: a running one is kept.
    "archive": Target(lambda _oid, s: (ArchiveRefreshWorkflow.run, ArchiveInput(every_days=s.archive_every_days))),
    # One per print, started once; a start for a print that ended finds it ended and stops.
    "register-print": Target(lambda oid, _s: (RegisterPrintWorkflow.run, PrintInput(print_id=oid))),
}


def _workflow_id_of(command: Command, prefix: str) -> str:
    if command.kind == "report-target":  # object_id is the request; the first argument the target organisation
        return prefix + target_workflow_id(command.object_id, int(command.args[0]))
    if command.kind == "report-request":
        return prefix + request_workflow_id(command.object_id)
    if command.kind == "archive":
        return prefix + ARCHIVE_WORKFLOW_ID
    return prefix + workflow_id(command.kind, command.object_id)


async def deliver(client: Client, settings: Settings, command: Command, prefix: str | None = None) -> None:
    """Deliver one command; raises when Temporal did not take it (the relay retries).

    `prefix`: the deployment's workflow-ID prefix (default: the setting, else none)."""
    target = TARGETS[command.kind]
    base = (settings.workflow_id_prefix or "") if prefix is None else prefix
    wid = _workflow_id_of(command, base)
    if target.start is None or (command.kind == "report-request" and command.signal is not None):
        try:
            await client.get_workflow_handle(wid).signal(
                command.signal or "changed", *([] if command.kind == "report-target" else target.typed_args(command.signal, command.args))
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # Not running: not started yet (it reads the state when it starts) or finished.
            if command.kind == "report-target":
                # No child: a request that tracks its targets itself (TRACK_TARGETS) is told which.
                parent = client.get_workflow_handle(base + request_workflow_id(command.object_id))
                try:
                    await parent.signal("target_changed", int(command.args[0]))
                except RPCError as gone:
                    if gone.status != RPCStatusCode.NOT_FOUND:
                        raise
        return
    run, arg = target.start(command.object_id, settings)
    if command.signal is None:
        try:
            await client.start_workflow(
                run,
                arg,
                id=wid,
                task_queue=settings.task_queue,
                id_reuse_policy=target.reuse,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            pass  # finished before, and its reuse policy says not again
        return
    await client.start_workflow(
        run,
        arg,
        id=wid,
        task_queue=settings.task_queue,
        start_signal=command.signal,
        start_signal_args=target.typed_args(command.signal, command.args),
    )


class OutboxRelay:
    """Delivers the outbox to Temporal; one per worker process (several are safe: rows are claimed)."""

    def __init__(
        self,
        client: Client,
        database: Database,
        settings: Settings,
        *,
        poll: timedelta = POLL,
        reconcile_every: timedelta | None = RECONCILE_EVERY,
        lease: timedelta = outbox.LEASE,
    ) -> None:
        self.client = client
        self.database = database
        self.settings = settings
        self.poll = poll
        self.lease = lease
        self.reconcile_every = reconcile_every
        self.delivered = 0
        self.prefix: str | None = settings.workflow_id_prefix

    async def _prefix(self) -> str:
        if self.prefix is None:
            async with self.database.read() as session:
                self.prefix = await outbox.workflow_prefix(session)
        return self.prefix

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def listener() -> None:
            loop.call_soon_threadsafe(wake.set)

        outbox.listeners.add(listener)
        next_reconcile = loop.time()
        try:
            while True:
                if self.reconcile_every is not None and loop.time() >= next_reconcile:
                    await self._guarded(self.reconcile())
                    next_reconcile = loop.time() + self.reconcile_every.total_seconds()
                wake.clear()
                busy = await self._guarded(self.deliver_due())
                if not busy:
                    await wait_set(wake, self.poll.total_seconds())
        finally:
            outbox.listeners.discard(listener)

    async def _guarded(self, step: Awaitable[int]) -> int:
        try:
            return await step
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database busy or away: the next round tries again
            # A database restart: one line a round, not a traceback.
            log.warning(
                "outbox relay: round failed%s", f" ({exc!r})" if is_unreachable_error(exc) else "", exc_info=not is_unreachable_error(exc)
            )
            return 0

    async def deliver_due(self) -> int:
        """Claim and deliver what is due now; the number of commands handled."""
        async with self.database.session() as session:
            commands = await outbox.claim(session, lease=self.lease)
        if not commands:
            return 0
        renewing = asyncio.create_task(self._renew([c.id for c in commands]))
        try:
            done, failures = await self._tell(commands)
        finally:
            renewing.cancel()  # before the marks below: a renewal after them would undo a put-off
            await asyncio.gather(renewing, return_exceptions=True)
        async with self.database.session() as session:
            await outbox.delivered(session, ids=done)
            for command, error in failures:
                await outbox.failed(session, command=command, error=error)
        if failures:
            log.info("outbox relay: %d delivered, %d put off (%s)", len(done), len(failures), failures[0][1])
        self.delivered += len(done)
        return len(commands)

    async def _renew(self, ids: list[int]) -> None:
        """Keep the claim while the round lasts (Temporal slow or away: each call retries for seconds)."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                async with self.database.session() as session:
                    await outbox.renew(session, ids=ids, lease=self.lease)
            except Exception as exc:  # noqa: BLE001 - the database busy: the next renewal tries again
                log.warning("outbox relay: lease not renewed (%r)", exc)

    async def _tell(self, commands: list[Command]) -> tuple[list[int], list[tuple[Command, str]]]:
        """Deliver the claimed commands, in order per workflow: (delivered ids, failures)."""
        prefix = await self._prefix()
        groups: dict[str, list[Command]] = {}
        for command in commands:
            groups.setdefault(_workflow_id_of(command, prefix), []).append(command)
        done: list[int] = []
        failures: list[tuple[Command, str]] = []
        gate = asyncio.Semaphore(PARALLEL)

        async def tell(group: list[Command]) -> None:
            async with gate:
                previous: tuple[str | None, list[Any]] | None = None
                for i, command in enumerate(group):
                    if previous == (command.signal, command.args) and command.signal in (None, "changed"):
                        done.append(command.id)  # the same "look again" twice: once is enough
                        continue
                    try:
                        if command.kind == "exchange":  # a package for a partner's drop folder, not Temporal
                            await exchange.deliver(self.database, self.settings, command.object_id)
                        else:
                            await deliver(self.client, self.settings, command, prefix)
                    except Exception as exc:  # noqa: BLE001 - Temporal away, a timeout…: kept for later, in order
                        failures.extend((c, f"{type(exc).__name__}: {exc}") for c in group[i:])
                        return
                    done.append(command.id)
                    previous = (command.signal, command.args)

        await asyncio.gather(*(tell(group) for group in groups.values()))
        return done, failures

    async def reconcile(self) -> int:
        """Queue a look for every open object whose workflow is not running; the number queued."""
        async with self.database.read() as session:
            open_objects = await _open_objects(session)
        prefix = await self._prefix()
        missing: list[tuple[str, int]] = []
        for kind, object_id in open_objects:
            wid = _workflow_id_of(Command(0, kind, object_id, None, [], 0), prefix)
            try:
                description = await self.client.get_workflow_handle(wid).describe()
                if description.status == WorkflowExecutionStatus.RUNNING:
                    continue
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
            missing.append((kind, object_id))
        if missing:
            async with self.database.session() as session:
                for kind, object_id in missing:
                    await outbox.tell(
                        session, kind, object_id, None if kind in ("meeting", "report-request", "register-print") else "changed"
                    )
            log.info("reconciliation: %d objects had no running workflow: %s", len(missing), missing[:10])
        return len(missing)


async def _open_objects(session: Any) -> list[tuple[str, int]]:
    """Objects that should have a running workflow, by their status in the database."""
    queries = [
        (
            "incoming",
            select(IncomingDocument.id).where(
                IncomingDocument.status.not_in(
                    [IncomingStatus.done.value, IncomingStatus.no_direction.value, IncomingStatus.rejected.value]
                )
            ),
        ),
        ("task", select(Task.id).where(Task.status.in_([TaskStatus.waiting, TaskStatus.in_progress]))),
        (
            "outgoing",
            select(OutgoingDocument.id).where(OutgoingDocument.status.in_([OutgoingStatus.in_review, OutgoingStatus.awaiting_signature])),
        ),
        ("meeting", select(Meeting.id).where(Meeting.status.in_([MeetingStatus.scheduled, MeetingStatus.open]))),
        (
            "minutes",
            select(Minutes.id).where(
                Minutes.status.in_(
                    [MinutesStatus.rendering, MinutesStatus.awaiting_secretary, MinutesStatus.awaiting_chair, MinutesStatus.signed]
                )
            ),
        ),
        ("report-request", select(ReportRequest.id).where(ReportRequest.status == RequestStatus.open.value)),
        ("register-print", select(RegisterPrint.id).where(RegisterPrint.status.in_(PRINT_OPEN))),
    ]
    found: list[tuple[str, int]] = []
    for kind, query in queries:
        found += [(kind, object_id) for object_id in (await session.scalars(query)).all()]
    return found
