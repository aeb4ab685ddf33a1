"""The one worker process: registers every workflow and activity of Liên Thông."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from workflows.archive.activities import ArchiveActivities
from workflows.archive.workflows import ArchiveRefreshWorkflow
from workflows.audit.activities import AuditActivities
from workflows.audit.workflows import AuditCheckpointWorkflow
from workflows.context import ActivityContext
from workflows.errors import DomainErrorInterceptor
from workflows.heartbeat import HeartbeatInterceptor
from workflows.incoming.activities import IncomingActivities
from workflows.incoming.workflows import IncomingWorkflow
from workflows.kernel_activities import KernelActivities
from workflows.meetings.activities import MeetingActivities
from workflows.meetings.workflows import MeetingWorkflow
from workflows.minutes.activities import MinutesActivities
from workflows.minutes.workflows import MinutesWorkflow
from workflows.outgoing.activities import OutgoingActivities
from workflows.outgoing.workflows import OutgoingWorkflow
from workflows.registers.activities import RegisterPrintActivities
from workflows.registers.workflows import RegisterPrintWorkflow
from workflows.reports.activities import ReportActivities
from workflows.reports.workflows import ReportRequestWorkflow, ReportTargetWorkflow
from workflows.tasks.activities import TaskActivities
from workflows.tasks.workflows import TaskWorkflow

WORKFLOWS: list[type] = [AuditCheckpointWorkflow, IncomingWorkflow, OutgoingWorkflow, MeetingWorkflow]
WORKFLOWS += [MinutesWorkflow, TaskWorkflow]
WORKFLOWS += [ReportRequestWorkflow, ReportTargetWorkflow, ArchiveRefreshWorkflow, RegisterPrintWorkflow]


def activities_for(context: ActivityContext) -> list[Callable[..., Any]]:
    """Every activity, bound to the process's settings and database."""
    audit = AuditActivities(context)
    incoming = IncomingActivities(context)
    result: list[Callable[..., Any]] = [
        audit.create_audit_checkpoint,
        incoming.snapshot,
        incoming.validate_signatures,
        incoming.notify_step,
        incoming.deadline_notice,
    ]
    outgoing = OutgoingActivities(context)
    result += [outgoing.load, outgoing.render, outgoing.remind, outgoing.deliver, outgoing.notice, outgoing.validate]
    meetings = MeetingActivities(context)
    result += [meetings.meeting_state, meetings.send_invitations, meetings.send_reminder, meetings.announce]
    result += ReportActivities(context).all()
    minutes = MinutesActivities(context)
    result += [
        minutes.render,
        minutes.signing_state,
        minutes.accept_signature,
        minutes.signing_notice,
        minutes.number,
        minutes.validate_final,
        minutes.distribute,
    ]
    task = TaskActivities(context)
    result += [task.snapshot, task.notify_assigned, task.deadline_notice]
    result += KernelActivities(context).all()
    result.append(ArchiveActivities(context).archive_pass)
    prints = RegisterPrintActivities(context)
    result += [prints.run, prints.give_up]
    return result


def build_worker(
    client: Client,
    *,
    task_queue: str,
    context: ActivityContext,
    workflows: Sequence[type] = (),
    activities: Sequence[Callable[..., Any]] = (),
    graceful_shutdown: timedelta = timedelta(),
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    """A worker for every registered workflow and activity (plus extra ones in tests).

    `graceful_shutdown` lets running activities finish when the worker stops (the processes we
    run give them time); tests keep the default 0, which cancels them like a crash would.
    Every activity's domain error fails it without retries (workflows/errors.py); long activities
    heartbeat (workflows/heartbeat.py); tests may add
    interceptors of their own (e.g. to hold a worker at a chosen point before killing it).
    """
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[*WORKFLOWS, *workflows],
        activities=[*activities_for(context), *activities],
        graceful_shutdown_timeout=graceful_shutdown,
        interceptors=[DomainErrorInterceptor(), HeartbeatInterceptor(), *interceptors],
    )
