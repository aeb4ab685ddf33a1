"""Minutes (biên bản) pages: the live editor (secretary) and read-only live view (participants),
revision history, closing for signatures, signing with a PIN, returning, files, tasks.

Access: every route is for signed-in users; `meetings.minutes.service` decides per meeting
(participants and organisers read; the secretary, the chair and the organising body's
secretaries write; only the awaited signer signs). Signing happens here, where the signer typed
the PIN: the signed file goes to the blob store and the workflow `minutes-<id>` gets its hash.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from meetings.minutes import document as minutes_document
from meetings.minutes import service as minutes_service
from meetings.minutes.models import EDITABLE, MinutesStatus
from meetings.models import MeetingParticipant, MeetingStatus, MeetingUnit
from meetings.service import facts as meeting_facts
from services import calendar
from services.blobs import BlobStore
from services.directory.models import Organization, User
from services.errors import DomainError, InvalidInput, NotFound
from services.i18n import _l
from services.outbox.service import tell
from services.tasks import service as tasks
from web import i18n, minutes_signing, page_images, pin_form
from web.deps import SessionDep, SignedIn
from web.routes.tasks import parse_owner_and_due, unit_and_body_choices
from web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(tags=["minutes"])


async def _owner_choices(session: Any, meeting_id: int, organization_id: int, principal: Any) -> list[tuple[str, str]]:
    """People of the meeting, units of the organising body, and the invited (lower-level) bodies."""
    choices: list[tuple[str, str]] = []
    people = (
        await session.execute(
            select(User.id, User.full_name, Organization.name)
            .join(MeetingParticipant, MeetingParticipant.user_id == User.id)
            .join(Organization, Organization.id == User.organization_id)
            .where(MeetingParticipant.meeting_id == meeting_id)
            .order_by(User.full_name)
        )
    ).all()
    choices += [(f"user:{uid}", f"{name} — {org}") for uid, name, org in people]
    invited = set((await session.scalars(select(MeetingUnit.organization_id).where(MeetingUnit.meeting_id == meeting_id))).all())
    below = principal.tree.subtree(organization_id) - {organization_id}
    return choices + await unit_and_body_choices(session, organization_id, invited | below)


@router.get("/meetings/{meeting_id}/minutes")
async def minutes_page(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    return await _page(request, principal, session, meeting_id)


def _shown_sha(minutes: Any, turn: str | None) -> str | None:
    """The PDF the page shows: the exact file the signer whose turn it is will sign, else the latest."""
    if turn == "secretary":
        return minutes.pdf_sha
    if turn == "chair":
        return minutes.secretary_pdf_sha
    return minutes.final_pdf_sha or minutes.chair_pdf_sha or minutes.secretary_pdf_sha or minutes.pdf_sha


async def _page(request: Request, principal: Any, session: Any, meeting_id: int, pin_error: pin_form.PinError | None = None) -> Response:
    acc = await minutes_service.access(session, principal, meeting_id)
    minutes = await minutes_service.find(session, meeting_id=meeting_id)
    facts = await meeting_facts(session, meeting_id=meeting_id)
    # The page shows the very lines the PDF prints (attendance, votes, the end of the meeting).
    ctx: dict[str, Any] = {
        "acc": acc,
        "meeting": acc.meeting,
        "minutes": minutes,
        "facts": facts,
        "attendance_lines": minutes_document.attendance_lines(facts),
        "poll_line": minutes_document.poll_line,
        "end_line": minutes_document.closing_lines(facts, {})[-1],
        "statuses": MinutesStatus,
        "meeting_closed": acc.meeting.status == MeetingStatus.closed,
        "can_start": acc.can_edit and acc.meeting.status in (MeetingStatus.open, MeetingStatus.closed),
    }
    if minutes is not None:
        content = minutes_service.content_of(minutes)
        speeches = await minutes_service.speeches(session, meeting_id=meeting_id)
        task_cards = await minutes_service.task_cards(session, minutes_id=minutes.id)
        ctx.update(
            {
                "content": content,
                "speeches": speeches,
                "tasks": task_cards,
                "editable": acc.can_edit and minutes.status in EDITABLE,
                "polls_by_item": {p.agenda_item_id: [] for p in facts.polls},
                "my_turn": _my_turn(minutes, acc, principal.user.id),
                "owner_choices": await _owner_choices(session, meeting_id, minutes.organization_id, principal) if acc.can_edit else [],
                "default_due": (
                    await calendar.add_working_days_db(
                        session, calendar.vn_today(), request.app.state.settings.task_default_due_working_days
                    )
                ).isoformat(),
                "updated_by": await _name(session, minutes.updated_by),
                "boot": json.dumps(
                    {
                        "minutes_id": minutes.id,
                        "meeting_id": meeting_id,
                        "revision": minutes.revision,
                        "content": content,
                        "status": minutes.status.value,
                        "editable": acc.can_edit and minutes.status in EDITABLE,
                        "items": [{"id": i.id, "title": i.title} for i in facts.items],
                        "speeches": list(speeches.values()),
                    },
                    ensure_ascii=False,
                ),
            }
        )
        for poll in facts.polls:
            ctx["polls_by_item"].setdefault(poll.agenda_item_id, []).append(poll)
        shown = _shown_sha(minutes, ctx["my_turn"])
        ctx.update({"shown_sha": shown, "preview_pages": await page_images.count(request, shown), "pin_error": pin_error})
    return render(request, "minutes/page.html", ctx, status_code=pin_error.status_code if pin_error else 200)


async def _name(session: Any, user_id: int | None) -> str:
    user = await session.get(User, user_id) if user_id else None
    return user.full_name if user else ""


def _my_turn(minutes: Any, acc: Any, user_id: int) -> str | None:
    if minutes.status == MinutesStatus.awaiting_secretary and user_id == acc.meeting.secretary_id and not minutes.secretary_pdf_sha:
        return "secretary"
    if minutes.status == MinutesStatus.awaiting_chair and user_id == acc.meeting.chair_id and not minutes.chair_pdf_sha:
        return "chair"
    return None


@router.post("/meetings/{meeting_id}/minutes/start")
async def start(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    await minutes_service.start(session, principal=principal, meeting_id=meeting_id)
    return RedirectResponse(f"/meetings/{meeting_id}/minutes", status_code=303)


@router.post("/minutes/{minutes_id}/save")
async def save(request: Request, principal: SignedIn, session: SessionDep, minutes_id: int) -> Response:
    """Autosave (JSON `{base_revision, content}`): 200 with the new revision, or 409 with both versions."""
    await minutes_service.editor_for(session, principal=principal, minutes_id=minutes_id)  # 404/403 before the body is read
    try:
        body = await request.json()
        base = int(body["base_revision"])
        content = body["content"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(_l("Invalid minutes data.")) from None
    result = await minutes_service.save(session, principal=principal, minutes_id=minutes_id, base_revision=base, content=content)
    payload = {
        "saved": result.saved,
        "revision": result.revision,
        "content": result.content,
        "by": result.updated_by,
        "at": i18n.fmt_datetime(result.updated_at),
    }
    if result.saved:
        return JSONResponse(payload)
    # The conflict copy is committed with the request's transaction (a 409 is not an error here).
    payload.update({"message": i18n.text(result.notice or ""), "yours": content, "conflict_id": result.conflict_id})
    return JSONResponse(payload, status_code=409)


@router.get("/minutes/{minutes_id}/state.json")
async def state(request: Request, principal: SignedIn, session: SessionDep, minutes_id: int) -> Response:
    minutes, _acc = await minutes_service.get_for(session, principal=principal, minutes_id=minutes_id)
    return JSONResponse(
        {
            "revision": minutes.revision,
            "content": minutes_service.content_of(minutes),
            "status": minutes.status.value,
            "by": await _name(session, minutes.updated_by),
        }
    )


@router.get("/minutes/{minutes_id}/revisions")
async def revisions(request: Request, principal: SignedIn, session: SessionDep, minutes_id: int) -> Response:
    minutes, acc = await minutes_service.get_for(session, principal=principal, minutes_id=minutes_id)
    rows = await minutes_service.revisions(session, minutes_id=minutes_id)
    return render(request, "minutes/revisions.html", {"minutes": minutes, "meeting": acc.meeting, "rows": rows})


@router.get("/minutes/{minutes_id}/revisions/{revision_id}")
async def revision(request: Request, principal: SignedIn, session: SessionDep, minutes_id: int, revision_id: int) -> Response:
    minutes, acc = await minutes_service.get_for(session, principal=principal, minutes_id=minutes_id)
    row = await minutes_service.revision(session, minutes_id=minutes_id, revision_id=revision_id)
    facts = await meeting_facts(session, meeting_id=minutes.meeting_id)
    return render(
        request,
        "minutes/revision.html",
        {
            "minutes": minutes,
            "meeting": acc.meeting,
            "row": row,
            "content": json.loads(row.content),
            "facts": facts,
            "by": await _name(session, row.saved_by),
        },
    )


@router.post("/minutes/{minutes_id}/close")
async def close(request: Request, principal: SignedIn, session: SessionDep, minutes_id: int, revision: Annotated[int, Form()]) -> Response:
    minutes = await minutes_service.close(
        session, settings=request.app.state.settings, principal=principal, minutes_id=minutes_id, revision=revision
    )
    await tell(session, "minutes", minutes.id, "closed", minutes.round)
    return RedirectResponse(f"/meetings/{minutes.meeting_id}/minutes?ok=1", status_code=303)


@router.post("/minutes/{minutes_id}/sign")
async def sign(request: Request, principal: SignedIn, session: SessionDep, minutes_id: int, pin: Annotated[str, Form()] = "") -> Response:
    """The awaited signer signs with their PIN (web.minutes_signing); a refused PIN answers the page again."""
    settings = request.app.state.settings
    turn = await minutes_signing.prepare(session, settings, principal, minutes_id)
    try:
        key = await minutes_signing.open_key(session, settings, principal, minutes_id, pin)
    except DomainError as exc:
        if not pin_form.browser_form(request):
            raise
        error = await pin_form.refused(session, exc, form="sign")
        return error.apply(await _page(request, principal, session, turn.minutes.meeting_id, pin_error=error))
    minutes = await minutes_signing.finish(session, settings, principal, turn, key)
    return RedirectResponse(f"/meetings/{minutes.meeting_id}/minutes?ok=1", status_code=303)


@router.get("/minutes/{minutes_id}/pdf/{sha}/pages/{page}.png")
async def page_image(request: Request, principal: SignedIn, session: SessionDep, minutes_id: int, sha: str, page: int) -> Response:
    """One page of one version of the minutes' PDF (the file to sign, or a signed one) as an image."""
    minutes, _acc = await minutes_service.get_for(session, principal=principal, minutes_id=minutes_id)
    if sha not in {minutes.pdf_sha, minutes.secretary_pdf_sha, minutes.chair_pdf_sha, minutes.final_pdf_sha} - {None}:
        raise NotFound(_l("no such version of the minutes"))
    return await page_images.png(request, sha, page)


@router.post("/minutes/{minutes_id}/return")
async def refuse(
    request: Request, principal: SignedIn, session: SessionDep, minutes_id: int, comment: Annotated[str, Form()] = ""
) -> Response:
    minutes = await minutes_service.refuse(session, principal=principal, minutes_id=minutes_id, comment=comment)
    await tell(session, "minutes", minutes_id, "returned")
    return RedirectResponse(f"/meetings/{minutes.meeting_id}/minutes?ok=1", status_code=303)


@router.get("/minutes/{minutes_id}/file/{kind}")
async def file(request: Request, principal: SignedIn, session: SessionDep, minutes_id: int, kind: str) -> Response:
    minutes, _acc = await minutes_service.get_for(session, principal=principal, minutes_id=minutes_id)
    sha = {
        "docx": minutes.docx_sha,
        "pdf": minutes.pdf_sha,
        "signed": minutes.final_pdf_sha or minutes.chair_pdf_sha or minutes.secretary_pdf_sha,
    }.get(kind)
    if not sha:
        raise NotFound(_l("file not available yet"))
    data = BlobStore.for_settings(request.app.state.settings).get(sha)
    name = (minutes.notation or f"bien-ban-{minutes.id}").replace("/", "_")
    if kind == "docx":
        media, name = "application/vnd.openxmlformats-officedocument.wordprocessingml.document", name + ".docx"
    else:
        media, name = "application/pdf", name + ".pdf"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/minutes/{minutes_id}/tasks")
async def add_task(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    minutes_id: int,
    item_id: Annotated[int, Form()],
    title: Annotated[str, Form()],
    owner: Annotated[str, Form()],
    due_date: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
) -> Response:
    await minutes_service.editor_for(session, principal=principal, minutes_id=minutes_id)  # 404/403 before the form is read
    owner_kind, owner_id, due = parse_owner_and_due(owner, due_date)
    task = await minutes_service.add_task(
        session,
        principal=principal,
        minutes_id=minutes_id,
        agenda_item_id=item_id,
        new=tasks.NewTask(title=title, due_date=due, owner_kind=owner_kind, owner_id=owner_id, description=description),
    )
    await tell(session, "task", task.id)
    minutes = await minutes_service.get(session, minutes_id=minutes_id)
    return RedirectResponse(f"/meetings/{minutes.meeting_id}/minutes?ok=1#item-{item_id}", status_code=303)
