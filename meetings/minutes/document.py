"""The Biên bản as a Decree 30 document: facts from the meeting, text from the minutes.

`build_spec` turns the meeting's facts (attendance, times, votes — never typed again) and the
secretary's text (discussion, opinions, conclusion per item) into a `DocumentSpec` of type BB
with two signing blocks (secretary left, chair right) and reserved number/date fields.
`prepare_pdf` adds the number/date form fields, reserves both signature fields and removes the
markers' text before the first (certification) signature, as the outgoing flow does.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from meetings.service import MeetingFacts, PersonFact, PollFact
from services.calendar import VN_TZ
from services.documents.layout import BodyBlock, DocumentSpec, SigningBlock
from services.documents.notation import vn_date_line  # noqa: F401  (re-exported for callers)
from signing.forms import SignatureFieldSpec, add_text_fields, field_specs_from_markers
from signing.marker_text import remove_marker_text
from signing.placement import find_markers, require_marker, signature_box

SECRETARY_FIELD = "Sig-secretary"
CHAIR_FIELD = "Sig-chair"

THRESHOLDS = {
    "majority_present": "quá nửa số thành viên có quyền biểu quyết có mặt",
    "two_thirds_present": "ít nhất hai phần ba số thành viên có quyền biểu quyết có mặt",
    "majority_members": "quá nửa tổng số thành viên có quyền biểu quyết",
    "two_thirds_members": "ít nhất hai phần ba tổng số thành viên có quyền biểu quyết",
}
BASES = {
    "majority_present": "thành viên có mặt",
    "two_thirds_present": "thành viên có mặt",
    "majority_members": "thành viên",
    "two_thirds_members": "thành viên",
}
ABSTENTIONS = "phiếu không biểu quyết và người không bỏ phiếu được tính vào tổng số, không tính là tán thành"
ROMAN = ["I", "II", "III", "IV", "V", "VI"]


def to_vn(value: datetime) -> datetime:
    return value.astimezone(VN_TZ)


def clock(value: datetime | None) -> str:
    """`08 giờ 30 phút` in Vietnam time."""
    if value is None:
        return "…"
    local = to_vn(value)
    return f"{local:%H} giờ {local:%M} phút"


def day_text(value: datetime | None) -> str:
    return "…" if value is None else f"ngày {to_vn(value):%d/%m/%Y}"


def hm(value: datetime | None) -> str:
    return f"{to_vn(value):%H:%M}" if value else ""


def poll_line(poll: PollFact) -> str:
    """One vote as the minutes record it: the rule, the base, the counts and the result."""
    counts = "; ".join(f"{label}: {votes}" for label, votes in poll.counts)
    verdict = "" if poll.passed is None else (" Kết quả: THÔNG QUA." if poll.passed else " Kết quả: KHÔNG THÔNG QUA.")
    kind = {"secret": "bỏ phiếu kín", "named": "biểu quyết ghi danh", "open": "biểu quyết công khai"}.get(poll.visibility, "")
    line = (
        f"Biểu quyết ({kind}) “{poll.question}”. Quy tắc: thông qua khi được {THRESHOLDS.get(poll.threshold, '')} "
        f"tán thành ({ABSTENTIONS}). Tổng số tính: {poll.base} {BASES.get(poll.threshold, '')}, cần ít nhất "
        f"{poll.needed} phiếu tán thành; {poll.voted or 0} thành viên tham gia biểu quyết. {counts}.{verdict}"
    )
    if poll.override_reason:
        line += (
            f" Biểu quyết được mở khi chưa đủ túc số ({poll.present_at_open or 0}/{poll.members_at_open or 0} "
            f"thành viên có mặt); lý do của người chủ trì: {poll.override_reason}."
        )
    return line


def _times(person: PersonFact) -> str:
    parts = []
    if person.arrived_at:
        parts.append(f"đến {hm(person.arrived_at)}")
    if person.left_at:
        parts.append(f"rời cuộc họp lúc {hm(person.left_at)}")
    return f" ({', '.join(parts)})" if parts else ""


def attendance_lines(facts: MeetingFacts) -> list[str]:
    """Who attended, in the seat of whom, who was absent and why; the quorum base and count."""
    people = facts.people
    seats = [p for p in people if p.voting and p.substitute_for is None]
    filled = {p.substitute_for for p in people if p.present and p.substitute_for}
    attended = sum(1 for p in seats if p.present or p.name in filled)
    needed = facts.quorum.get("needed", 0)
    lines = [
        f"Thành viên có quyền biểu quyết được triệu tập: {len(seats)}; có mặt (kể cả người dự thay): {attended}; "
        f"vắng mặt: {len(seats) - attended}. Túc số cần: {needed}"
        + (" — cuộc họp đủ túc số." if seats and attended >= int(str(needed or 0)) else " — cuộc họp không đủ túc số.")
    ]
    present = [p for p in people if p.present]
    absent = [p for p in people if not p.present]
    if present:

        def card(p: PersonFact) -> str:
            text = _person(p.name, p.position, p.site or p.organization)
            if p.role in ("chair", "secretary"):
                text += " — chủ trì" if p.role == "chair" else " — thư ký"
            if p.substitute_for:
                text += f", dự thay {p.substitute_for} (ủy quyền: {p.authorisation})"
            if p.role == "guest" or (not p.voting and p.site is None):
                text += ", khách mời"
            return text + _times(p)

        lines.append("Đại biểu có mặt: " + "; ".join(card(p) for p in present) + ".")
    if absent:
        lines.append(
            "Đại biểu vắng mặt: "
            + "; ".join(
                p.name
                + (
                    f" (cử {p.substituted_by} dự thay)"
                    if p.substituted_by
                    else f" (lý do: {p.absence_reason})"
                    if p.absence_reason
                    else " (không rõ lý do)"
                )
                for p in absent
            )
            + "."
        )
    for site in facts.sites:
        status = "có kết nối" if site.get("site_present") else "không kết nối"
        lines.append(f"Điểm cầu {site['name']}: {status}, {site.get('present', 0)}/{site.get('attendees', 0)} đại biểu có mặt.")
    return lines


def closing_lines(facts: MeetingFacts, content: dict[str, Any]) -> list[str]:
    """The one closing section: the secretary's text, then the end time the meeting recorded."""
    ended = facts.meeting.closed_at or facts.meeting.ends_at
    lines = [line.strip() for line in (content.get("closing") or "").splitlines() if line.strip()]
    return lines + [f"Cuộc họp kết thúc lúc {clock(ended)}, {day_text(ended)}."]


def _person(name: str, position: str, organization: str) -> str:
    return ", ".join(p for p in (name, position, organization) if p)


def _paragraphs(label: str, text: str) -> list[str]:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return []
    return [f"{label}: {lines[0]}"] + lines[1:]


def build_spec(
    facts: MeetingFacts,
    content: dict[str, Any],
    *,
    tasks: list[dict[str, Any]] | None = None,
    number: int | None = None,
    issued_on: date | None = None,
) -> DocumentSpec:
    """The Biên bản of a meeting (number/date None = reserved fields for the BB register)."""
    meeting, org = facts.meeting, facts.organization
    chair, secretary = facts.chair, facts.secretary
    started = meeting.opened_at or meeting.starts_at
    body: list[str | BodyBlock] = []
    body.append(f"Thời gian: bắt đầu lúc {clock(started)}, {day_text(started)}.")
    where = meeting.place or "—"
    if meeting.mode.value in ("online", "hybrid"):
        where += " (họp trực tuyến kết nối các điểm cầu)" if meeting.mode.value == "hybrid" else " (họp trực tuyến)"
    body.append(f"Địa điểm: {where}.")
    body.append(f"Chủ trì: {_person(chair.full_name, chair.position or '', org.name)}.")
    if secretary is not None:
        body.append(f"Thư ký: {_person(secretary.full_name, secretary.position or '', '')}.")

    body.append(BodyBlock(text="I. THÀNH PHẦN THAM DỰ", style="heading"))
    body.extend(attendance_lines(facts))
    opening = (content.get("opening") or "").strip()
    if opening:
        body.extend(line.strip() for line in opening.splitlines() if line.strip())

    body.append(BodyBlock(text="II. NỘI DUNG CUỘC HỌP", style="heading"))
    items_text: dict[str, Any] = content.get("items") or {}
    by_item_polls: dict[int | None, list[PollFact]] = {}
    for poll in facts.polls:
        by_item_polls.setdefault(poll.agenda_item_id, []).append(poll)
    by_item_tasks: dict[int | None, list[dict[str, Any]]] = {}
    for task in tasks or []:
        by_item_tasks.setdefault(task.get("item_id"), []).append(task)
    for index, item in enumerate(facts.items, start=1):
        text = items_text.get(str(item.id)) or {}
        body.append(BodyBlock(text=f"{index}. {item.title}", style="heading"))
        times = ""
        if item.started_at and item.ended_at:
            times = f" (từ {to_vn(item.started_at):%H:%M} đến {to_vn(item.ended_at):%H:%M})"
        if item.presenter:
            body.append(f"Trình bày: {item.presenter}{times}.")
        body.extend(_paragraphs("Thảo luận", text.get("discussion", "")))
        opinions = [o for o in text.get("opinions") or [] if (o.get("text") or "").strip()]
        if opinions:
            body.append("Ý kiến phát biểu:")
            for opinion in opinions:
                who = opinion.get("name") or "Đại biểu"
                body.append(f"- {who}: {opinion['text'].strip()}")
        for poll in by_item_polls.get(item.id, []):
            body.append(poll_line(poll))
        body.extend(_paragraphs("Kết luận", text.get("conclusion", "")))
        for task in by_item_tasks.get(item.id, []):
            body.append(f"- Giao {task['owner']}: {task['title']} (hạn hoàn thành {task['due_date']:%d/%m/%Y}).")
    for poll in by_item_polls.get(None, []):
        body.append(poll_line(poll))
    body.append(BodyBlock(text="III. KẾT THÚC", style="heading"))
    body.extend(closing_lines(facts, content))

    recipients = ["Các đại biểu dự họp"] + [str(s["name"]) for s in facts.sites]
    return DocumentSpec(
        parent_body=org.parent_body or "HỘI LHPN VIỆT NAM",
        issuing_body=org.name,
        doc_type="BB",
        notation_suffix=f"/BB-{org.abbreviation}",
        number=number,
        place=org.place or "Bến Tre",
        date=issued_on,
        subject=meeting.title,
        body=body,
        recipients=recipients,
        filing="Lưu: VT",
        signers=[
            SigningBlock(role="secretary", position="THƯ KÝ", signer_name=secretary.full_name if secretary else "…"),
            SigningBlock(role="chair", position="CHỦ TRÌ", signer_name=chair.full_name),
        ],
    )


def prepare_pdf(pdf: bytes) -> bytes:
    """Number/date fields and both signers' empty signature fields, markers' text removed;
    before anyone signs."""
    markers = find_markers(pdf)
    chair = require_marker(markers=markers, key="sig:chair")
    secretary = require_marker(markers=markers, key="sig:secretary")
    require_marker(markers=markers, key="field:number")
    require_marker(markers=markers, key="field:date")
    reserved = [
        SignatureFieldSpec(SECRETARY_FIELD, secretary.page, signature_box(marker=secretary)),
        SignatureFieldSpec(CHAIR_FIELD, chair.page, signature_box(marker=chair)),
    ]
    return add_text_fields(remove_marker_text(pdf), field_specs_from_markers(markers=markers), signature_fields=reserved)
