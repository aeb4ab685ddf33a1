"""The checkpoint runs as a Temporal workflow (and a schedule) against a real dev server."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from services.audit import service as audit
from services.audit.models import AuditCheckpoint
from services.audit.service import Actor
from workflows.audit.schedule import ensure_checkpoint_schedule
from workflows.audit.workflows import SCHEDULE_ID, AuditCheckpointWorkflow
from workflows.context import ActivityContext
from workflows.worker import build_worker


async def test_checkpoint_workflow_signs_new_entries_once(temporal_env, database, settings) -> None:
    for i in range(4):
        async with database.session() as session:
            await audit.record(session, actor=Actor.system(), action="test.step", details={"i": i})
    queue = f"q-{uuid.uuid4().hex[:6]}"
    async with build_worker(temporal_env.client, task_queue=queue, context=ActivityContext(settings, database)):
        first = await temporal_env.client.execute_workflow(AuditCheckpointWorkflow.run, id=f"cp-{uuid.uuid4().hex[:6]}", task_queue=queue)
        second = await temporal_env.client.execute_workflow(AuditCheckpointWorkflow.run, id=f"cp-{uuid.uuid4().hex[:6]}", task_queue=queue)
    assert first.created and (first.first_seq, first.last_seq) == (1, 4)
    # The second run covers only the checkpoint's own audit entry (seq 5).
    assert second.created and (second.first_seq, second.last_seq) == (5, 5)
    async with database.session() as session:
        assert len((await session.scalars(select(AuditCheckpoint))).all()) == 2
        assert (await audit.verify_database(session, data_dir=settings.data_dir)).ok


async def test_schedule_is_created_and_updated_idempotently(temporal_env) -> None:
    await ensure_checkpoint_schedule(temporal_env.client, task_queue="lienthong-test", every=timedelta(minutes=30))
    await ensure_checkpoint_schedule(temporal_env.client, task_queue="lienthong-test", every=timedelta(minutes=10))
    description = await temporal_env.client.get_schedule_handle(SCHEDULE_ID).describe()
    assert description.schedule.spec.intervals[0].every == timedelta(minutes=10)
    await temporal_env.client.get_schedule_handle(SCHEDULE_ID).delete()
