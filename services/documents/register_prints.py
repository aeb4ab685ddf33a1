"""Register books printed in the background (issue 16): a print (in sổ, PDF) or a closed year's
archive (khóa sổ), started from the register's page and run by the worker.

A year's book takes LibreOffice about a minute (19,000 rows), too long for a request. Starting
one writes a row here and tells the worker through the outbox, in the request's transaction;
the worker's activity (workflows/registers) prints the book a part at a time and reports each
part here, which publishes it on the print's live channel (`print-<id>`), so the page follows
it without reload. The finished file goes into the blob store; an archive is recorded as the
closed register's archived book (`register_archive.archive`) in the same transaction that ends
the job. Whoever may print a register today may start, follow and download its prints: the
scope is the register's (`may_read`), never the starter's alone.

Each converted part is kept (blob and row) until the print ends, keyed by what it was built
from: a print tried again after a lost worker converts only the parts whose rows changed or were
not done. When a print ends its parts go, and a finished print replaces the register's earlier
prints: their files leave the blob store (`finish` names the blobs no row holds any more; the
activity deletes them once the transaction has committed).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Final

from sqlalchemy import ForeignKey, Index, Integer, String, Text, delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.audit.service import record
from services.authz import Principal, load_principal, require
from services.calendar import vn_today
from services.db import Base, utcnow
from services.directory.models import DOCUMENT_READERS, Role, User
from services.documents import register_archive
from services.errors import Conflict, DomainError, InvalidInput, NotFound
from services.events.service import publish
from services.i18n import Message, _l, render
from services.outbox.service import tell

PRINT, ARCHIVE = "print", "archive"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
OPEN: Final = (QUEUED, RUNNING)
# Who may print (and so follow and download the prints of) a register: as the print routes were.
READERS: Final[dict[str, tuple[Role, ...]]] = {
    "incoming": DOCUMENT_READERS,
    "outgoing": (Role.clerk, Role.leader, Role.deputy_leader, Role.auditor, Role.admin),
}
_OPEN_SQL = "status IN ('queued', 'running')"
GAVE_UP: Final = _l("The register could not be printed. Try again; if it fails again, tell the administrator.")


class RegisterPrint(Base):
    __tablename__ = "register_prints"
    __table_args__ = (
        Index("ix_register_prints_register", "organization_id", "kind", "series", "year", "purpose"),
        # One run at a time per register and purpose: two clerks clicking at once get the same one.
        Index(
            "uq_register_prints_open",
            "organization_id",
            "kind",
            "series",
            "year",
            "purpose",
            unique=True,
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(16))  # incoming | outgoing
    series: Mapped[str] = mapped_column(String(32))  # chung | mat
    year: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(16))  # print | archive
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)  # queued | running | done | failed
    rows: Mapped[int] = mapped_column(Integer, default=0)  # the book's rows, once read
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    parts: Mapped[int] = mapped_column(Integer, default=0)  # parts of the book, once read
    parts_done: Mapped[int] = mapped_column(Integer, default=0)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)  # why it failed: {"vi": …, "en": …}
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def error_text(self, locale: str) -> str:
        if not self.error:
            return ""
        texts = json.loads(self.error)
        return texts.get(locale) or texts.get("vi", "")


class RegisterPrintPart(Base):
    """A part of a print under way, converted and kept (gone once the print ends)."""

    __tablename__ = "register_print_parts"

    print_id: Mapped[int] = mapped_column(ForeignKey("register_prints.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0, 1, … in the book
    source_sha256: Mapped[str] = mapped_column(String(64))  # what it was built from (signing.register_print.part_source)
    pdf_sha256: Mapped[str] = mapped_column(String(64))


def channel(print_id: int) -> str:
    return f"print-{print_id}"


def may_read(principal: Principal, *, kind: str, organization_id: int) -> bool:
    return kind in READERS and organization_id in principal.orgs_with(*READERS[kind])


def _register_key(kind: str, series: str, organization_id: int, year: int) -> str:
    """The register's object ID in the trail (the general series keeps the print's earlier ID)."""
    return f"{kind}-{organization_id}-{year}" if series == "chung" else f"{kind}-{organization_id}-{series}-{year}"


async def latest(session: AsyncSession, *, kind: str, series: str, organization_id: int, year: int, purpose: str) -> RegisterPrint | None:
    """The register's newest print (or archive run) whatever its state."""
    return await session.scalar(
        select(RegisterPrint)
        .where(
            RegisterPrint.organization_id == organization_id,
            RegisterPrint.kind == kind,
            RegisterPrint.series == series,
            RegisterPrint.year == year,
            RegisterPrint.purpose == purpose,
        )
        .order_by(RegisterPrint.id.desc())
        .limit(1)
    )


async def start(
    session: AsyncSession,
    *,
    principal: Principal,
    kind: str,
    series: str,
    organization_id: int,
    year: int,
    purpose: str = PRINT,
    today: dt.date | None = None,
) -> RegisterPrint:
    """Start printing (or archiving) a register in the background; a run of it that is still going
    is answered instead of a second one (a double click, two clerks)."""
    if series not in register_archive.SERIES.get(kind, ()) or purpose not in (PRINT, ARCHIVE):
        raise InvalidInput(_l("Unknown register."))
    if purpose == ARCHIVE:
        require(principal, [Role.clerk], organization_id, "register")
        register_archive.check_closable(kind=kind, series=series, year=year, today=today or vn_today())
        if await register_archive.find(session, organization_id=organization_id, kind=kind, series=series, year=year):
            raise Conflict(_l("The register of {year} is already archived.", year=year))
    elif not may_read(principal, kind=kind, organization_id=organization_id):
        raise NotFound(_l("register not found"))
    running = await latest(session, kind=kind, series=series, organization_id=organization_id, year=year, purpose=purpose)
    if running is not None and running.open:
        return running
    job = RegisterPrint(
        organization_id=organization_id,
        kind=kind,
        series=series,
        year=year,
        purpose=purpose,
        status=QUEUED,
        rows=0,
        rows_done=0,
        parts=0,
        parts_done=0,
        requested_by_id=principal.me.id,
    )
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:  # another request started it between the read above and this insert
        running = await latest(session, kind=kind, series=series, organization_id=organization_id, year=year, purpose=purpose)
        if running is None or not running.open:
            raise
        return running
    if purpose == PRINT:
        await record(
            session,
            actor=principal.actor,
            action="incoming.register_print" if kind == "incoming" else "outgoing.register_print",
            object_type="register",
            object_id=_register_key(kind, series, organization_id, year),
            organization_id=organization_id,
            details={"format": "pdf", "year": year, "series": series},
        )
    await tell(session, "register-print", job.id, None)
    return job


async def visible(session: AsyncSession, *, principal: Principal, print_id: int) -> RegisterPrint:
    """A print the principal may follow and download (NotFound otherwise, as for any register)."""
    job = await session.get(RegisterPrint, print_id)
    if job is None or not may_read(principal, kind=job.kind, organization_id=job.organization_id):
        raise NotFound(_l("register not found"))
    return job


# --- the worker's side: each step a short transaction of its own -------------------------------


async def _locked(session: AsyncSession, print_id: int) -> RegisterPrint | None:
    return await session.scalar(
        select(RegisterPrint).where(RegisterPrint.id == print_id).with_for_update().execution_options(populate_existing=True)
    )


async def _tell_page(session: AsyncSession, job: RegisterPrint, kind: str) -> None:
    await publish(
        session,
        channel=channel(job.id),
        kind=kind,
        payload={"status": job.status, "parts": job.parts, "parts_done": job.parts_done, "rows": job.rows, "rows_done": job.rows_done},
    )


async def claim(session: AsyncSession, *, print_id: int) -> RegisterPrint | None:
    """Begin (or, after a lost worker, begin again) a print; None when it has ended already."""
    job = await _locked(session, print_id)
    if job is None or not job.open:
        return None
    job.status, job.parts_done, job.rows_done = RUNNING, 0, 0
    await _tell_page(session, job, "started")
    return job


async def requester(session: AsyncSession, job: RegisterPrint) -> Principal:
    """Who asked for the print, with their roles as they are now: a print runs on their rights."""
    user = await session.get(User, job.requested_by_id)
    if user is None or not user.active:
        raise NotFound(_l("register not found"))
    principal = await load_principal(session, user)
    allowed = principal.has_role(Role.clerk, job.organization_id) if job.purpose == ARCHIVE else True
    if not allowed or not may_read(principal, kind=job.kind, organization_id=job.organization_id):
        raise NotFound(_l("register not found"))
    return principal


async def sized(session: AsyncSession, *, print_id: int, rows: int, parts: int) -> None:
    """The book has been read: how many rows and parts it has."""
    job = await _locked(session, print_id)
    if job is not None and job.status == RUNNING:
        job.rows, job.parts = rows, parts
        await _tell_page(session, job, "sized")


async def progressed(session: AsyncSession, *, print_id: int, parts_done: int, rows_done: int) -> None:
    """One more part of the book is converted."""
    job = await _locked(session, print_id)
    if job is not None and job.status == RUNNING:
        job.parts_done, job.rows_done = parts_done, rows_done
        await _tell_page(session, job, "progress")


async def kept_part(session: AsyncSession, *, print_id: int, position: int, source_sha256: str) -> str | None:
    """The PDF (blob digest) of a part converted by an earlier attempt from the same source."""
    part = await session.get(RegisterPrintPart, (print_id, position))
    return part.pdf_sha256 if part is not None and part.source_sha256 == source_sha256 else None


async def keep_part(session: AsyncSession, *, print_id: int, position: int, source_sha256: str, pdf_sha256: str) -> list[str]:
    """Keep a converted part (replacing one of another source) while the print runs; returns the
    blob no longer held: the one replaced, or this one when the print ended meanwhile."""
    job = await _locked(session, print_id)  # the print's row first, as `finish` takes them
    if job is None or job.status != RUNNING:
        return await unheld(session, [pdf_sha256])
    part = await session.get(RegisterPrintPart, (print_id, position))
    if part is None:
        session.add(RegisterPrintPart(print_id=print_id, position=position, source_sha256=source_sha256, pdf_sha256=pdf_sha256))
        return []
    replaced = part.pdf_sha256
    part.source_sha256, part.pdf_sha256 = source_sha256, pdf_sha256
    await session.flush()
    return await unheld(session, [replaced])


async def unheld(session: AsyncSession, digests: list[str]) -> list[str]:
    """The digests no print, part or archived book holds: blobs that may be deleted. (A book's
    or a part's PDF is LibreOffice's output of one run, stamped with its time; no other table
    holds the same bytes.)"""
    if not digests:
        return []
    held = (
        set(await session.scalars(select(RegisterPrint.pdf_sha256).where(RegisterPrint.pdf_sha256.in_(digests))))
        | set(await session.scalars(select(RegisterPrintPart.pdf_sha256).where(RegisterPrintPart.pdf_sha256.in_(digests))))
        | set(
            await session.scalars(
                select(register_archive.RegisterArchive.pdf_sha256).where(register_archive.RegisterArchive.pdf_sha256.in_(digests))
            )
        )
    )
    return sorted(set(digests) - held)


async def _drop_parts(session: AsyncSession, print_id: int) -> list[str]:
    parts = list(await session.scalars(select(RegisterPrintPart.pdf_sha256).where(RegisterPrintPart.print_id == print_id)))
    await session.execute(delete(RegisterPrintPart).where(RegisterPrintPart.print_id == print_id))
    return parts


async def finish(session: AsyncSession, *, print_id: int, pdf_sha256: str) -> list[str]:
    """The book is printed and kept; an archive is recorded as the register's archived book (on
    the rights its clerk has now, once per register and year). The print's parts go, and its
    register's earlier prints give up their files to it. Returns the blobs no longer held (to
    delete after commit): the parts', the earlier prints', or this book's when it had ended."""
    job = await _locked(session, print_id)
    if job is None or job.status != RUNNING:
        return await unheld(session, [pdf_sha256])
    # Rows in the declared order (services.db): the prints, their parts, then the audit and events.
    released: list[str] = []
    if job.purpose == PRINT:
        earlier = (
            await session.scalars(
                select(RegisterPrint).where(
                    RegisterPrint.organization_id == job.organization_id,
                    RegisterPrint.kind == job.kind,
                    RegisterPrint.series == job.series,
                    RegisterPrint.year == job.year,
                    RegisterPrint.purpose == PRINT,
                    RegisterPrint.id < job.id,
                    RegisterPrint.pdf_sha256.is_not(None),
                )
            )
        ).all()
        released += [old.pdf_sha256 for old in earlier if old.pdf_sha256]
        for old in earlier:
            old.pdf_sha256 = None
    released += await _drop_parts(session, print_id)
    if job.purpose == ARCHIVE:
        await register_archive.archive(
            session,
            principal=await requester(session, job),
            organization_id=job.organization_id,
            kind=job.kind,
            series=job.series,
            year=job.year,
            entries=job.rows,
            pdf_sha256=pdf_sha256,
            today=vn_today(),
        )
    job.status, job.pdf_sha256, job.finished_at = DONE, pdf_sha256, utcnow()
    job.parts_done, job.rows_done = job.parts, job.rows
    await _tell_page(session, job, "done")
    await session.flush()
    return await unheld(session, released)


async def fail(session: AsyncSession, *, print_id: int, reason: DomainError | Message) -> list[str]:
    """The print ended without a book: the page says why and offers to try again. Its parts go
    (returned: the blobs to delete after commit)."""
    job = await _locked(session, print_id)
    if job is None or not job.open:
        return []
    texts = {locale: reason.text(locale) if isinstance(reason, DomainError) else render(reason, locale) for locale in ("vi", "en")}
    released = await _drop_parts(session, print_id)
    job.status, job.error, job.finished_at = FAILED, json.dumps(texts, ensure_ascii=False), utcnow()
    await _tell_page(session, job, "failed")
    await session.flush()
    return await unheld(session, released)
