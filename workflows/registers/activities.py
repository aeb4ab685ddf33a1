"""Activities of a register print, thin: its steps are `services.documents.register_prints`, the
printing is `signing.register_print` (and `signing.register_archive` for a closed year)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from services.authz import Principal
from services.blobs import BlobStore
from services.db import Database
from services.directory.models import Organization
from services.documents import register_prints as prints
from services.documents.registers_print import RegisterKind
from services.errors import DomainError
from services.i18n import Message
from services.incoming import service as incoming
from services.outgoing import service as outgoing
from workflows.context import ActivityContext


async def _book(session: AsyncSession, principal: Principal, job: prints.RegisterPrint) -> tuple[str, Sequence[Mapping[str, object]]]:
    """The book's title line and every row, read as the register's page reads them."""
    organization = await session.get(Organization, job.organization_id)
    name = organization.name if organization else ""
    if job.kind == "incoming":
        rows = await incoming.register_rows(
            session, principal=principal, organization_id=job.organization_id, year=job.year, series=job.series
        )
        return name + (" — Sổ văn bản mật" if job.series == "mat" else ""), rows
    return name, await outgoing.register_rows(session, organization_id=job.organization_id, year=job.year)


class _KeptParts:
    """The print's converted parts, kept in the blob store and the database across attempts."""

    def __init__(self, db: Database, blobs: BlobStore, print_id: int) -> None:
        self.db, self.blobs, self.print_id = db, blobs, print_id

    async def kept(self, position: int, source: str) -> bytes | None:
        async with self.db.read() as session:
            digest = await prints.kept_part(session, print_id=self.print_id, position=position, source_sha256=source)
        if digest is None or not self.blobs.exists(digest):
            return None
        return self.blobs.get(digest)

    async def keep(self, position: int, source: str, pdf: bytes) -> None:
        digest = self.blobs.put(pdf)
        async with self.db.session() as session:
            released = await prints.keep_part(session, print_id=self.print_id, position=position, source_sha256=source, pdf_sha256=digest)
        _delete(self.blobs, released)


def _delete(blobs: BlobStore, digests: list[str]) -> None:
    """Blobs the committed transaction left unheld. (Were the worker lost just before, they would
    stay in the store, unreferenced: harmless.)"""
    for digest in digests:
        blobs.delete(digest)


class RegisterPrintActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @activity.defn(name="register_print")
    async def run(self, print_id: int) -> str:
        """Print the book a part at a time, telling the page after each part; keep the file.
        Idempotent: a print that has ended is left as it is; one cut short goes on from the parts
        it kept (those whose rows did not change)."""
        from signing.convert import ConversionFailed, get_converter
        from signing.register_archive import archived_book
        from signing.register_print import parts_of, print_book

        db, settings = self.context.database, self.context.settings
        blobs = BlobStore.for_settings(settings)
        async with db.session() as session:
            job = await prints.claim(session, print_id=print_id)
        if job is None:
            return "ended"
        try:
            async with db.read() as session:
                principal = await prints.requester(session, job)
                title, rows = await _book(session, principal, job)
            part_rows = settings.register_print_part_rows
            async with db.session() as session:
                await prints.sized(session, print_id=print_id, rows=len(rows), parts=len(parts_of(rows, part_rows)))

            async def progress(parts_done: int, _parts: int, rows_done: int) -> None:
                async with db.session() as session:
                    await prints.progressed(session, print_id=print_id, parts_done=parts_done, rows_done=rows_done)

            kind: RegisterKind = "incoming" if job.kind == "incoming" else "outgoing"
            store = _KeptParts(db, blobs, print_id)
            if job.purpose == prints.ARCHIVE:
                pdf = await archived_book(
                    settings=settings,
                    kind=kind,
                    org_name=title,
                    year=job.year,
                    rows=rows,
                    part_rows=part_rows,
                    progress=progress,
                    store=store,
                )
            else:
                pdf = await print_book(
                    kind=kind,
                    org_name=title,
                    year=job.year,
                    rows=rows,
                    converter=get_converter(),
                    part_rows=part_rows,
                    progress=progress,
                    store=store,
                )
            sha = blobs.put(pdf)
            async with db.session() as session:
                released = await prints.finish(session, print_id=print_id, pdf_sha256=sha)
            _delete(blobs, released)
        except ConversionFailed:
            # Its own text speaks of an uploaded file; the clerk needs the register's words.
            await self._fail(print_id, prints.GAVE_UP)
            return "failed"
        except DomainError as exc:  # lost their rights, archived meanwhile, no time-stamping authority…
            await self._fail(print_id, exc)
            return "failed"
        return "done"

    async def _fail(self, print_id: int, reason: DomainError | Message) -> None:
        async with self.context.database.session() as session:
            released = await prints.fail(session, print_id=print_id, reason=reason)
        _delete(BlobStore.for_settings(self.context.settings), released)

    @activity.defn(name="register_print_give_up")
    async def give_up(self, print_id: int) -> None:
        """Every attempt failed (the office or the database kept failing): tell the page."""
        await self._fail(print_id, prints.GAVE_UP)
