"""The archive pass over final documents: their signatures stay verifiable while they are kept.

Final documents are the issued outgoing documents, the signed minutes and the archived books of
closed registers. Each archive pass
(run by `ArchiveRefreshWorkflow`; it sits with the workflows because it reads two domains and
signs) gives every one of them its first document time stamp (PAdES B-LTA) and, before the
time-stamping authority's certificate expires, the next one (`signing.archive`). The stamped
file is an incremental update of the old one, so the old bytes stay a prefix of the new and
every earlier signature stays valid; the document then points at the new file, and the trail
says so.

The time stamp is fetched with no transaction open; the change is written in one short
transaction with its audit entry, and only if the document still points at the file that was
stamped (a retried or concurrent pass stamps nothing twice).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pyhanko.pdf_utils.misc import PdfError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.minutes.models import Minutes
from meetings.models import Meeting
from services.audit.service import Actor, record
from services.blobs import BlobStore
from services.config import Settings
from services.db import Database
from services.documents.register_archive import RegisterArchive
from services.errors import DomainError
from services.outgoing.models import OutgoingDocument
from signing.archive import add_archive_timestamp, newest_stamp_facts, refresh_due
from signing.trust import TrustConfig
from signing.validation import async_validate_pdf

log = logging.getLogger(__name__)

Kind = Literal["outgoing", "minutes", "register"]


@dataclass(frozen=True)
class FinalFile:
    kind: Kind
    object_id: int
    organization_id: int
    sha256: str


@dataclass
class ArchivePass:
    """What one pass did: files looked at, stamped, failed (kind-id: reason)."""

    checked: int = 0
    stamped: int = 0
    failed: list[str] = field(default_factory=list)


async def final_files(session: AsyncSession) -> list[FinalFile]:
    """Every final document's current file, outgoing first, oldest first."""
    files = [
        FinalFile("outgoing", doc_id, org_id, sha or "")
        for doc_id, org_id, sha in (
            await session.execute(
                select(OutgoingDocument.id, OutgoingDocument.organization_id, OutgoingDocument.issued_pdf_sha)
                .where(OutgoingDocument.issued_pdf_sha.is_not(None))
                .order_by(OutgoingDocument.id)
            )
        ).all()
    ]
    files += [
        FinalFile("minutes", minutes_id, org_id, sha or "")
        for minutes_id, org_id, sha in (
            await session.execute(
                select(Minutes.id, Meeting.organization_id, Minutes.final_pdf_sha)
                .join(Meeting, Meeting.id == Minutes.meeting_id)
                .where(Minutes.final_pdf_sha.is_not(None))
                .order_by(Minutes.id)
            )
        ).all()
    ]
    files += [
        FinalFile("register", archive_id, org_id, sha)
        for archive_id, org_id, sha in (
            await session.execute(
                select(RegisterArchive.id, RegisterArchive.organization_id, RegisterArchive.pdf_sha256).order_by(RegisterArchive.id)
            )
        ).all()
    ]
    return files


async def _repoint(session: AsyncSession, item: FinalFile, new_sha: str, report_json: str) -> bool:
    """Point the document at the stamped file (and its signature report, which now lists the
    archive chain), if it still points at the one we stamped."""
    if item.kind == "outgoing":
        result = await session.execute(
            update(OutgoingDocument)
            .where(OutgoingDocument.id == item.object_id, OutgoingDocument.issued_pdf_sha == item.sha256)
            .values(issued_pdf_sha=new_sha, validation_report=report_json)
        )
    elif item.kind == "minutes":
        result = await session.execute(
            update(Minutes)
            .where(Minutes.id == item.object_id, Minutes.final_pdf_sha == item.sha256)
            .values(final_pdf_sha=new_sha, validation=report_json)
        )
    else:
        result = await session.execute(
            update(RegisterArchive)
            .where(RegisterArchive.id == item.object_id, RegisterArchive.pdf_sha256 == item.sha256)
            .values(pdf_sha256=new_sha)
        )
    return bool(getattr(result, "rowcount", 0))


async def refresh(database: Database, settings: Settings, *, now: datetime, margin: timedelta, retry: timedelta) -> ArchivePass:
    """One archive pass at `now` (the workflow's clock, so a schedule can be tested in skipped time)."""
    async with database.read() as session:
        files = await final_files(session)
    blobs = BlobStore.for_settings(settings)
    trust = TrustConfig.from_settings(settings)
    done = ArchivePass()
    for item in files:
        done.checked += 1
        pdf = blobs.get(item.sha256)
        facts = await asyncio.to_thread(newest_stamp_facts, pdf)
        if not refresh_due(facts, now=now, margin=margin, retry=retry):
            continue
        try:
            stamped = await add_archive_timestamp(pdf, trust=trust)
        except (DomainError, PdfError, OSError, ValueError) as exc:
            # One unreachable authority or broken file must not stop the others; the next pass retries.
            log.warning("archive time stamp failed for %s %s: %s", item.kind, item.object_id, exc)
            done.failed.append(f"{item.kind}-{item.object_id}: {exc}")
            continue
        new_sha = blobs.put(stamped)
        new_facts = newest_stamp_facts(stamped)
        report = await async_validate_pdf(stamped, trust=trust)
        async with database.session() as session:
            if not await _repoint(session, item, new_sha, report.model_dump_json()):
                continue
            await record(
                session,
                actor=Actor.system("archive"),
                action="archive.timestamp",
                object_type=item.kind,
                object_id=item.object_id,
                organization_id=item.organization_id,
                details={
                    "from_sha256": item.sha256,
                    "to_sha256": new_sha,
                    "first": facts is None,
                    "authority_expires": new_facts[1].isoformat() if new_facts else None,
                },
            )
        done.stamped += 1
    return done
