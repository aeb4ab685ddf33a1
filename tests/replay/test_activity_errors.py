"""Domain errors fail an activity at once (non-retryable, typed by class name) while other
errors keep retrying under the shared, capped policy."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from services.errors import Conflict
from workflows import retry
from workflows.context import ActivityContext
from workflows.worker import build_worker

ATTEMPTS: dict[str, list[int]] = {"conflict": [], "flaky": []}


@activity.defn(name="test_conflict")
async def conflicting(_: str) -> str:
    ATTEMPTS["conflict"].append(activity.info().attempt)
    raise Conflict("Văn bản đã được phát hành.", "The document is already issued.")


@activity.defn(name="test_flaky")
async def flaky(_: str) -> str:
    ATTEMPTS["flaky"].append(activity.info().attempt)
    if activity.info().attempt < 3:
        raise RuntimeError("database is restarting")
    return "ok"


@workflow.defn(sandboxed=False)
class ProbeWorkflow:
    @workflow.run
    async def run(self, which: str) -> str:
        fn = conflicting if which == "conflict" else flaky
        return await workflow.execute_activity(fn, which, start_to_close_timeout=timedelta(seconds=10), retry_policy=retry.DATABASE)


async def test_domain_error_fails_the_activity_once_and_transient_errors_retry(temporal_env, settings) -> None:
    queue = f"errors-{uuid.uuid4().hex[:6]}"
    client = temporal_env.client
    async with build_worker(
        client,
        task_queue=queue,
        context=ActivityContext(settings, None),  # type: ignore[arg-type]
        workflows=[ProbeWorkflow],
        activities=[conflicting, flaky],
    ):
        try:
            await client.execute_workflow(ProbeWorkflow.run, "conflict", id=f"probe-{uuid.uuid4().hex[:6]}", task_queue=queue)
            raise AssertionError("the workflow should have failed")
        except WorkflowFailureError as failure:
            assert isinstance(failure.cause, ActivityError)
            cause = failure.cause.cause
            assert isinstance(cause, ApplicationError)
            assert (cause.type, cause.non_retryable, cause.message) == ("Conflict", True, "The document is already issued.")
            assert cause.details == ("Văn bản đã được phát hành.",)
        assert await client.execute_workflow(ProbeWorkflow.run, "flaky", id=f"probe-{uuid.uuid4().hex[:6]}", task_queue=queue) == "ok"
    assert ATTEMPTS == {"conflict": [1], "flaky": [1, 2, 3]}
