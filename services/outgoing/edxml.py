"""edXML packages (QCVN 102:2016/BTTTT) for recipients outside the system, and their import.

Owns `build` (a package as bytes) and `parse` (bytes → `Package`), which are exact inverses:
every header field and every attachment survives a round trip byte for byte. The envelope
follows the standard's header (From/To, Code, PromulgationInfo, DocumentType, Subject,
SignerInfo, DueDate, ToPlaces, OtherInfo with the priority, SteeringType, DocumentId
``<orgId>,<yyyy/MM/dd>,<number>/<notation>``, TraceHeaderList, Bussiness with the business type
0 new / 1 recall / 2 update / 3 replace); the body is the manifest plus the attachments in
base64 inside the same XML document.

Parsing refuses DTDs outright (defusedxml ``forbid_dtd``), which closes external entities,
entity expansion ("billion laughs") and external DTD fetching at once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
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


@dataclass(frozen=True)
class Organ:
    organ_id: str
    name: str
    email: str = ""


@dataclass(frozen=True)
class Trace:
    organ_id: str
    timestamp: str  # ISO 8601 with offset


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

    @property
    def number_notation(self) -> str:
        return f"{self.code_number:02d}/{self.code_notation}"

    @property
    def document_id(self) -> str:
        return f"{self.sender.organ_id},{self.promulgation_date:%Y/%m/%d},{self.number_notation}"


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _text(parent: Element, name: str, value: object) -> Element:
    child = SubElement(parent, _q(name))
    child.text = "" if value is None else str(value)
    return child


def _organ(parent: Element, name: str, organ: Organ) -> None:
    node = SubElement(parent, _q(name))
    _text(node, "OrganId", organ.organ_id)
    _text(node, "OrganName", organ.name)
    _text(node, "Email", organ.email)


def build(package: Package) -> bytes:
    """The package as UTF-8 XML bytes."""
    root = Element(_q("edXMLEnvelope"))
    header = SubElement(root, _q("edXMLHeader"))
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
    _text(info, "PromulgationDate", package.promulgation_date.isoformat())
    kind = SubElement(message, _q("DocumentType"))
    _text(kind, "Type", package.doc_type)
    _text(kind, "TypeName", package.type_name)
    _text(message, "Subject", package.subject)
    signer = SubElement(message, _q("SignerInfo"))
    _text(signer, "Competence", package.signer_competence)
    _text(signer, "Position", package.signer_position)
    _text(signer, "FullName", package.signer_name)
    _text(message, "DueDate", package.due_date.isoformat() if package.due_date else "")
    places = SubElement(message, _q("ToPlaces"))
    for place in package.to_places:
        _text(places, "Place", place)
    other = SubElement(message, _q("OtherInfo"))
    _text(other, "Priority", PRIORITY.get(package.urgency, 0))
    _text(other, "SecurityLevel", package.secrecy)
    _text(other, "PromulgationAmount", len(package.recipients) + len(package.to_places))
    _text(message, "SteeringType", package.steering_type)
    _text(message, "ResponseFor", package.response_for)
    traces = SubElement(header, _q("TraceHeaderList"))
    for trace in package.traces:
        node = SubElement(traces, _q("TraceHeader"))
        _text(node, "OrganId", trace.organ_id)
        _text(node, "Timestamp", trace.timestamp)
    business = SubElement(header, _q("Bussiness"))
    _text(business, "BussinessDocType", package.business_type)
    _text(business, "BussinessDocReason", package.business_reason)
    body = SubElement(root, _q("edXMLBody"))
    manifest = SubElement(body, _q("edXMLManifest"))
    for item in package.attachments:
        ref = SubElement(manifest, _q("Reference"))
        _text(ref, "ContentId", item.content_id)
        _text(ref, "ContentType", item.content_type)
        _text(ref, "AttachmentName", item.name)
        _text(ref, "Description", item.description)
        _text(ref, "Digest", item.sha256)
    files = SubElement(body, _q("Attachments"))
    for item in package.attachments:
        node = SubElement(files, _q("Attachment"), {"ContentId": item.content_id, "Encoding": "base64"})
        node.text = base64.b64encode(item.data).decode("ascii")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode("utf-8")


def _refuse(detail: Message) -> InvalidInput:
    return InvalidInput(_l("Invalid edXML package: {detail}", detail=detail))


def _one(parent: Element, path: str) -> Element:
    found = parent.find(path)
    if found is None:
        raise _refuse(_l("missing {path}", path=path, path2=path.replace("{" + NS + "}", "")))
    return found


def _get(parent: Element, *names: str) -> str:
    node = parent
    for name in names:
        node = _one(node, _q(name))
    return node.text or ""


def _date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _refuse(_l("bad {what} date {value!r}", what=what, value=value)) from None


def _organ_of(node: Element) -> Organ:
    return Organ(organ_id=_get(node, "OrganId"), name=_get(node, "OrganName"), email=(node.findtext(_q("Email")) or ""))


def parse(data: bytes) -> Package:
    """Read a package; raise InvalidInput for anything unsafe, malformed or inconsistent."""
    if len(data) > MAX_BYTES:
        raise _refuse(_l("too large"))
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise _refuse(_l("DTDs and entities are forbidden")) from None
    except (ParseError, ValueError) as exc:
        raise _refuse(_l("not well-formed XML: {exc}", exc=exc)) from None
    if root.tag != _q("edXMLEnvelope"):
        raise _refuse(_l("unexpected root {tag}", tag=root.tag))
    message = _one(root, f"{_q('edXMLHeader')}/{_q('MessageHeader')}")
    number_text = _get(message, "Code", "CodeNumber")
    if not is_digits(number_text):
        raise _refuse(_l("bad CodeNumber"))
    manifest = {ref.findtext(_q("ContentId")) or "": ref for ref in _one(root, f"{_q('edXMLBody')}/{_q('edXMLManifest')}")}
    attachments = []
    for node in _one(root, f"{_q('edXMLBody')}/{_q('Attachments')}"):
        cid = node.get("ContentId", "")
        ref = manifest.get(cid)
        if ref is None:
            raise _refuse(_l("attachment {cid} not in manifest", cid=cid))
        try:
            raw = base64.b64decode((node.text or "").encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise _refuse(_l("bad base64 in {cid}", cid=cid)) from None
        item = Attachment(
            content_id=cid,
            name=ref.findtext(_q("AttachmentName")) or cid,
            content_type=ref.findtext(_q("ContentType")) or "application/octet-stream",
            data=raw,
            description=ref.findtext(_q("Description")) or "",
        )
        digest = ref.findtext(_q("Digest"))
        if digest and digest != item.sha256:
            raise _refuse(_l("digest mismatch for {name}", name=item.name))
        attachments.append(item)
    if not attachments:
        raise _refuse(_l("no attachment"))
    priority = _get(message, "OtherInfo", "Priority")
    header = _one(root, _q("edXMLHeader"))
    due = message.findtext(_q("DueDate")) or ""
    package = Package(
        sender=_organ_of(_one(message, _q("From"))),
        recipients=[_organ_of(n) for n in message.findall(_q("To"))],
        code_number=int(number_text),
        code_notation=_get(message, "Code", "CodeNotation"),
        place=_get(message, "PromulgationInfo", "Place"),
        promulgation_date=_date(_get(message, "PromulgationInfo", "PromulgationDate"), "ban hành"),
        doc_type=_get(message, "DocumentType", "Type"),
        type_name=_get(message, "DocumentType", "TypeName"),
        subject=_get(message, "Subject"),
        signer_competence=_get(message, "SignerInfo", "Competence"),
        signer_position=_get(message, "SignerInfo", "Position"),
        signer_name=_get(message, "SignerInfo", "FullName"),
        due_date=_date(due, "hạn xử lý") if due else None,
        to_places=[p.text or "" for p in _one(message, _q("ToPlaces"))],
        urgency=URGENCY_OF.get(int(priority) if is_digits(priority) else 0, "normal"),
        secrecy=(message.findtext(f"{_q('OtherInfo')}/{_q('SecurityLevel')}") or "normal"),
        steering_type=int(_get(message, "SteeringType") or 0),
        business_type=int(_get(header, "Bussiness", "BussinessDocType") or 0),
        business_reason=_get(header, "Bussiness", "BussinessDocReason"),
        response_for=message.findtext(_q("ResponseFor")) or "",
        traces=[
            Trace(organ_id=t.findtext(_q("OrganId")) or "", timestamp=t.findtext(_q("Timestamp")) or "")
            for t in _one(header, _q("TraceHeaderList"))
        ],
        attachments=attachments,
    )
    if _get(message, "DocumentId") != package.document_id:
        raise _refuse(_l("DocumentId does not match the code"))
    if not package.subject.strip() or not package.sender.organ_id:
        raise _refuse(_l("missing subject or sender"))
    return package
