"""edXML packages (QCVN 102:2016/BTTTT) for recipients outside the system, and their import.

`build` writes strictly the shape of the ministry's edXML SDK, as public code built on it
writes packages: root ``edXML`` holding the ``edXMLEnvelope`` (header + manifest) and, beside
it, ``AttachmentEncoded`` with each file as ``ContentTransferEncoded`` base64 referenced from the
manifest by ``cid:``; dates ``yyyy/MM/dd``, trace times ``yyyy/MM/dd HH:mm:ss`` (Vietnam time);
``DocumentType`` numeric (Type 1 = administrative document, TypeDetail = its rank in Decree 30's
list of 29 types); organisations by their electronic identifier; ``Bussiness`` (sic, the
standard's spelling) inside ``TraceHeaderList``; ``DocumentId`` ``<orgId>,<yyyy/MM/dd>,<number/
notation>``. Every package it writes reads back equal (`parse(build(p)) == p`).

`parse` is tolerant of what other systems send: the SDK shape or our earlier one (root
``edXMLEnvelope``, files inside the body), with or without the namespace, ISO or slashed dates,
numeric or lettered document types, ``Bussiness`` in either place, ``ResponseFor`` as text or
structured, a zipped attachment unzipped (bounded), the sender's own DocumentId kept. It refuses
what is unsafe or unusable: DTDs outright (defusedxml ``forbid_dtd``: external entities, entity
expansion and external DTD fetching at once), a file whose digest does not match, a package with
no file, subject or sender.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from services.errors import InvalidInput
from services.i18n import Message, _l
from services.numbers import is_digits

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
register_namespace("edXML", NS)
MAX_BYTES = 60 * 1024 * 1024
PRIORITY = {"normal": 0, "urgent": 1, "very_urgent": 2, "flash": 3}
URGENCY_OF = {v: k for k, v in PRIORITY.items()}
BUSINESS = {"new": 0, "recall": 1, "update": 2, "replace": 3}
#: TypeDetail: rank in Decree 30/2020/NĐ-CP Art. 7 (the 29th, thư công, has no code here).
TYPE_DETAIL: tuple[str, ...] = (
    "NQ", "QĐ", "CT", "QC", "QyĐ", "TC", "TB", "HD", "CTr", "KH", "PA", "ĐA", "DA", "BC",
    "BB", "TTr", "HĐ", "CV", "CĐ", "BGN", "BTT", "GUQ", "GM", "GGT", "GNP", "PG", "PC", "PB",
)  # fmt: skip
ADMINISTRATIVE = 1
_SLASHED_DATE = "%Y/%m/%d"
_TRACE_TIME = "%Y/%m/%d %H:%M:%S"


@dataclass(frozen=True)
class Organ:
    organ_id: str
    name: str
    email: str = ""
    in_charge: str = ""  # OrganizationInCharge: the governing body (HỘI LHPN VIỆT NAM)


@dataclass(frozen=True)
class Trace:
    organ_id: str
    timestamp: str  # yyyy/MM/dd HH:mm:ss, Vietnam time


def trace_time(at: dt.datetime) -> str:
    """A trace timestamp as the SDK writes it (local Vietnam time, no offset)."""
    return at.astimezone(dt.timezone(dt.timedelta(hours=7))).strftime(_TRACE_TIME)


@dataclass(frozen=True)
class Attachment:
    content_id: str
    name: str
    content_type: str
    data: bytes
    description: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Package:
    """Everything an edXML package carries."""

    sender: Organ
    recipients: list[Organ]
    code_number: int
    code_notation: str  # what follows the number: QĐ-HLHPN
    place: str
    promulgation_date: dt.date
    doc_type: str  # type code (CV for a công văn)
    type_name: str
    subject: str
    signer_competence: str
    signer_position: str
    signer_name: str
    due_date: dt.date | None = None
    to_places: list[str] = field(default_factory=list)
    urgency: str = "normal"
    secrecy: str = "normal"
    steering_type: int = 0
    business_type: int = 0
    business_reason: str = ""
    response_for: str = ""  # the DocumentId this one recalls/replaces
    traces: list[Trace] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    #: The DocumentId as the sender wrote it, when it differs from ours (another system's rule).
    received_id: str = field(default="", compare=False)

    @property
    def number_notation(self) -> str:
        return f"{self.code_number:02d}/{self.code_notation}"

    @property
    def document_id(self) -> str:
        return self.received_id or f"{self.sender.organ_id},{self.promulgation_date:%Y/%m/%d},{self.number_notation}"


def folded_name(name: str) -> str:
    """A name as packages are compared by it: spaces collapsed, case ignored."""
    return " ".join(name.split()).casefold()


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _text(parent: Element, name: str, value: object) -> Element:
    child = SubElement(parent, _q(name))
    child.text = "" if value is None else str(value)
    return child


def _organ(parent: Element, name: str, organ: Organ) -> None:
    node = SubElement(parent, _q(name))
    _text(node, "OrganId", organ.organ_id)
    _text(node, "OrganizationInCharge", organ.in_charge)
    _text(node, "OrganName", organ.name)
    _text(node, "Email", organ.email)


def _check_writable(package: Package) -> None:
    """What a gateway needs before it accepts a package; refused here rather than there."""
    missing = [
        name
        for name, value in (
            ("From/OrganId", package.sender.organ_id),
            ("To", package.recipients or package.to_places),
            ("Subject", package.subject.strip()),
            ("CodeNotation", package.code_notation),
            ("attachments", package.attachments),
        )
        if not value
    ]
    if missing:
        raise InvalidInput(_l("The edXML package cannot be written without: {value}.", value=", ".join(missing)))


def build(package: Package) -> bytes:
    """The package as UTF-8 XML bytes, in the SDK shape."""
    _check_writable(package)
    root = Element(_q("edXML"))
    envelope = SubElement(root, _q("edXMLEnvelope"))
    header = SubElement(envelope, _q("edXMLHeader"))
    message = SubElement(header, _q("MessageHeader"))
    _organ(message, "From", package.sender)
    for organ in package.recipients:
        _organ(message, "To", organ)
    _text(message, "DocumentId", package.document_id)
    code = SubElement(message, _q("Code"))
    _text(code, "CodeNumber", f"{package.code_number:02d}")
    _text(code, "CodeNotation", package.code_notation)
    info = SubElement(message, _q("PromulgationInfo"))
    _text(info, "Place", package.place)
    _text(info, "PromulgationDate", package.promulgation_date.strftime(_SLASHED_DATE))
    kind = SubElement(message, _q("DocumentType"))
    detail = TYPE_DETAIL.index(package.doc_type) + 1 if package.doc_type in TYPE_DETAIL else 0
    _text(kind, "Type", ADMINISTRATIVE)
    _text(kind, "TypeDetail", detail)
    _text(kind, "TypeName", package.type_name)
    _text(message, "Subject", package.subject)
    signer = SubElement(message, _q("SignerInfo"))
    _text(signer, "Competence", package.signer_competence)
    _text(signer, "Position", package.signer_position)
    _text(signer, "FullName", package.signer_name)
    _text(message, "DueDate", package.due_date.strftime(_SLASHED_DATE) if package.due_date else "")
    places = SubElement(message, _q("ToPlaces"))
    for place in package.to_places:
        _text(places, "Place", place)
    other = SubElement(message, _q("OtherInfo"))
    _text(other, "Priority", PRIORITY.get(package.urgency, 0))
    _text(other, "PromulgationAmount", len(package.recipients) + len(package.to_places))
    _text(other, "PageAmount", 0)
    if package.secrecy != "normal":  # never for exchange in practice; kept so it is not lost
        _text(other, "SecurityLevel", package.secrecy)
    _text(message, "SteeringType", package.steering_type)
    if package.response_for:
        response = SubElement(message, _q("ResponseFor"))
        organ_id, _, rest = package.response_for.partition(",")
        date, _, number = rest.partition(",")
        _text(response, "OrganId", organ_id)
        _text(response, "Code", number)
        _text(response, "PromulgationDate", date)
        _text(response, "DocumentId", package.response_for)
    traces = SubElement(header, _q("TraceHeaderList"))
    business = SubElement(traces, _q("Bussiness"))
    _text(business, "BussinessDocType", package.business_type)
    _text(business, "BussinessDocReason", package.business_reason)
    _text(business, "Paper", 0)
    for trace in package.traces:
        node = SubElement(traces, _q("TraceHeader"))
        _text(node, "OrganId", trace.organ_id)
        _text(node, "Timestamp", trace.timestamp)
    body = SubElement(envelope, _q("edXMLBody"))
    manifest = SubElement(body, _q("edXMLManifest"), {"version": "1.0"})
    for item in package.attachments:
        ref = SubElement(manifest, _q("Reference"))
        _text(ref, "ContentId", item.content_id)
        _text(ref, "ContentType", item.content_type)
        _text(ref, "Description", item.description)
        _text(ref, "AttachmentName", item.name)
    files = SubElement(root, _q("AttachmentEncoded"))
    for item in package.attachments:
        node = SubElement(files, _q("Attachment"))
        _text(node, "ContentId", item.content_id)
        _text(node, "AttachmentName", item.name)
        _text(node, "ContentType", item.content_type)
        _text(node, "ContentTransferEncoded", base64.b64encode(item.data).decode("ascii"))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode("utf-8")


# --- reading ---------------------------------------------------------------------------------


def _refuse(detail: Message) -> InvalidInput:
    return InvalidInput(_l("Invalid edXML package: {detail}", detail=detail))


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _child(parent: Element | None, *names: str) -> Element | None:
    """The first descendant along `names`, matched by local name (namespace or not)."""
    node = parent
    for name in names:
        if node is None:
            return None
        node = next((c for c in node if _local(c.tag) == name), None)
    return node


def _children(parent: Element | None, name: str) -> list[Element]:
    return [] if parent is None else [c for c in parent if _local(c.tag) == name]


def _find(parent: Element | None, *names: str) -> str:
    node = _child(parent, *names)
    return "" if node is None else (node.text or "").strip()


def _need(parent: Element | None, *names: str) -> Element:
    node = _child(parent, *names)
    if node is None:
        path = "/".join(names)
        raise _refuse(_l("missing {path}", path=path, path2=path))
    return node


_DATE_FORMATS = ("%Y/%m/%d", "%Y-%m-%d", "%d/%m/%Y")


def _date(value: str, what: str) -> dt.date:
    text = value.strip()[:10]
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise _refuse(_l("bad {what} date {value!r}", what=what, value=value))


def _organ_of(node: Element) -> Organ:
    return Organ(
        organ_id=_find(node, "OrganId"),
        name=_find(node, "OrganName"),
        email=_find(node, "Email"),
        in_charge=_find(node, "OrganizationInCharge"),
    )


def _doc_type(kind: Element | None) -> str:
    """Our type code from a numeric TypeDetail, a lettered Type (our earlier packages) or the
    type's name; a công văn when none of them says."""
    detail, type_, name = _find(kind, "TypeDetail"), _find(kind, "Type"), _find(kind, "TypeName")
    if is_digits(detail) and 1 <= int(detail) <= len(TYPE_DETAIL):
        return TYPE_DETAIL[int(detail) - 1]
    if type_ in TYPE_DETAIL:
        return type_
    from services.documents.notation import TYPE_CODES

    by_name = {title.casefold(): code for code, title in TYPE_CODES.items()} | {"công văn": "CV"}
    return by_name.get(folded_name(name), "CV")


def _unzipped(raw: bytes, name: str, content_type: str) -> bytes:
    """Some gateways zip each file before encoding it: unzip a one-entry archive, bounded."""
    if not raw.startswith(b"PK\x03\x04") or name.lower().endswith(".zip") or "zip" in content_type:
        return raw
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            entries = [i for i in archive.infolist() if not i.is_dir()]
            if len(entries) != 1 or entries[0].file_size > MAX_BYTES:
                return raw
            with archive.open(entries[0]) as member:
                data = member.read(MAX_BYTES + 1)
    except (zipfile.BadZipFile, OSError, ValueError):
        return raw
    if len(data) > MAX_BYTES:
        raise _refuse(_l("too large"))
    return data


def _attachments(root: Element, body: Element | None) -> list[Attachment]:
    manifest = {_find(ref, "ContentId"): ref for ref in _children(_child(body, "edXMLManifest"), "Reference")}
    nodes = _children(_child(root, "AttachmentEncoded"), "Attachment") or _children(_child(body, "Attachments"), "Attachment")
    attachments = []
    for node in nodes:
        cid = _find(node, "ContentId") or node.get("ContentId", "")
        ref = manifest.get(cid)
        if ref is None:
            raise _refuse(_l("attachment {cid} not in manifest", cid=cid))
        encoded = _find(node, "ContentTransferEncoded") if _child(node, "ContentTransferEncoded") is not None else (node.text or "")
        try:
            raw = base64.b64decode("".join(encoded.split()).encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise _refuse(_l("bad base64 in {cid}", cid=cid)) from None
        name = _find(ref, "AttachmentName") or _find(node, "AttachmentName") or cid
        content_type = _find(ref, "ContentType") or _find(node, "ContentType") or "application/octet-stream"
        item = Attachment(
            content_id=cid,
            name=name,
            content_type=content_type,
            data=_unzipped(raw, name, content_type),
            description=_find(ref, "Description"),
        )
        digest = _find(ref, "Digest")
        if digest and digest != item.sha256:
            raise _refuse(_l("digest mismatch for {name}", name=item.name))
        attachments.append(item)
    if not attachments:
        raise _refuse(_l("no attachment"))
    return attachments


def _response_for(message: Element) -> str:
    node = _child(message, "ResponseFor")
    if node is None:
        return ""
    if len(node) == 0:
        return (node.text or "").strip()
    if _find(node, "DocumentId"):
        return _find(node, "DocumentId")
    date = _find(node, "PromulgationDate")
    return f"{_find(node, 'OrganId')},{_date(date, 'ResponseFor'):%Y/%m/%d},{_find(node, 'Code')}" if date else ""


def _int(text: str, default: int = 0) -> int:
    return int(text) if is_digits(text) else default


def _root(data: bytes) -> Element:
    if len(data) > MAX_BYTES:
        raise _refuse(_l("too large"))
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise _refuse(_l("DTDs and entities are forbidden")) from None
    except (ParseError, ValueError) as exc:
        raise _refuse(_l("not well-formed XML: {exc}", exc=exc)) from None


def parse(data: bytes) -> Package:
    """Read a package; raise InvalidInput for anything unsafe, malformed or unusable."""
    root = _root(data)
    if _local(root.tag) == "edXML":
        envelope = _need(root, "edXMLEnvelope")
    elif _local(root.tag) == "edXMLEnvelope":
        envelope = root
    else:
        raise _refuse(_l("unexpected root {tag}", tag=_local(root.tag)))
    header = _need(envelope, "edXMLHeader")
    message = _need(header, "MessageHeader")
    number_text = _find(message, "Code", "CodeNumber")
    if not is_digits(number_text):
        raise _refuse(_l("bad CodeNumber"))
    # Bussiness sits in TraceHeaderList in the SDK shape, beside it in our earlier packages.
    business = _child(header, "TraceHeaderList", "Bussiness")
    if business is None:
        business = _child(header, "Bussiness")
    due = _find(message, "DueDate")
    package = Package(
        sender=_organ_of(_need(message, "From")),
        recipients=[_organ_of(n) for n in _children(message, "To")],
        code_number=int(number_text),
        code_notation=_find(message, "Code", "CodeNotation"),
        place=_find(message, "PromulgationInfo", "Place"),
        promulgation_date=_date(_find(message, "PromulgationInfo", "PromulgationDate"), "ban hành"),
        doc_type=_doc_type(_child(message, "DocumentType")),
        type_name=_find(message, "DocumentType", "TypeName"),
        subject=_find(message, "Subject"),
        signer_competence=_find(message, "SignerInfo", "Competence"),
        signer_position=_find(message, "SignerInfo", "Position"),
        signer_name=_find(message, "SignerInfo", "FullName"),
        due_date=_date(due, "hạn xử lý") if due else None,
        to_places=[(p.text or "").strip() for p in _children(_child(message, "ToPlaces"), "Place")],
        urgency=URGENCY_OF.get(_int(_find(message, "OtherInfo", "Priority")), "normal"),
        secrecy=_find(message, "OtherInfo", "SecurityLevel") or "normal",
        steering_type=_int(_find(message, "SteeringType")),
        business_type=_int(_find(business, "BussinessDocType")),
        business_reason=_find(business, "BussinessDocReason"),
        response_for=_response_for(message),
        traces=[
            Trace(organ_id=_find(t, "OrganId"), timestamp=_find(t, "Timestamp"))
            for t in _children(_child(header, "TraceHeaderList"), "TraceHeader")
        ],
        attachments=_attachments(root, _child(envelope, "edXMLBody")),
    )
    if not package.subject or not package.sender.organ_id:
        raise _refuse(_l("missing subject or sender"))
    received = _find(message, "DocumentId")
    if received and received != package.document_id:
        # Another system's own identifier is kept; one written by the standard's rule for this
        # sender that disagrees with the code or date says the header was altered.
        if received.split(",", 1)[0] == package.sender.organ_id and received.count(",") == 2:
            raise _refuse(_l("DocumentId does not match the code"))
        package.received_id = received
    return package


# --- status messages ---------------------------------------------------------------------------

#: Status codes of the exchange (Circular 10/2016/TT-BTTTT): the steps a recipient reports back.
STATUS_CODES: dict[str, tuple[str, str]] = {
    "01": ("Đã đến", "Arrived"),
    "02": ("Từ chối tiếp nhận", "Refused"),
    "03": ("Đã tiếp nhận", "Received"),
    "04": ("Đã phân công", "Assigned"),
    "05": ("Đang xử lý", "In progress"),
    "06": ("Hoàn thành", "Done"),
    "13": ("Đề nghị lấy lại/cập nhật", "Recall or update requested"),
    "15": ("Đồng ý lấy lại/cập nhật", "Recall or update accepted"),
    "16": ("Từ chối lấy lại/cập nhật", "Recall or update refused"),
}


@dataclass(frozen=True)
class Status:
    """A status package: `sender` reports `code` on the document `response_for` (its DocumentId)."""

    sender: Organ
    response_for: str
    code: str
    description: str = ""
    timestamp: str = ""  # yyyy/MM/dd HH:mm:ss, Vietnam time
    staff: str = ""


def build_status(status: Status) -> bytes:
    """A status package in the SDK shape (root edXML, header with Status, no files)."""
    if status.code not in STATUS_CODES or not status.response_for or not status.sender.organ_id:
        raise InvalidInput(_l("The edXML package cannot be written without: {value}.", value="StatusCode, ResponseFor, From/OrganId"))
    root = Element(_q("edXML"))
    header = SubElement(SubElement(root, _q("edXMLEnvelope")), _q("edXMLHeader"))
    node = SubElement(header, _q("Status"))
    response = SubElement(node, _q("ResponseFor"))
    organ_id, _, rest = status.response_for.partition(",")
    date, _, number = rest.partition(",")
    _text(response, "OrganId", organ_id)
    _text(response, "Code", number)
    _text(response, "PromulgationDate", date)
    _text(response, "DocumentId", status.response_for)
    _organ(node, "From", status.sender)
    _text(node, "StatusCode", status.code)
    _text(node, "Description", status.description)
    _text(node, "Timestamp", status.timestamp)
    staff = SubElement(node, _q("StaffInfo"))
    _text(staff, "Staff", status.staff)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode("utf-8")


def _status_node(root: Element) -> Element | None:
    envelope = _child(root, "edXMLEnvelope") if _local(root.tag) == "edXML" else root
    return _child(envelope, "edXMLHeader", "Status")


def is_status(data: bytes) -> bool:
    """Whether `data` is a status package (not a document)."""
    return _status_node(_root(data)) is not None


def parse_status(data: bytes) -> Status:
    """Read a status package; InvalidInput for anything unsafe or unusable."""
    node = _status_node(_root(data))
    if node is None:
        raise _refuse(_l("missing {path}", path="Status", path2="Status"))
    code = _find(node, "StatusCode").zfill(2)
    if code not in STATUS_CODES:
        raise _refuse(_l("unknown status code {value}", value=code))
    status = Status(
        sender=_organ_of(_need(node, "From")),
        response_for=_response_for(node),
        code=code,
        description=_find(node, "Description"),
        timestamp=_find(node, "Timestamp"),
        staff=_find(node, "StaffInfo", "Staff"),
    )
    if not status.response_for or not status.sender.organ_id:
        raise _refuse(_l("missing subject or sender"))
    return status
