"""Activities of the incoming-document workflow: thin, idempotent wrappers over services.incoming,
plus signature validation of arrived PDFs (the check itself is `signing.uploads`)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from services.audit.service import Actor
from services.blobs import BlobStore
from services.config import Settings
from services.incoming import service as incoming
from signing.uploads import validate_upload
from workflows.context import ActivityContext


class SnapshotOut(BaseModel):
    document_id: int
    status: str
    revision: int
    closed: bool
    due_date: date | None = None
    reminder_at: datetime | None = None
    overdue_at: datetime | None = None
    escalate_at: datetime | None = None
    pending: list[str] = []


class StepInput(BaseModel):
    document_id: int
    revision: int


class DeadlineInput(BaseModel):
    document_id: int
    kind: str  # reminder | overdue | escalation
    due_date: date


async def validate_document_files(settings: Settings, database: Any, document_id: int, actor: Actor) -> int:
    """Validate every PDF of a document not validated yet (idempotent); returns how many were checked."""
    async with database.session() as session:
        pending = [(f.id, f.sha256) for f in await incoming.files_to_validate(session, document_id=document_id)]
    blobs = BlobStore.for_settings(settings)
    checked = 0
    for file_id, sha in pending:
        if not blobs.exists(sha):
            continue
        report, ok = await asyncio.to_thread(validate_upload, settings, blobs.get(sha))
        async with database.session() as session:
            await incoming.store_validation(session, actor=actor, file_id=file_id, report=report, ok=ok)
        checked += 1
    return checked


class IncomingActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @activity.defn(name="incoming_snapshot")
    async def snapshot(self, document_id: int) -> SnapshotOut:
        settings = self.context.settings
        async with self.context.database.read() as session:
            snap = await incoming.workflow_snapshot(
                session,
                document_id=document_id,
                reminder_working_days=settings.incoming_reminder_working_days,
                escalate_after_working_days=settings.incoming_escalate_after_working_days,
            )
        return SnapshotOut(
            document_id=snap.document_id,
            status=snap.status,
            revision=snap.revision,
            closed=snap.closed,
            due_date=snap.due_date,
            reminder_at=snap.reminder_at,
            overdue_at=snap.overdue_at,
            escalate_at=snap.escalate_at,
            pending=snap.pending,
        )

    @activity.defn(name="incoming_validate_signatures")
    async def validate_signatures(self, document_id: int) -> int:
        return await validate_document_files(self.context.settings, self.context.database, document_id, Actor.system("signature-check"))

    @activity.defn(name="incoming_notify_step")
    async def notify_step(self, step: StepInput) -> list[int]:
        async with self.context.database.session() as session:
            return await incoming.notify_step(session, document_id=step.document_id, revision=step.revision)

    @activity.defn(name="incoming_deadline_notice")
    async def deadline_notice(self, deadline: DeadlineInput) -> bool:
        async with self.context.database.session() as session:
            return await incoming.send_deadline_notice(
                session, document_id=deadline.document_id, kind=deadline.kind, due_date=deadline.due_date
            )
