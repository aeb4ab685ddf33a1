"""Minutes (biên bản): live minute-taking, closing, signatures, numbering and distribution.

- Writing: the meeting's secretary (or chair, or a secretary of the organising body) saves the
  whole text with the revision it was based on. A stale save is refused — the caller gets both
  versions — and kept as a conflict copy, so nothing typed is lost. Each save is published on
  the meeting's channel (`meeting-<id>`, kind `minutes`) for participants to follow read-only.
- Closing (meeting closed): the minutes wait for the rendering activity, then for the
  secretary's signature, then the chair's; a refusal sends them back to the secretary.
- Signing happens in the web route (the PIN never leaves the request); the route stores the
  signed file and records its hash here, the workflow then validates it (`signature_to_check`, `check_signature`, `apply_signature_check`).
- Numbering in the BB series (form filling into the signed PDF) and distribution to the
  participants' and invited units' organisations as incoming documents are idempotent.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import live
from meetings.access import MeetingAccess, access_for
from meetings.minutes.models import EDITABLE, Minutes, MinutesRevision, MinutesStatus
from meetings.models import AgendaItem, Meeting, MeetingParticipant, MeetingStatus, MeetingUnit
from meetings.service import facts as meeting_facts
from services import calendar
from services.audit.service import Actor, record
from services.authz import Principal
from services.blobs import BlobStore
from services.config import Settings
from services.db import utcnow
from services.deadlines import service as deadlines
from services.directory.models import Organization, Role, User
from services.documents.notation import format_number, vn_date_line
from services.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.i18n import Message, _l
from services.i18n import render as translate
from services.notifications.service import notify
from services.registers import next_number
from services.tasks import service as tasks
from services.webhooks import service as webhooks

MAX_TEXT = 20000
SIGNERS = ("secretary", "chair")


def _not_found() -> NotFound:
    return NotFound(_l("minutes not found"))


# --- content --------------------------------------------------------------------------------


def empty_content() -> dict[str, Any]:
    return {"opening": "", "items": {}, "closing": ""}


def _clip(value: Any) -> str:
    return str(value or "")[:MAX_TEXT]


def normalise(raw: Any, *, item_ids: set[int], speeches: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Keep only known fields; opinions linked to a speech take the speaker's name from it."""
    if not isinstance(raw, dict):
        raise InvalidInput(_l("The minutes' content is not valid."))
    items: dict[str, Any] = {}
    for key, value in (raw.get("items") or {}).items():
        if not str(key).isdecimal() or int(key) not in item_ids or not isinstance(value, dict):
            continue
        opinions = []
        for op in (value.get("opinions") or [])[:200]:
            if not isinstance(op, dict):
                continue
            speech_id = op.get("speech_id")
            speech = speeches.get(int(str(speech_id))) if str(speech_id or "").isdecimal() else None
            opinions.append(
                {
                    "speech_id": speech["id"] if speech else None,
                    "speaker_user_id": speech["user_id"] if speech else None,
                    "name": speech["label"] if speech else _clip(op.get("name"))[:255],
                    "text": _clip(op.get("text")),
                }
            )
        items[str(int(key))] = {
            "discussion": _clip(value.get("discussion")),
            "opinions": opinions,
            "conclusion": _clip(value.get("conclusion")),
        }
    return {"opening": _clip(raw.get("opening")), "items": items, "closing": _clip(raw.get("closing"))}


async def speeches(session: AsyncSession, *, meeting_id: int) -> dict[int, dict[str, Any]]:
    """Speeches (requests given the floor) of a meeting, keyed by request ID."""
    from meetings.models import SpeakerRequest, SpeakerStatus

    rows = (
        await session.scalars(
            select(SpeakerRequest)
            .where(
                SpeakerRequest.meeting_id == meeting_id,
                SpeakerRequest.granted_at.is_not(None),
                SpeakerRequest.status.in_([SpeakerStatus.done, SpeakerStatus.speaking]),
            )
            .order_by(SpeakerRequest.granted_at, SpeakerRequest.id)
        )
    ).all()
    cards = await live.people(session, {r.user_id for r in rows})
    out = {}
    for r in rows:
        card = cards.get(r.user_id, {})
        label = ", ".join(p for p in (card.get("name", ""), card.get("position", ""), card.get("org", "")) if p)
        out[r.id] = {
            "id": r.id,
            "user_id": r.user_id,
            "agenda_item_id": r.agenda_item_id,
            "label": label,
            "name": card.get("name", ""),
            "note": r.note,
            "granted_at": live.iso(r.granted_at),
            "ended_at": live.iso(r.ended_at),
        }
    return out


def content_of(minutes: Minutes) -> dict[str, Any]:
    try:
        data = json.loads(minutes.content or "{}")
    except ValueError:
        data = {}
    return {**empty_content(), **data}


# --- access ---------------------------------------------------------------------------------


@dataclass
class MinutesAccess:
    meeting_access: MeetingAccess
    can_edit: bool

    @property
    def meeting(self) -> Meeting:
        return self.meeting_access.meeting

    @property
    def is_secretary(self) -> bool:
        return self.meeting_access.is_secretary

    @property
    def is_chair(self) -> bool:
        return self.meeting_access.is_chair


async def access(session: AsyncSession, principal: Principal, meeting_id: int, *, for_update: bool = False) -> MinutesAccess:
    """Participants and organisers read; the secretary, the chair and the organising body's
    secretaries write. Anyone else: not found."""
    acc = await access_for(session, principal, meeting_id, for_update=for_update)
    meeting = acc.meeting
    can_edit = acc.is_secretary or acc.is_chair or meeting.organization_id in principal.orgs_with(Role.secretary)
    return MinutesAccess(meeting_access=acc, can_edit=can_edit)


async def find(session: AsyncSession, *, meeting_id: int) -> Minutes | None:
    return await session.scalar(select(Minutes).where(Minutes.meeting_id == meeting_id))


async def get(session: AsyncSession, *, minutes_id: int, for_update: bool = False) -> Minutes:
    query = select(Minutes).where(Minutes.id == minutes_id)
    if for_update:  # locked, and read afresh: the session may hold the row as it was earlier
        query = query.with_for_update().execution_options(populate_existing=True)
    minutes = await session.scalar(query)
    if minutes is None:
        raise _not_found()
    return minutes


async def get_for(
    session: AsyncSession, *, principal: Principal, minutes_id: int, for_update: bool = False
) -> tuple[Minutes, MinutesAccess]:
    minutes = await get(session, minutes_id=minutes_id, for_update=for_update)
    try:
        acc = await access(session, principal, minutes.meeting_id)
    except NotFound:
        raise _not_found() from None
    return minutes, acc


def _require_editor(acc: MinutesAccess) -> None:
    if not acc.can_edit:
        raise Forbidden(_l("Only the meeting's secretary or chair can write the minutes."))


async def editor_for(session: AsyncSession, *, principal: Principal, minutes_id: int) -> tuple[Minutes, MinutesAccess]:
    """The minutes for one who may write them: 404 when they may not see them, 403 when they may
    only read them. Routes call it before reading the form, so outsiders learn nothing from it."""
    minutes, acc = await get_for(session, principal=principal, minutes_id=minutes_id)
    _require_editor(acc)
    return minutes, acc


async def start(session: AsyncSession, *, principal: Principal, meeting_id: int) -> Minutes:
    """The meeting's minutes, created on first use by an editor (once the meeting is open)."""
    acc = await access(session, principal, meeting_id)
    existing = await find(session, meeting_id=meeting_id)
    if existing is not None:
        return existing
    _require_editor(acc)
    if acc.meeting.status not in (MeetingStatus.open, MeetingStatus.closed):
        raise InvalidInput(_l("Minutes are taken once the meeting is open."))
    minutes = Minutes(
        meeting_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        status=MinutesStatus.draft,
        revision=0,
        content=json.dumps(empty_content(), ensure_ascii=False),
        updated_at=utcnow(),
        updated_by=principal.user.id,
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(minutes)
            await session.flush()
    except Exception:  # a second device created it at the same moment
        again = await find(session, meeting_id=meeting_id)
        if again is None:
            raise
        return again
    await record(
        session,
        actor=principal.actor,
        action="minutes.create",
        object_type="minutes",
        object_id=minutes.id,
        organization_id=minutes.organization_id,
        details={"meeting_id": meeting_id},
    )
    return minutes


async def _items(session: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    return list(
        (
            await session.scalars(
                select(AgendaItem).where(AgendaItem.meeting_id == meeting_id).order_by(AgendaItem.position, AgendaItem.id)
            )
        ).all()
    )


# --- saving ---------------------------------------------------------------------------------


@dataclass
class SaveResult:
    saved: bool
    revision: int
    content: dict[str, Any]
    updated_by: str = ""
    updated_at: datetime | None = None
    conflict_id: int | None = None
    notice: Message | None = None

    @property
    def message(self) -> str:
        return translate(self.notice or "", "vi")

    @property
    def message_en(self) -> str:
        return translate(self.notice or "", "en")


async def _name(session: AsyncSession, user_id: int | None) -> str:
    user = await session.get(User, user_id) if user_id else None
    return user.full_name if user else ""


async def save(
    session: AsyncSession,
    *,
    principal: Principal,
    minutes_id: int,
    base_revision: int,
    content: Any,
) -> SaveResult:
    """Save the whole text if nobody saved since `base_revision`; otherwise keep the attempt as a
    conflict copy and return the current version (the caller answers 409 and commits)."""
    minutes, acc = await editor_for(session, principal=principal, minutes_id=minutes_id)
    if minutes.status not in EDITABLE:
        raise Conflict(_l("The minutes were submitted for signing and can no longer be edited."))
    item_ids = {i.id for i in await _items(session, minutes.meeting_id)}
    clean = normalise(content, item_ids=item_ids, speeches=await speeches(session, meeting_id=minutes.meeting_id))
    text = json.dumps(clean, ensure_ascii=False, sort_keys=True)
    now = utcnow()
    # Compare-and-set: only one save based on a given revision can win.
    new_revision = (
        await session.execute(
            update(Minutes)
            .where(Minutes.id == minutes.id, Minutes.revision == base_revision)
            .values(revision=Minutes.revision + 1, content=text, updated_at=now, updated_by=principal.user.id)
            .returning(Minutes.revision)
        )
    ).scalar_one_or_none()
    if new_revision is None:
        await session.refresh(minutes)
        copy = MinutesRevision(
            minutes_id=minutes.id,
            number=None,
            base_number=base_revision,
            kind="conflict",
            content=text,
            saved_by=principal.user.id,
            saved_at=now,
        )
        session.add(copy)
        await session.flush()
        await record(
            session,
            actor=principal.actor,
            action="minutes.save_conflict",
            object_type="minutes",
            object_id=minutes.id,
            organization_id=minutes.organization_id,
            details={"base_revision": base_revision, "current_revision": minutes.revision, "copy_id": copy.id},
        )
        who = await _name(session, minutes.updated_by)
        return SaveResult(
            saved=False,
            revision=minutes.revision,
            content=content_of(minutes),
            updated_by=who,
            updated_at=minutes.updated_at,
            conflict_id=copy.id,
            notice=_l(
                "Not saved: {who} saved revision {revision} after revision {base} you were editing. Your text is "
                "kept; compare both versions, merge and save.",
                who=who or _l("someone else"),
                revision=minutes.revision,
                base=base_revision,
            ),
        )
    session.add(
        MinutesRevision(
            minutes_id=minutes.id,
            number=new_revision,
            base_number=base_revision,
            kind="saved",
            content=text,
            saved_by=principal.user.id,
            saved_at=now,
        )
    )
    await record(
        session,
        actor=principal.actor,
        action="minutes.save",
        object_type="minutes",
        object_id=minutes.id,
        organization_id=minutes.organization_id,
        details={"revision": new_revision, "chars": len(text)},
    )
    await live.emit(
        session,
        minutes.meeting_id,
        "minutes",
        {
            "minutes_id": minutes.id,
            "revision": new_revision,
            "content": clean,
            "by": principal.me.full_name,
            "at": live.iso(now),
            "status": minutes.status.value,
        },
    )
    return SaveResult(saved=True, revision=new_revision, content=clean, updated_by=principal.me.full_name, updated_at=now)


async def revisions(session: AsyncSession, *, minutes_id: int) -> list[tuple[MinutesRevision, str]]:
    rows = (
        await session.execute(
            select(MinutesRevision, User.full_name)
            .outerjoin(User, User.id == MinutesRevision.saved_by)
            .where(MinutesRevision.minutes_id == minutes_id)
            .order_by(MinutesRevision.saved_at.desc(), MinutesRevision.id.desc())
        )
    ).all()
    return [(r, name or "") for r, name in rows]


async def revision(session: AsyncSession, *, minutes_id: int, revision_id: int) -> MinutesRevision:
    row = await session.get(MinutesRevision, revision_id)
    if row is None or row.minutes_id != minutes_id:
        raise NotFound(_l("revision not found"))
    return row


# --- tasks from conclusions -----------------------------------------------------------------


async def add_task(
    session: AsyncSession,
    *,
    principal: Principal,
    minutes_id: int,
    agenda_item_id: int,
    new: tasks.NewTask,
) -> Any:
    """A task from an item's conclusion (the caller starts its workflow after commit)."""
    minutes, acc = await editor_for(session, principal=principal, minutes_id=minutes_id)
    item = next((i for i in await _items(session, minutes.meeting_id) if i.id == agenda_item_id), None)
    if item is None:
        raise InvalidInput(_l("The agenda item is not part of this meeting."))
    spec = tasks.NewTask(
        title=new.title,
        due_date=new.due_date,
        owner_kind=new.owner_kind,
        owner_id=new.owner_id,
        description=new.description,
        source_type="minutes",
        source_id=minutes.id,
        source_item_id=agenda_item_id,
        source_label=f"{acc.meeting.title} — {item.title}",
        source_link=f"/meetings/{minutes.meeting_id}/minutes",
    )
    task = await tasks.create(
        session, actor=principal.actor, organization_id=minutes.organization_id, new=spec, created_by=principal.user.id, tree=principal.tree
    )
    cards = [{**c, "due_date": c["due_date"].isoformat()} for c in await task_cards(session, minutes_id=minutes.id)]
    await live.emit(session, minutes.meeting_id, "minutes.tasks", {"minutes_id": minutes.id, "tasks": cards})
    return task


async def task_cards(session: AsyncSession, *, minutes_id: int) -> list[dict[str, Any]]:
    rows = await tasks.views(session, await tasks.for_source(session, source_type="minutes", source_id=minutes_id))
    return [
        {
            "id": v.task.id,
            "item_id": v.task.source_item_id,
            "title": v.task.title,
            "owner": v.owner,
            "due_date": v.task.due_date,
            "status": v.status,
            "progress": v.task.progress,
        }
        for v in rows
    ]


# --- closing and signing --------------------------------------------------------------------


async def _due(session: AsyncSession, start: date, working_days: int) -> date:
    return await calendar.add_working_days_db(session, start, working_days)


async def close(session: AsyncSession, *, settings: Settings, principal: Principal, minutes_id: int, revision: int) -> Minutes:
    """Finish writing and submit for signatures (the caller then starts or signals `minutes-<id>`)."""
    minutes, acc = await get_for(session, principal=principal, minutes_id=minutes_id)
    _require_editor(acc)
    if acc.meeting.status != MeetingStatus.closed:
        raise InvalidInput(_l("Close the minutes after the chair has closed the meeting."))
    if minutes.status not in EDITABLE:
        raise Conflict(_l("The minutes were already submitted."))
    if minutes.revision != revision:
        raise Conflict(_l("The minutes changed meanwhile. Reload, check and submit again."))
    if not acc.meeting.secretary_id:
        raise InvalidInput(_l("The meeting has no secretary to sign."))
    minutes.status = MinutesStatus.rendering
    minutes.round += 1
    minutes.closed_revision = minutes.revision
    minutes.docx_sha = minutes.pdf_sha = minutes.secretary_pdf_sha = minutes.chair_pdf_sha = None
    minutes.secretary_signed_at = minutes.chair_signed_at = None
    minutes.verify_error = None
    minutes.secretary_due = await _due(session, calendar.vn_today(), settings.minutes_secretary_sign_working_days)
    minutes.chair_due = None
    for role in ("secretary", "chair"):  # a new round: every signature deadline notice is due again
        await deadlines.rearm(session, kind=f"minutes.{role}", object_id=minutes.id)
    await record(
        session,
        actor=principal.actor,
        action="minutes.close",
        object_type="minutes",
        object_id=minutes.id,
        organization_id=minutes.organization_id,
        details={"revision": minutes.revision, "round": minutes.round},
    )
    await _status_event(session, minutes)
    return minutes


async def _status_event(session: AsyncSession, minutes: Minutes) -> None:
    await live.emit(
        session,
        minutes.meeting_id,
        "minutes.status",
        {
            "minutes_id": minutes.id,
            "status": minutes.status.value,
            "notation": minutes.notation,
            "verify_error": minutes.verify_error,
        },
    )


async def render(session: AsyncSession, *, settings: Settings, minutes_id: int, round_: int, converter: Any) -> bool:
    """Produce the DOCX and the prepared PDF of a closing round (idempotent per round)."""
    from meetings.minutes import document

    minutes = await get(session, minutes_id=minutes_id, for_update=True)
    if minutes.round < round_:
        # The closing transaction is not visible yet: fail so the activity is retried.
        raise Conflict(_l("round {round_} of minutes {minutes_id} is not committed yet", round_=round_, minutes_id=minutes_id))
    if minutes.status != MinutesStatus.rendering or minutes.round != round_:
        return False
    facts = await meeting_facts(session, meeting_id=minutes.meeting_id)
    spec = document.build_spec(facts, content_of(minutes), tasks=await task_cards(session, minutes_id=minutes.id))
    from services.documents.layout import build_document_docx

    docx = build_document_docx(spec)
    pdf = await converter.to_pdf(docx)
    prepared = await asyncio.to_thread(document.prepare_pdf, pdf)
    blobs = BlobStore.for_settings(settings)
    minutes.docx_sha, minutes.pdf_sha = blobs.put(docx), blobs.put(prepared)
    minutes.status = MinutesStatus.awaiting_secretary
    await record(
        session,
        actor=Actor.system("minutes"),
        action="minutes.render",
        object_type="minutes",
        object_id=minutes.id,
        organization_id=minutes.organization_id,
        details={"round": round_, "docx_sha": minutes.docx_sha, "pdf_sha": minutes.pdf_sha},
    )
    await notify(
        session,
        user_ids=[facts.meeting.secretary_id] if facts.meeting.secretary_id else [],
        kind="minutes.to_sign",
        link=f"/meetings/{minutes.meeting_id}/minutes",
        dedupe_key=f"minutes-{minutes.id}-r{round_}-secretary",
        title=_l(
            "Minutes awaiting the secretary's signature (due {secretary_due:%d/%m/%Y}): {title}",
            secretary_due=minutes.secretary_due,
            title=facts.meeting.title[:150],
        ),
    )
    await _status_event(session, minutes)
    return True


def signer_id(meeting: Meeting, role: str) -> int | None:
    return meeting.secretary_id if role == "secretary" else meeting.chair_id


async def turn(
    session: AsyncSession, *, settings: Settings, principal: Principal, minutes_id: int, for_update: bool = False
) -> tuple[Minutes, MinutesAccess, str, bytes]:
    """Whose signature the minutes wait for, checked against the principal; returns the PDF to
    sign. `for_update` before recording a signature: the answer then holds until the commit."""
    minutes, acc = await get_for(session, principal=principal, minutes_id=minutes_id, for_update=for_update)
    me = principal.user.id
    if minutes.status == MinutesStatus.awaiting_secretary:
        if me != acc.meeting.secretary_id:
            if me == acc.meeting.chair_id:
                raise Conflict(_l("The secretary has not signed yet: the chair signs after the secretary."))
            raise Forbidden(_l("You do not sign these minutes."))
        if minutes.secretary_pdf_sha:
            raise Conflict(_l("The secretary's signature is being checked."))
        return minutes, acc, "secretary", BlobStore.for_settings(settings).get(minutes.pdf_sha or "")
    if minutes.status == MinutesStatus.awaiting_chair:
        if me != acc.meeting.chair_id:
            raise Forbidden(_l("The minutes wait for the chair's signature."))
        if minutes.chair_pdf_sha:
            raise Conflict(_l("The chair's signature is being checked."))
        return minutes, acc, "chair", BlobStore.for_settings(settings).get(minutes.secretary_pdf_sha or "")
    raise Conflict(_l("The minutes are not waiting for a signature."))


async def record_signature(
    session: AsyncSession,
    *,
    principal: Principal,
    minutes: Minutes,
    role: str,
    signed_sha: str,
) -> Minutes:
    """The route signed and stored the file: remember its hash until the workflow validated it."""
    if role == "secretary":
        minutes.secretary_pdf_sha, minutes.secretary_signed_at = signed_sha, utcnow()
    else:
        minutes.chair_pdf_sha, minutes.chair_signed_at = signed_sha, utcnow()
    minutes.verify_error = None
    await record(
        session,
        actor=principal.actor,
        action="minutes.sign",
        object_type="minutes",
        object_id=minutes.id,
        organization_id=minutes.organization_id,
        details={"role": role, "sha256": signed_sha, "round": minutes.round},
    )
    await _status_event(session, minutes)
    return minutes


async def refuse(session: AsyncSession, *, principal: Principal, minutes_id: int, comment: str) -> Minutes:
    """A signer sends the minutes back to the secretary with a comment."""
    # Locked: a signature being recorded meanwhile is either before the return (and cleared by
    # it) or refused after it, never kept on returned minutes.
    minutes, acc = await get_for(session, principal=principal, minutes_id=minutes_id, for_update=True)
    me = principal.user.id
    allowed = (minutes.status == MinutesStatus.awaiting_chair and me == acc.meeting.chair_id) or (
        minutes.status == MinutesStatus.awaiting_secretary and me in (acc.meeting.secretary_id, acc.meeting.chair_id)
    )
    if not allowed:
        raise Forbidden(_l("You cannot return the minutes at this step."))
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput(_l("Say why, so the secretary can revise."))
    minutes.status, minutes.return_comment, minutes.returned_by = MinutesStatus.returned, comment[:5000], me
    minutes.secretary_pdf_sha = minutes.chair_pdf_sha = None
    await record(
        session,
        actor=principal.actor,
        action="minutes.return",
        object_type="minutes",
        object_id=minutes.id,
        organization_id=minutes.organization_id,
        details={"comment": comment[:500], "round": minutes.round},
    )
    if acc.meeting.secretary_id and acc.meeting.secretary_id != me:
        await notify(
            session,
            user_ids=[acc.meeting.secretary_id],
            kind="minutes.returned",
            link=f"/meetings/{minutes.meeting_id}/minutes",
            dedupe_key=f"minutes-{minutes.id}-r{minutes.round}-returned",
            title=_l("Minutes returned: {title}", title=acc.meeting.title[:150]),
            body=comment[:500],
        )
    await _status_event(session, minutes)
    return minutes


async def signature_to_check(
    session: AsyncSession,
    *,
    settings: Settings,
    minutes_id: int,
    role: str,
    signed_sha: str,
) -> tuple[bytes, str, set[str]] | bool:
    """The signed file, the expected signer's name and the fingerprints of the certificates
    registered for them, or True/False when there is nothing to check (already accepted by a
    retried activity / superseded)."""
    minutes = await get(session, minutes_id=minutes_id)
    current = minutes.secretary_pdf_sha if role == "secretary" else minutes.chair_pdf_sha
    expected_status = MinutesStatus.awaiting_secretary if role == "secretary" else MinutesStatus.awaiting_chair
    if minutes.status != expected_status:
        return minutes.status not in (MinutesStatus.returned, MinutesStatus.draft) and current == signed_sha
    if current != signed_sha:
        return False
    meeting = await session.get(Meeting, minutes.meeting_id)
    assert meeting is not None
    signer = await session.get(User, signer_id(meeting, role))
    assert signer is not None
    from signing.service import expected_fingerprints

    accepted = await expected_fingerprints(session, settings=settings, user=signer)
    return BlobStore.for_settings(settings).get(signed_sha), signer.full_name, accepted


async def check_signature(settings: Settings, *, pdf: bytes, role: str, signer_name: str, accepted: set[str]) -> str | None:
    """Intact, trusted, every signature valid, the newest one made with a certificate registered
    for the expected signer (`accepted` fingerprints); the error in Vietnamese, or None. Runs
    outside any transaction (it fetches revocation data)."""
    from signing.validation import assert_signed_by

    try:
        report = await validate_pdf(settings, pdf)
        wanted = 1 if role == "secretary" else 2
        if len(report.signatures) != wanted or not report.all_valid:
            return f"Tệp có {len(report.signatures)} chữ ký, cần {wanted} chữ ký hợp lệ. {report.summary_vi}"
        assert_signed_by(report, accepted, expected=signer_name)
        if report.signatures[-1].signer.fingerprint not in accepted:
            return f"Chữ ký mới nhất không được ký bằng chứng thư số đã đăng ký của {signer_name}."
    except Exception as exc:  # noqa: BLE001 - any failure is a rejected signature, explained to the signer
        return getattr(exc, "message", None) or str(exc)
    return None


async def apply_signature_check(
    session: AsyncSession,
    *,
    settings: Settings,
    minutes_id: int,
    role: str,
    signed_sha: str,
    error: str | None,
) -> bool:
    """Move on after a valid signature, or drop a bad file and tell the signer. Idempotent."""
    minutes = await get(session, minutes_id=minutes_id, for_update=True)
    current = minutes.secretary_pdf_sha if role == "secretary" else minutes.chair_pdf_sha
    expected_status = MinutesStatus.awaiting_secretary if role == "secretary" else MinutesStatus.awaiting_chair
    if minutes.status != expected_status or current != signed_sha:
        return minutes.status not in (MinutesStatus.returned, MinutesStatus.draft) and current == signed_sha
    meeting = await session.get(Meeting, minutes.meeting_id)
    assert meeting is not None
    signer = await session.get(User, signer_id(meeting, role))
    assert signer is not None
    if error:
        if role == "secretary":
            minutes.secretary_pdf_sha = minutes.secretary_signed_at = None
        else:
            minutes.chair_pdf_sha = minutes.chair_signed_at = None
        minutes.verify_error = error[:2000]
        await record(
            session,
            actor=Actor.system("signature-check"),
            action="minutes.signature_rejected",
            object_type="minutes",
            object_id=minutes.id,
            organization_id=minutes.organization_id,
            details={"role": role, "sha256": signed_sha, "error": error[:500]},
        )
        await notify(
            session,
            user_ids=[signer.id],
            kind="minutes.signature_rejected",
            link=f"/meetings/{minutes.meeting_id}/minutes",
            dedupe_key=f"minutes-{minutes.id}-bad-{signed_sha[:16]}",
            title=_l("A signature on the minutes is not valid: {title}", title=meeting.title[:150]),
            body=error[:500],
        )
        await _status_event(session, minutes)
        return False
    await record(
        session,
        actor=Actor.system("signature-check"),
        action="minutes.signature_valid",
        object_type="minutes",
        object_id=minutes.id,
        organization_id=minutes.organization_id,
        details={"role": role, "sha256": signed_sha, "signer": signer.full_name},
    )
    if role == "chair":
        minutes.status = MinutesStatus.signed  # both signatures valid; the number comes next
    else:
        minutes.status = MinutesStatus.awaiting_chair
        minutes.chair_due = await _due(session, calendar.vn_today(), settings.minutes_chair_sign_working_days)
        await notify(
            session,
            user_ids=[meeting.chair_id],
            kind="minutes.to_sign",
            link=f"/meetings/{minutes.meeting_id}/minutes",
            dedupe_key=f"minutes-{minutes.id}-r{minutes.round}-chair",
            title=_l(
                "Minutes awaiting the chair's signature (due {chair_due:%d/%m/%Y}): {title}",
                chair_due=minutes.chair_due,
                title=meeting.title[:150],
            ),
        )
    await _status_event(session, minutes)
    return True


async def validate_pdf(settings: Settings, pdf: bytes) -> Any:
    """The validation report of a signed minutes PDF."""
    from signing import service as signing

    return await signing.validate(settings=settings, pdf=pdf)


async def number_and_date(session: AsyncSession, *, settings: Settings, minutes_id: int) -> str:
    """Take the BB number and fill number and date into the signed PDF (form filling allowed by
    the secretary's certification). Idempotent: a numbered minutes keeps its number."""
    from signing.forms import fill_text_fields

    minutes = await get(session, minutes_id=minutes_id, for_update=True)
    if minutes.number is not None and minutes.final_pdf_sha:
        return minutes.notation or ""
    if minutes.status != MinutesStatus.signed or not minutes.chair_pdf_sha:
        raise Conflict(_l("The minutes are not signed by both signers yet."))
    org = await session.get(Organization, minutes.organization_id)
    assert org is not None
    today = calendar.vn_today()
    number = await next_number(session, organization_id=org.id, kind="outgoing", series="BB", year=today.year)
    notation = f"{format_number(number)}/BB-{org.abbreviation}"
    blobs = BlobStore.for_settings(settings)
    filled = await asyncio.to_thread(
        fill_text_fields,
        blobs.get(minutes.chair_pdf_sha),
        {
            "number": notation,
            "date": vn_date_line(org.place or "Bến Tre", today),
        },
    )
    minutes.final_pdf_sha = blobs.put(filled)
    minutes.number, minutes.notation, minutes.issued_on = number, notation, today
    minutes.status = MinutesStatus.signed
    await record(
        session,
        actor=Actor.system("minutes"),
        action="minutes.number",
        object_type="minutes",
        object_id=minutes.id,
        organization_id=minutes.organization_id,
        details={"number": number, "notation": notation, "final_sha": minutes.final_pdf_sha},
    )
    await _status_event(session, minutes)
    # Signed by both and numbered: what a subscriber can fetch now is final.
    await webhooks.emit(
        session,
        event_type="minutes.signed",
        organization_id=minutes.organization_id,
        kind="minutes",
        object_id=minutes.id,
        path=f"/meetings/{minutes.meeting_id}/minutes",
        data={"meeting_id": minutes.meeting_id, "notation": notation},
    )
    return notation


async def store_validation(session: AsyncSession, *, minutes_id: int, report: dict[str, Any]) -> None:
    minutes = await get(session, minutes_id=minutes_id)
    minutes.validation = json.dumps(report, ensure_ascii=False, default=str)


async def recipient_orgs(session: AsyncSession, *, meeting: Meeting) -> list[int]:
    """Organisations receiving the signed minutes: every participant's and invited unit's body
    other than the organiser (whose people read them on the meeting page)."""
    orgs = set((await session.scalars(select(MeetingUnit.organization_id).where(MeetingUnit.meeting_id == meeting.id))).all())
    orgs |= set(
        (
            await session.scalars(
                select(User.organization_id)
                .join(MeetingParticipant, MeetingParticipant.user_id == User.id)
                .where(MeetingParticipant.meeting_id == meeting.id)
            )
        ).all()
    )
    orgs.discard(meeting.organization_id)
    return sorted(orgs)


async def distribute(session: AsyncSession, *, settings: Settings, minutes_id: int) -> list[int]:
    """Send the signed minutes to every recipient organisation as an incoming document and tell
    every participant (idempotent: the incoming side keys copies by `minutes-<id>`)."""
    from services.incoming import service as incoming

    minutes = await get(session, minutes_id=minutes_id, for_update=True)
    if minutes.status not in (MinutesStatus.signed, MinutesStatus.distributed) or not minutes.final_pdf_sha:
        raise Conflict(_l("The minutes are not signed and numbered yet."))
    meeting = await session.get(Meeting, minutes.meeting_id)
    assert meeting is not None and minutes.issued_on is not None and minutes.notation
    chair = await session.get(User, meeting.chair_id)
    created = []
    filename = minutes.notation.replace("/", "_") + ".pdf"
    for org_id in await recipient_orgs(session, meeting=meeting):
        doc = await incoming.receive_from_system(
            session,
            actor=Actor.system("minutes-dispatch"),
            recipient_org_id=org_id,
            sender_org_id=minutes.organization_id,
            outgoing_ref=f"minutes-{minutes.id}",
            number_notation=minutes.notation,
            document_date=minutes.issued_on,
            doc_type="BB",
            subject=f"Biên bản {meeting.title}",
            files=[(filename, "application/pdf", minutes.final_pdf_sha)],
            signer_name=chair.full_name if chair else None,
        )
        created.append(doc.id)
    participants = set((await session.scalars(select(MeetingParticipant.user_id).where(MeetingParticipant.meeting_id == meeting.id))).all())
    await notify(
        session,
        user_ids=participants,
        kind="minutes.distributed",
        link=f"/meetings/{meeting.id}/minutes",
        dedupe_key=f"minutes-{minutes.id}-distributed",
        title=_l("Minutes no. {notation}: {title}", notation=minutes.notation, title=meeting.title[:150]),
        body=_l("The minutes were signed and sent to the participants and attending units."),
    )
    if minutes.status != MinutesStatus.distributed:
        minutes.status, minutes.distributed_at = MinutesStatus.distributed, utcnow()
        await record(
            session,
            actor=Actor.system("minutes-dispatch"),
            action="minutes.distribute",
            object_type="minutes",
            object_id=minutes.id,
            organization_id=minutes.organization_id,
            details={"incoming_ids": created, "notation": minutes.notation},
        )
        await _status_event(session, minutes)
    return created


# --- deadlines of the signatures ------------------------------------------------------------


@dataclass
class SigningState:
    status: str
    round: int
    role: str | None  # whose signature is awaited
    due: date | None
    reminder_at: datetime | None
    overdue_at: datetime | None
    pending_sha: str | None


async def signing_state(session: AsyncSession, *, minutes_id: int) -> SigningState:
    minutes = await get(session, minutes_id=minutes_id)
    role = {MinutesStatus.awaiting_secretary: "secretary", MinutesStatus.awaiting_chair: "chair"}.get(minutes.status)
    due = minutes.secretary_due if role == "secretary" else minutes.chair_due if role == "chair" else None
    reminder_at = overdue_at = None
    if due is not None:
        reminder_at = calendar.vn_instant(due, 8)  # the morning of the due day
        overdue_at = calendar.vn_instant(due + timedelta(days=1), 8)
    pending = minutes.secretary_pdf_sha if role == "secretary" else minutes.chair_pdf_sha if role == "chair" else None
    return SigningState(
        status=minutes.status.value,
        round=minutes.round,
        role=role,
        due=due,
        reminder_at=reminder_at,
        overdue_at=overdue_at,
        pending_sha=pending,
    )


async def signing_notice(session: AsyncSession, *, minutes_id: int, role: str, kind: str, round_: int) -> bool:
    """Reminder on the due day / overdue notice to the awaited signer (and the organiser's
    leaders when overdue). Idempotent through the notification keys."""
    minutes = await get(session, minutes_id=minutes_id)
    state = await signing_state(session, minutes_id=minutes_id)
    if state.role != role or minutes.round != round_ or state.due is None:
        return False
    meeting = await session.get(Meeting, minutes.meeting_id)
    assert meeting is not None
    who = signer_id(meeting, role)
    label = _l("secretary") if role == "secretary" else _l("chair")
    key = f"minutes-{minutes.id}-r{round_}-{role}-{kind}"
    link = f"/meetings/{minutes.meeting_id}/minutes"
    if kind == "reminder":
        sent = await notify(
            session,
            user_ids=[who] if who else [],
            kind="minutes.reminder",
            link=link,
            dedupe_key=key,
            title=_l("The minutes are due for signature today ({label}): {title}", label=label, title=meeting.title[:150]),
        )
        action = "minutes.remind"
    else:
        targets = {who} if who else set()
        if role == "secretary":
            targets.add(meeting.chair_id)
        sent = await notify(
            session,
            user_ids=targets,
            kind="minutes.overdue",
            link=link,
            dedupe_key=key,
            title=_l(
                "Minutes overdue for signature ({label}, due {due:%d/%m/%Y}): {title}",
                label=label,
                due=state.due,
                title=meeting.title[:150],
            ),
        )
        action = "minutes.overdue"
    if not sent:
        return False
    await record(
        session,
        actor=Actor.system("deadline"),
        action=action,
        object_type="minutes",
        object_id=minutes.id,
        organization_id=minutes.organization_id,
        details={"role": role, "round": round_, "kind": kind},
    )
    return True


# --- lists ----------------------------------------------------------------------------------


async def waiting_signature(session: AsyncSession, *, user_id: int) -> list[tuple[Minutes, Meeting]]:
    rows = (
        await session.execute(
            select(Minutes, Meeting)
            .join(Meeting, Meeting.id == Minutes.meeting_id)
            .where(
                (
                    (Minutes.status == MinutesStatus.awaiting_secretary)
                    & (Meeting.secretary_id == user_id)
                    & Minutes.secretary_pdf_sha.is_(None)
                )
                | ((Minutes.status == MinutesStatus.awaiting_chair) & (Meeting.chair_id == user_id) & Minutes.chair_pdf_sha.is_(None))
                | ((Minutes.status == MinutesStatus.returned) & (Meeting.secretary_id == user_id))
            )
            .order_by(Minutes.id)
        )
    ).all()
    return [(m, mt) for m, mt in rows]


async def to_write(session: AsyncSession, *, user_id: int) -> list[Meeting]:
    """Closed meetings whose secretary has not submitted the minutes yet."""
    rows = (
        await session.execute(
            select(Meeting, Minutes.status)
            .outerjoin(Minutes, Minutes.meeting_id == Meeting.id)
            .where(Meeting.secretary_id == user_id, Meeting.status == MeetingStatus.closed)
            .order_by(Meeting.closed_at.desc())
        )
    ).all()
    return [m for m, status in rows if status is None or status == MinutesStatus.draft]


async def for_meetings(session: AsyncSession, *, meeting_ids: list[int]) -> dict[int, Minutes]:
    if not meeting_ids:
        return {}
    rows = (await session.scalars(select(Minutes).where(Minutes.meeting_id.in_(meeting_ids)))).all()
    return {m.meeting_id: m for m in rows}
