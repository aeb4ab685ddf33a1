"""The invitation (giấy mời, type GM): its content, and the outgoing draft that carries it.

`request_invitation` lays the GM out per Decree 30 (number and date left as fields for the
clerk), keeps the DOCX with the meeting's documents, and creates the outgoing draft through
`services.outgoing` (idempotent by `source_ref = meeting-<id>-invitation`). The draft then follows
the outgoing flow — review, the leader's signature, numbering and sealing, issuing — and the
invited units receive it as an incoming document, then answer with their attendees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import video
from meetings.models import AgendaItem, Meeting, MeetingDocument, MeetingMode, MeetingParticipant, MeetingUnit, ParticipantRole
from services.audit.service import Actor, record
from services.blobs import BlobStore
from services.calendar import VN_TZ
from services.config import Settings
from services.directory.models import Organization, User
from services.documents.layout import BodyBlock, DocumentSpec, SigningBlock, build_document_docx
from services.documents.notation import notation_suffix
from services.uploads import DOCX, CheckedUpload


def to_vn(value: datetime) -> datetime:
    return value.astimezone(VN_TZ)


MODE_TEXT = {
    MeetingMode.in_person: "Họp trực tiếp",
    MeetingMode.online: "Họp trực tuyến",
    MeetingMode.hybrid: "Họp trực tiếp kết hợp trực tuyến",
}


WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")


def vn_time_line(starts_at: datetime, ends_at: datetime) -> str:
    """``08 giờ 00, thứ Hai, ngày 05 tháng 01 năm 2026 (dự kiến kết thúc 11 giờ 30)``."""
    start, end = to_vn(starts_at), to_vn(ends_at)
    month = f"{start.month:02d}" if start.month < 3 else str(start.month)
    line = f"{start:%H} giờ {start:%M}, {WEEKDAYS[start.weekday()]}, ngày {start:%d} tháng {month} năm {start.year}"
    return line + f" (dự kiến kết thúc {end:%H} giờ {end:%M})"


def source_ref(meeting_id: int) -> str:
    return f"meeting-{meeting_id}-invitation"


@dataclass(frozen=True)
class InvitationResult:
    docx_sha: str
    document_id: int
    outgoing_id: int | None


async def _names(session: AsyncSession, meeting: Meeting) -> tuple[Organization, User, list[str], list[Organization]]:
    org = await session.get(Organization, meeting.organization_id)
    chair = await session.get(User, meeting.chair_id)
    assert org is not None and chair is not None
    people = (
        await session.execute(
            select(User.full_name, User.position, Organization.name)
            .join(MeetingParticipant, MeetingParticipant.user_id == User.id)
            .join(Organization, Organization.id == User.organization_id)
            .where(
                MeetingParticipant.meeting_id == meeting.id,
                MeetingParticipant.unit_id.is_(None),
                MeetingParticipant.role != ParticipantRole.chair,
            )
            .order_by(User.full_name)
        )
    ).all()
    units = list(
        (
            await session.scalars(
                select(Organization)
                .join(MeetingUnit, MeetingUnit.organization_id == Organization.id)
                .where(MeetingUnit.meeting_id == meeting.id)
                .order_by(Organization.name)
            )
        ).all()
    )
    lines = [f"Đồng chí {name}{' — ' + position if position else ''}, {org_name}" for name, position, org_name in people]
    return org, chair, lines, units


async def build_spec(session: AsyncSession, *, settings: Settings, meeting: Meeting) -> DocumentSpec:
    """The GM's content from the meeting as it stands."""
    org, chair, people, units = await _names(session, meeting)
    items = (await session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id).order_by(AgendaItem.position))).all()
    body: list[str | BodyBlock] = [f"{org.name} trân trọng kính mời:"]
    body += [f"- {line};" for line in people]
    body += [f"- Đại diện lãnh đạo {u.name} (đơn vị cử người dự và báo danh sách trên hệ thống Liên Thông);" for u in units]
    body.append(f"Đến dự: {meeting.title}.")
    if meeting.description:
        body.append(meeting.description)
    body.append(f"Chủ trì: Đồng chí {chair.full_name}{' — ' + chair.position if chair.position else ''}.")
    body.append(f"Thời gian: {vn_time_line(meeting.starts_at, meeting.ends_at)}.")
    body.append(f"Hình thức: {MODE_TEXT[meeting.mode]}.")
    if meeting.mode != MeetingMode.online and meeting.place:
        body.append(f"Địa điểm: {meeting.place}.")
    if meeting.mode != MeetingMode.in_person:
        link = video.room_url(settings, meeting)
        if link:
            body.append(f"Đường dẫn phòng họp trực tuyến: {link}")
        body.append(f"Phòng họp không giấy: {settings.base_url.rstrip('/')}/meetings/{meeting.id}")
    if items:
        body.append(BodyBlock(text="NỘI DUNG CHƯƠNG TRÌNH", style="heading"))
        body += [f"{i.position}. {i.title} ({i.planned_minutes} phút)." for i in items]
    body.append(
        "Tài liệu cuộc họp được gửi trên hệ thống Liên Thông, đề nghị đại biểu nghiên cứu trước, không in giấy. "
        "Rất mong các đồng chí đến dự đúng giờ."
    )
    return DocumentSpec(
        parent_body=org.parent_body.upper() if org.parent_body else "HỘI LHPN VIỆT NAM",
        issuing_body=org.name.upper().replace("HỘI LIÊN HIỆP PHỤ NỮ", "HỘI LHPN"),
        doc_type="GM",
        notation_suffix=notation_suffix(type_code="GM", org_abbr=org.abbreviation),
        place=org.place or "Bến Tre",
        subject=meeting.title,
        body=body,
        recipients=["Như trên"] + [u.name for u in units],
        filing="Lưu: VT, VP.",
        signers=[
            SigningBlock(
                role="leader",
                authority_prefix="TM.",
                authority_line="BAN THƯỜNG VỤ",
                position=(chair.position or "CHỦ TỊCH"),
                signer_name=chair.full_name,
            )
        ],
    )


async def request_invitation(session: AsyncSession, *, settings: Settings, meeting_id: int, actor: Actor) -> InvitationResult:
    """Produce the GM for the meeting: the DOCX attached to the meeting and the outgoing draft.

    Idempotent: a retry (or a reschedule) refreshes the attached DOCX and finds the draft it made.
    """
    meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None
    docx = build_document_docx(await build_spec(session, settings=settings, meeting=meeting))
    sha = BlobStore.for_settings(settings).put(docx)
    document = await session.scalar(
        select(MeetingDocument).where(MeetingDocument.meeting_id == meeting_id, MeetingDocument.kind == "invitation")
    )
    if document is None:
        document = MeetingDocument(
            meeting_id=meeting_id,
            title="Giấy mời",
            filename=f"giay-moi-{meeting_id}.docx",
            content_type=DOCX,
            sha256=sha,
            size=len(docx),
            kind="invitation",
            uploaded_by=None,
        )
        session.add(document)
    else:
        document.sha256, document.size = sha, len(docx)
    meeting.invitation_docx_sha = sha
    await session.flush()
    outgoing_id = await _outgoing_draft(session, settings=settings, meeting=meeting, docx=docx)
    meeting.invitation_outgoing_id = outgoing_id
    await record(
        session,
        actor=actor,
        action="meeting.invitation_prepared",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=meeting.organization_id,
        details={"docx_sha256": sha, "outgoing_id": outgoing_id},
    )
    return InvitationResult(docx_sha=sha, document_id=document.id, outgoing_id=outgoing_id)


async def _outgoing_draft(session: AsyncSession, *, settings: Settings, meeting: Meeting, docx: bytes) -> int | None:
    """The outgoing GM draft (văn bản đi), drafted by whoever created the meeting."""
    from services.outgoing import service as outgoing

    existing = await session.scalar(
        select(outgoing.OutgoingDocument.id).where(outgoing.OutgoingDocument.source_ref == source_ref(meeting.id))
    )
    if existing is not None:
        return existing
    signers = [u.id for u in await outgoing.signers_of(session, organization_id=meeting.organization_id)]
    if not signers:
        return None
    signer = meeting.chair_id if meeting.chair_id in signers else signers[0]
    creator = await session.get(User, meeting.created_by)
    assert creator is not None
    units = (await session.scalars(select(MeetingUnit.organization_id).where(MeetingUnit.meeting_id == meeting.id))).all()
    fields = outgoing.DraftFields(
        doc_type="GM",
        subject=meeting.title,
        signer_id=signer,
        recipient_org_ids=list(units),
        authority_prefix="TM.",
        authority_line="BAN THƯỜNG VỤ",
        body=f"Giấy mời dự {meeting.title} (nội dung trong tệp dự thảo do hệ thống tạo từ cuộc họp).",
    )
    draft = await outgoing.create_draft(
        session,
        settings=settings,
        actor=Actor(user_id=creator.id, name=creator.full_name, organization_id=meeting.organization_id),
        organization_id=meeting.organization_id,
        fields=fields,
        upload=CheckedUpload(filename=f"giay-moi-{meeting.id}.docx", content_type=DOCX, data=docx),
        source_ref=source_ref(meeting.id),
    )
    return draft.id
