"""Every upload, import and form endpoint against the hostile corpus (tests/hostile/corpus.py):
each hostile case gets a clear 4xx in Vietnamese, no 5xx, and nothing is kept (no blob, no row,
register counters unchanged); valid files with unusual names are accepted and shown escaped.

One test per endpoint (one sign-in and one demo database each), looping over the cases; every
failing case is collected so that one run names them all."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from meetings.models import MeetingDocument
from services.audit.models import AuditEntry
from services.calendar import vn_today
from services.db import utcnow
from services.directory.models import Organization, User
from services.incoming.models import IncomingDocument
from services.outgoing.models import OutgoingAttachment, OutgoingDocument
from services.registers import RegisterCounter
from services.reports.models import ReportRequest, ReportSubmission
from tests.helpers import csrf_of, sign_in
from tests.hostile.corpus import field_cases, file_cases, marked_docx, png, tiny_pdf
from tests.hostile_files import valid_docx
from tests.reports.factory import issue_letter
from web.i18n import to_vn

VIETNAMESE = re.compile(r"[ạảãàáâậầấẩẫăắằặẳẵệếềểễọỏõòóôộồốổỗơớờợởỡụủũùúưựừứửữịỉĩìíđ]", re.IGNORECASE)


def multipart(fields: dict[str, str | list[str]], files: list[tuple[str, str, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart body written byte for byte (httpx would escape the hostile file names)."""
    boundary = "hostile" + uuid.uuid4().hex
    out = bytearray()
    for key, values in fields.items():
        for value in values if isinstance(values, list) else [values]:
            out += f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
    for field, filename, data in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="'.encode()
            + filename.encode()
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + data
            + b"\r\n"
        )
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), {"content-type": f"multipart/form-data; boundary={boundary}"}


@dataclass
class Endpoint:
    """`send(filename, data)` posts one file; `valid` is the file it accepts (None: none at hand)."""

    send: Callable[[str, bytes], Awaitable]
    ext: str
    valid: bytes | None
    counted: tuple = ()
    shows: Callable[[], Awaitable[str]] | None = None  # the page listing what was stored


async def _state(db, settings, counted) -> tuple:  # type: ignore[no-untyped-def]
    root = settings.data_dir / "blobs"
    blobs = frozenset(p for p in root.rglob("*") if p.is_file()) if root.exists() else frozenset()
    async with db.session() as session:
        counts = [await session.scalar(select(func.count()).select_from(model)) for model in counted]
        registers = (await session.execute(select(RegisterCounter.__table__))).all()
    return blobs, counts, sorted(map(tuple, registers))


async def _ids(db):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        users = {u.username: u.id for u in (await session.scalars(select(User))).all()}
        orgs = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
    return users, orgs


def _message(page: str) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)</', page, re.S)
    return found.group(1).strip() if found else page[:300]


def _refusal_problems(case_name: str, response) -> list[str]:  # type: ignore[no-untyped-def]
    if response.status_code >= 500:
        return [f"{case_name}: {response.status_code} (server error)"]
    if not 400 <= response.status_code < 500:
        return [f"{case_name}: accepted ({response.status_code})"]
    if "Traceback" in response.text or not VIETNAMESE.search(response.text):
        return [f"{case_name}: {response.status_code} without a Vietnamese message: {response.text[:200]!r}"]
    return []


async def _run_files(endpoint: Endpoint, db, settings) -> list[str]:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    for case in file_cases():
        data = case.data if case.data is not None else endpoint.valid
        if data is None:
            continue
        filename = case.filename.replace("{ext}", endpoint.ext)
        before = await _state(db, settings, endpoint.counted)
        response = await endpoint.send(filename, data)
        if case.accepted:
            if response.status_code != 303:
                problems.append(f"{case.name}: valid file refused ({response.status_code}) {_message(response.text)!r}")
            elif endpoint.shows is not None:
                page = await endpoint.shows()
                if "<img src=x" in page:
                    problems.append(f"{case.name}: file name shown unescaped")
            continue
        problems += _refusal_problems(case.name, response)
        if await _state(db, settings, endpoint.counted) != before:
            problems.append(f"{case.name}: something was stored or numbered ({response.status_code})")
    return problems


# --- the endpoints ---------------------------------------------------------------------------------


async def incoming_registration(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    _, orgs = await _ids(db)
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    form = incoming_form(await csrf_of(clerk, "/incoming/new"), orgs)
    sent = iter(range(10, 10_000))

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        # A number notation of its own each time: an accepted case is no duplicate of the last.
        body, headers = multipart({**form, "number_notation": f"{next(sent)}/CV-STP"}, [("files", name, data)])
        return await clerk.post("/incoming", content=body, headers=headers)

    return Endpoint(send, "pdf", tiny_pdf(), (IncomingDocument,), shows=lambda: _last_page(clerk, "/incoming"))


def incoming_form(token: str, orgs) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "csrf_token": token,
        "organization_id": str(orgs["hlhpn-bentre"]),
        "issuer_name": "Sở Tư pháp",
        "number_notation": "11/CV-STP",
        "document_date": (vn_today() - timedelta(days=1)).isoformat(),
        "doc_type": "CV",
        "subject": "Về việc phổ biến pháp luật",
        "urgency": "normal",
        "secrecy": "normal",
        "arrival_date": vn_today().isoformat(),
    }


async def _last_page(client, listing: str) -> str:  # type: ignore[no-untyped-def]
    """The page of the newest object linked from a listing (where the file names show)."""
    page = (await client.get(listing)).text
    ids = [int(i) for i in re.findall(rf'href="{listing}/(\d+)', page)]
    return (await client.get(f"{listing}/{max(ids)}")).text if ids else page


def outgoing_form(token: str, users) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "csrf_token": token,
        "doc_type": "CV",
        "subject": "Về việc tổ chức tập huấn cán bộ Hội cơ sở",
        "body": "Kính gửi các huyện, thành phố.",
        "signer_id": str(users["lan.nguyen"]),
        "urgency": "normal",
        "secrecy": "normal",
        "groups": "district",
    }


async def _officer(client_for, db):  # type: ignore[no-untyped-def]
    users, _ = await _ids(db)
    officer = await client_for(db)
    await sign_in(officer, "thu.le")
    return officer, outgoing_form(await csrf_of(officer, "/outgoing/new"), users)


async def outgoing_draft_docx(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    officer, form = await _officer(client_for, db)

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart(form, [("docx", name, data)])
        return await officer.post("/outgoing", content=body, headers=headers)

    return Endpoint(send, "docx", marked_docx(), (OutgoingDocument, OutgoingAttachment), shows=lambda: _last_page(officer, "/outgoing"))


async def outgoing_new_attachment(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    officer, form = await _officer(client_for, db)

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart(form, [("docx", "", b""), ("files", name, data)])
        return await officer.post("/outgoing", content=body, headers=headers)

    return Endpoint(send, "pdf", tiny_pdf(), (OutgoingDocument, OutgoingAttachment), shows=lambda: _last_page(officer, "/outgoing"))


async def _draft(officer, form) -> int:  # type: ignore[no-untyped-def]
    body, headers = multipart(form, [("docx", "", b"")])
    created = await officer.post("/outgoing", content=body, headers=headers)
    assert created.status_code == 303, created.text[:500]
    return int(created.headers["location"].split("/")[2].split("?")[0])


async def outgoing_attachments(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    officer, form = await _officer(client_for, db)
    doc_id = await _draft(officer, form)

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart({"csrf_token": form["csrf_token"]}, [("files", name, data)])
        return await officer.post(f"/outgoing/{doc_id}/attachments", content=body, headers=headers)

    return Endpoint(send, "pdf", tiny_pdf(), (OutgoingAttachment,), shows=lambda: _text(officer, f"/outgoing/{doc_id}"))


async def outgoing_edit_docx(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    officer, form = await _officer(client_for, db)
    doc_id = await _draft(officer, form)

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart(form, [("docx", name, data)])
        return await officer.post(f"/outgoing/{doc_id}/edit", content=body, headers=headers)

    return Endpoint(send, "docx", marked_docx(), (OutgoingAttachment,), shows=lambda: _text(officer, f"/outgoing/{doc_id}"))


async def _text(client, path: str) -> str:  # type: ignore[no-untyped-def]
    return (await client.get(path)).text


async def _meeting(client_for, db):  # type: ignore[no-untyped-def]
    users, orgs = await _ids(db)
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    csrf = await csrf_of(clerk, "/meetings/new")
    start = to_vn(utcnow() + timedelta(days=2))
    form = {
        "csrf_token": csrf,
        "organization_id": str(orgs["hlhpn-bentre"]),
        "title": "Hội nghị giao ban quý",
        "chair_id": str(users["lan.nguyen"]),
        "secretary_id": str(users["ngoc.vo"]),
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "mode": "online",
        "place": "",
    }
    return clerk, form


async def meeting_documents(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    clerk, form = await _meeting(client_for, db)
    created = await clerk.post("/meetings", data=form)
    assert created.status_code == 303, created.text[:500]
    mid = int(re.search(r"/meetings/(\d+)", created.headers["location"]).group(1))  # type: ignore[union-attr]

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart({"csrf_token": form["csrf_token"], "title": ""}, [("file", name, data)])
        return await clerk.post(f"/meetings/{mid}/documents", content=body, headers=headers)

    return Endpoint(send, "docx", valid_docx(), (MeetingDocument,), shows=lambda: _text(clerk, f"/meetings/{mid}"))


def report_form(token: str, orgs) -> dict[str, str | list[str]]:  # type: ignore[no-untyped-def]
    return {
        "csrf_token": token,
        "organization_id": str(orgs["hlhpn-bentre"]),
        "title": "Báo cáo nhanh số hội viên",
        "instructions": "Theo mẫu.",
        "deadline_date": "2099-12-31",
        "deadline_time": "17:00",
        "scope": "children",
        "field_name": ["Số hội viên"],
        "field_unit": ["người"],
        "field_kind": ["integer"],
    }


async def report_templates(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    _, orgs = await _ids(db)
    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    form = report_form(await csrf_of(leader, "/reports/new"), orgs)

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart(form, [("template", name, data)])
        return await leader.post("/reports", content=body, headers=headers)

    return Endpoint(send, "docx", valid_docx(), (ReportRequest,), shows=lambda: _last_page(leader, "/reports"))


async def report_submissions(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    _, orgs = await _ids(db)
    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    form = report_form(await csrf_of(leader, "/reports/new"), orgs)
    created = await leader.post("/reports", data=form)
    assert created.status_code == 303, created.text[:500]
    rid = int(created.headers["location"].split("/")[2].split("?")[0])
    await issue_letter(db, settings, rid)
    officer = await client_for(db)
    await sign_in(officer, "chauthanh.chuyenvien")
    own = f"/reports/{rid}/targets/{orgs['hlhpn-chauthanh']}"
    csrf = await csrf_of(officer, "/")
    figures = {name: "1250" for name in re.findall(r'name="(fig_\d+)"', (await officer.get(own)).text)}

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart({"csrf_token": csrf, "note": "", **figures}, [("file", name, data)])
        return await officer.post(own + "/submit", content=body, headers=headers)

    # Each accepted submission replaces the last one; the first is enough to prove the name is safe.
    return Endpoint(send, "docx", valid_docx(), (ReportSubmission,), shows=lambda: _text(officer, own))


async def edxml_import(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    token = await csrf_of(clerk, "/outgoing/edxml/import")

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart({"csrf_token": token}, [("package", name, data)])
        return await clerk.post("/outgoing/edxml/import", content=body, headers=headers)

    # A valid package needs an issued, sealed letter: tests/outgoing covers the accepted path.
    return Endpoint(send, "xml", None, (IncomingDocument,))


async def signature_image(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    user = await client_for(db)
    await sign_in(user, "lan.nguyen")
    token = await csrf_of(user, "/account")

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart({"csrf_token": token}, [("file", name, data)])
        return await user.post("/account/signature-image", content=body, headers=headers)

    return Endpoint(send, "png", png(), (AuditEntry,))


async def organisation_seal_image(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    _, orgs = await _ids(db)
    admin = await client_for(db)
    await sign_in(admin, "quantri")
    org = orgs["hlhpn-bentre"]
    token = await csrf_of(admin, f"/admin/orgs/{org}")

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart({"csrf_token": token, "level": ""}, [("file", name, data)])
        return await admin.post(f"/admin/orgs/{org}/signing", content=body, headers=headers)

    return Endpoint(send, "png", png(), (AuditEntry,))


async def signing_verify(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    token = await csrf_of(clerk, "/signing")

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart({"csrf_token": token}, [("file", name, data)])
        return await clerk.post("/signing/verify", content=body, headers=headers)

    return Endpoint(send, "pdf", None, (AuditEntry,))


async def signing_sign(client_for, db, settings) -> Endpoint:  # type: ignore[no-untyped-def]
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    token = await csrf_of(clerk, "/signing")

    async def send(name: str, data: bytes):  # type: ignore[no-untyped-def]
        body, headers = multipart({"csrf_token": token, "pin": "000000", "mode": "person"}, [("file", name, data)])
        return await clerk.post("/signing/sign", content=body, headers=headers)

    return Endpoint(send, "pdf", None, (AuditEntry,))


UPLOADS = [
    incoming_registration,
    outgoing_draft_docx,
    outgoing_new_attachment,
    outgoing_attachments,
    outgoing_edit_docx,
    meeting_documents,
    report_templates,
    report_submissions,
    edxml_import,
    signature_image,
    organisation_seal_image,
    signing_verify,
    signing_sign,
]


@pytest.mark.parametrize("make", UPLOADS, ids=lambda make: make.__name__)
async def test_upload_endpoint_refuses_the_hostile_corpus_and_keeps_nothing(make, demo_db_sqlite, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    endpoint = await make(client_for, demo_db_sqlite, settings)
    problems = await _run_files(endpoint, demo_db_sqlite, settings)
    assert not problems, "\n".join(problems)


# --- form fields ---------------------------------------------------------------------------------


@dataclass
class Form:
    """`send(values)` posts the form with some fields replaced; `fields` maps a kind to field names."""

    send: Callable[[dict[str, str]], Awaitable]
    fields: dict[str, list[str]]
    counted: tuple


async def incoming_form_endpoint(client_for, db) -> Form:  # type: ignore[no-untyped-def]
    _, orgs = await _ids(db)
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    form = incoming_form(await csrf_of(clerk, "/incoming/new"), orgs)

    async def send(values: dict[str, str]):  # type: ignore[no-untyped-def]
        body, headers = multipart({**form, **values}, [("files", "cong-van.pdf", tiny_pdf())])
        return await clerk.post("/incoming", content=body, headers=headers)

    return Form(
        send, {"date": ["document_date", "arrival_date"], "text": ["subject", "issuer_name", "number_notation"]}, (IncomingDocument,)
    )


async def outgoing_form_endpoint(client_for, db) -> Form:  # type: ignore[no-untyped-def]
    officer, form = await _officer(client_for, db)

    async def send(values: dict[str, str]):  # type: ignore[no-untyped-def]
        body, headers = multipart({**form, **values}, [("docx", "", b"")])
        return await officer.post("/outgoing", content=body, headers=headers)

    return Form(send, {"text": ["subject"]}, (OutgoingDocument,))


async def meeting_form_endpoint(client_for, db) -> Form:  # type: ignore[no-untyped-def]
    clerk, form = await _meeting(client_for, db)

    async def send(values: dict[str, str]):  # type: ignore[no-untyped-def]
        return await clerk.post("/meetings", data={**form, **values})

    from meetings.models import Meeting

    return Form(send, {"datetime": ["starts_at", "ends_at"], "text": ["title"]}, (Meeting,))


async def report_form_endpoint(client_for, db) -> Form:  # type: ignore[no-untyped-def]
    _, orgs = await _ids(db)
    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    form = report_form(await csrf_of(leader, "/reports/new"), orgs)

    async def send(values: dict[str, str]):  # type: ignore[no-untyped-def]
        return await leader.post("/reports", data={**form, **values})

    return Form(send, {"date": ["deadline_date"], "text": ["title"]}, (ReportRequest,))


FORMS = [incoming_form_endpoint, outgoing_form_endpoint, meeting_form_endpoint, report_form_endpoint]


@pytest.mark.parametrize("make", FORMS, ids=lambda make: make.__name__)
async def test_form_endpoint_refuses_invalid_dates_and_overlong_fields(make, demo_db, client_for, settings) -> None:  # type: ignore[no-untyped-def]
    form = await make(client_for, demo_db)
    problems: list[str] = []
    for case in field_cases():
        for field in form.fields.get(case.field, []):
            before = await _state(demo_db, settings, form.counted)
            response = await form.send({field: case.value})
            if not case.refused:
                if response.status_code >= 500:
                    problems.append(f"{case.name} in {field}: {response.status_code} (server error)")
                continue
            problems += _refusal_problems(f"{case.name} in {field}", response)
            if await _state(demo_db, settings, form.counted) != before:
                problems.append(f"{case.name} in {field}: something was stored ({response.status_code})")
    assert not problems, "\n".join(problems)
