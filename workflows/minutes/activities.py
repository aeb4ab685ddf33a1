"""Activities of the minutes workflow: thin, idempotent wrappers over meetings.minutes.service."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from temporalio import activity

from meetings.minutes import service as minutes_service
from services.blobs import BlobStore
from workflows.context import ActivityContext


class RenderInput(BaseModel):
    minutes_id: int
    round: int


class SigningStateOut(BaseModel):
    status: str
    round: int
    role: str | None
    due: date | None
    reminder_at: datetime | None
    overdue_at: datetime | None
    pending_sha: str | None


class AcceptInput(BaseModel):
    minutes_id: int
    role: str
    sha256: str


class NoticeInput(BaseModel):
    minutes_id: int
    role: str
    kind: str  # reminder | overdue
    round: int


class FinalCheck(BaseModel):
    signatures: int
    all_valid: bool


class MinutesActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @activity.defn(name="minutes_render")
    async def render(self, data: RenderInput) -> bool:
        """Biên bản DOCX → PDF (shared LibreOffice) → number/date fields and the chair's field."""
        from signing.convert import get_converter

        async with self.context.database.session() as session:
            return await minutes_service.render(
                session, settings=self.context.settings, minutes_id=data.minutes_id, round_=data.round, converter=get_converter()
            )

    @activity.defn(name="minutes_signing_state")
    async def signing_state(self, minutes_id: int) -> SigningStateOut:
        async with self.context.database.read() as session:
            state = await minutes_service.signing_state(session, minutes_id=minutes_id)
        return SigningStateOut(**state.__dict__)

    @activity.defn(name="minutes_accept_signature")
    async def accept_signature(self, data: AcceptInput) -> bool:
        """Validate the signed file against the expected signer before the flow moves on."""
        settings = self.context.settings
        async with self.context.database.session() as session:
            found = await minutes_service.signature_to_check(
                session, settings=settings, minutes_id=data.minutes_id, role=data.role, signed_sha=data.sha256
            )
        if isinstance(found, bool):
            return found
        pdf, signer_name, accepted = found
        # Validation fetches revocation data: no transaction (no SQLite write lock) is held meanwhile.
        error = await minutes_service.check_signature(settings, pdf=pdf, role=data.role, signer_name=signer_name, accepted=accepted)
        async with self.context.database.session() as session:
            return await minutes_service.apply_signature_check(
                session, settings=settings, minutes_id=data.minutes_id, role=data.role, signed_sha=data.sha256, error=error
            )

    @activity.defn(name="minutes_signing_notice")
    async def signing_notice(self, data: NoticeInput) -> bool:
        async with self.context.database.session() as session:
            return await minutes_service.signing_notice(
                session, minutes_id=data.minutes_id, role=data.role, kind=data.kind, round_=data.round
            )

    @activity.defn(name="minutes_number")
    async def number(self, minutes_id: int) -> str:
        async with self.context.database.session() as session:
            return await minutes_service.number_and_date(session, settings=self.context.settings, minutes_id=minutes_id)

    @activity.defn(name="minutes_validate_final")
    async def validate_final(self, minutes_id: int) -> FinalCheck:
        """Check the numbered PDF once more (both signatures, form filling only) and keep the report."""
        settings = self.context.settings
        async with self.context.database.session() as session:
            minutes = await minutes_service.get(session, minutes_id=minutes_id)
            sha = minutes.final_pdf_sha
        assert sha is not None
        report = await minutes_service.validate_pdf(settings, BlobStore.for_settings(settings).get(sha))
        async with self.context.database.session() as session:
            await minutes_service.store_validation(session, minutes_id=minutes_id, report=report.model_dump(mode="json"))
        return FinalCheck(signatures=len(report.signatures), all_valid=report.all_valid)

    @activity.defn(name="minutes_distribute")
    async def distribute(self, minutes_id: int) -> list[int]:
        """Incoming copies for every recipient body (keyed by `minutes-<id>`; each queues its workflow)."""
        async with self.context.database.session() as session:
            created = await minutes_service.distribute(session, settings=self.context.settings, minutes_id=minutes_id)
        return created
