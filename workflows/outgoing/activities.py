"""Activities of the outgoing-document process: thin, idempotent wrappers over
services.outgoing (and the DOCX→PDF conversion, which needs the signing toolchain)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from services.blobs import BlobStore
from services.db import Database
from services.outgoing import service as outgoing
from services.outgoing.models import Status
from workflows.context import ActivityContext


class OutgoingState(BaseModel):
    """What the workflow needs to decide its next step, read from the database."""

    status: str
    prepared: bool = False
    review_due: list[datetime] = []
    pending_deliveries: list[int] = []
    pending_notices: list[int] = []
    validated_issue: bool = False


class RecipientInput(BaseModel):
    document_id: int
    recipient_id: int


class ReminderInput(BaseModel):
    document_id: int
    stage: str  # soon | overdue


class OutgoingActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @property
    def _db(self) -> Database:
        return self.context.database

    @activity.defn(name="outgoing_load")
    async def load(self, document_id: int) -> OutgoingState:
        async with self._db.read() as session:
            doc = await outgoing.get(session, document_id=document_id)
            rows = outgoing.current_reviews(doc, await outgoing.reviews(session, document_id=doc.id))
            report: dict[str, Any] = outgoing.report_of(doc) or {}  # JSON
            return OutgoingState(
                status=doc.status.value,
                prepared=bool(doc.prepared_pdf_sha),
                review_due=sorted(r.due_at for r in rows if r.due_at is not None),
                pending_deliveries=await outgoing.pending_deliveries(session, document_id=doc.id) if doc.status in outgoing.ISSUED else [],
                pending_notices=await outgoing.pending_notices(session, document_id=doc.id),
                validated_issue=len(report.get("signatures", [])) >= 2,
            )

    @activity.defn(name="outgoing_render")
    async def render(self, document_id: int) -> bool:
        """DOCX of the latest version → PDF (shared LibreOffice) → fields and seal field added."""
        from signing.convert import get_converter
        from signing.outgoing import prepare_pdf

        settings = self.context.settings
        async with self._db.session() as session:
            doc = await outgoing.get(session, document_id=document_id)
            if doc.status != Status.awaiting_signature:
                return False
            latest = await outgoing.latest_version(session, document_id=doc.id)
            if doc.prepared_pdf_sha and doc.prepared_version == latest.number:
                return True
            docx = BlobStore.for_settings(settings).get(latest.docx_sha)
        pdf = await get_converter().to_pdf(docx)
        prepared = await asyncio.to_thread(prepare_pdf, pdf)
        async with self._db.session() as session:
            return await outgoing.store_prepared(
                session, settings=settings, document_id=document_id, version_number=latest.number, pdf=prepared
            )

    @activity.defn(name="outgoing_remind")
    async def remind(self, data: ReminderInput) -> int:
        async with self._db.session() as session:
            return await outgoing.remind_reviewers(session, document_id=data.document_id, stage=data.stage)

    @activity.defn(name="outgoing_deliver")
    async def deliver(self, data: RecipientInput) -> int | None:
        """One recipient's incoming copy; keyed by (document, recipient), safe to retry."""
        async with self._db.session() as session:
            return await outgoing.deliver(
                session, settings=self.context.settings, document_id=data.document_id, recipient_id=data.recipient_id
            )

    @activity.defn(name="outgoing_notice")
    async def notice(self, data: RecipientInput) -> bool:
        async with self._db.session() as session:
            return await outgoing.notify_recipient(session, document_id=data.document_id, recipient_id=data.recipient_id)

    @activity.defn(name="outgoing_validate")
    async def validate(self, document_id: int) -> bool:
        """Validate the issued PDF (leader + seal) and keep the report for the document page."""
        from signing.trust import TrustConfig
        from signing.validation import async_validate_pdf

        settings = self.context.settings
        async with self._db.session() as session:
            doc = await outgoing.get(session, document_id=document_id)
            sha = doc.issued_pdf_sha
        if not sha:
            return False
        pdf = BlobStore.for_settings(settings).get(sha)
        report = await async_validate_pdf(pdf, trust=TrustConfig.from_settings(settings))
        async with self._db.session() as session:
            doc = await outgoing.get(session, document_id=document_id)
            doc.validation_report = report.model_dump_json()
            await outgoing.record(
                session,
                actor=outgoing.Actor.system("outgoing-workflow"),
                action="outgoing.validate",
                object_type="outgoing",
                object_id=doc.id,
                organization_id=doc.organization_id,
                details={
                    "all_valid": report.all_valid,
                    "signatures": len(report.signatures),
                    "summary": json.dumps(report.summary_en, ensure_ascii=False),
                },
            )
        return report.all_valid
