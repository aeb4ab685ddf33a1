"""Starting and signalling the report-request workflows (from web routes, demo data, tests)."""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from workflows.reports.workflows import (
    ReportRequestWorkflow,
    ReportTargetWorkflow,
    RequestInput,
    request_workflow_id,
    target_workflow_id,
)

log = logging.getLogger(__name__)


async def start_request(client: Client, *, request_id: int, task_queue: str, history_limit: int | None = None) -> None:
    """Start the request's fan-out (idempotent: a second start finds the running or finished one)."""
    start = RequestInput(request_id=request_id)
    if history_limit is not None:
        start.history_limit = history_limit
    try:
        await client.start_workflow(
            ReportRequestWorkflow.run, start, id=request_workflow_id(request_id), task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        pass


async def target_changed(client: Client, *, request_id: int, organization_ids: list[int],
                         request_done: bool = False) -> None:
    """Tell targets' workflows to re-read their state (report in, approval, extension); with
    `request_done` (the last report completed the request) the parent too."""
    if request_done:
        await request_changed(client, request_id=request_id)
    for oid in organization_ids:
        try:
            await client.get_workflow_handle(target_workflow_id(request_id, oid)).signal(ReportTargetWorkflow.changed)
        except RPCError:
            pass  # not started yet (it reads the state when it starts) or already finished


async def request_changed(client: Client, *, request_id: int) -> None:
    """The request completed or closed: the parent looks again (and wakes waiting children)."""
    try:
        await client.get_workflow_handle(request_workflow_id(request_id)).signal(ReportRequestWorkflow.wake)
    except RPCError:
        log.info("report request %s: no running workflow", request_id)


async def deadline_changed(client: Client, *, request_id: int) -> None:
    try:
        await client.get_workflow_handle(request_workflow_id(request_id)).signal(ReportRequestWorkflow.deadline_changed)
    except RPCError:
        log.info("report request %s: no running workflow to extend", request_id)
