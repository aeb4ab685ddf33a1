"""Validation of signed PDFs: what the clerk sees before accepting a document, what auditors keep.

Owns `validate_pdf` and its JSON-serialisable `ValidationReport`: per signature, who signed
(name, organisation, certificate serial and issuer), when (time-stamp or claimed time),
whether it is intact, cryptographically valid, trusted and not revoked, which PAdES level it
reaches, what it covers and what was changed after it, with a one-line verdict in Vietnamese
and English. `assert_signed_by` checks that a signature was made with a certificate registered
for the expected signer (`services.keys.certificates`).

Each signature gets its own fresh `ValidationContext` (trust roots from `TrustConfig`):
its soft-fail record then tells whether *this* certificate's revocation status was actually
established ("good") or could not be ("unknown").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from datetime import datetime
from typing import Literal

from asn1crypto import x509 as asn1_x509
from pydantic import BaseModel, Field
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import PdfSignatureValidationSpec, SignatureValidationSpec
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from services.i18n import _l
from signing.appearance import VN_TZ
from signing.archive import ArchiveStamp, archive_chain
from signing.errors import UnexpectedSigner
from signing.fonts import nfc
from signing.pades import open_pdf
from signing.trust import TrustConfig

PadesLevel = Literal["B-B", "B-T", "B-LT", "B-LTA"]
RevocationStatus = Literal["good", "revoked", "unknown"]


class SignerIdentity(BaseModel):
    """Who a signature's certificate names."""

    name: str
    organisation: str | None = None
    title: str | None = None
    subject: str
    serial_hex: str
    issuer: str
    fingerprint: str = Field("", description="SHA-256 of the signing certificate (DER), hex.")


class SignatureReport(BaseModel):
    """The validation outcome of one signature."""

    field_name: str
    signer: SignerIdentity
    signing_time: datetime | None
    signing_time_source: Literal["timestamp", "claimed"] | None
    intact: bool
    valid: bool
    trusted: bool
    revocation: RevocationStatus
    pades_level: PadesLevel | None
    coverage: str
    modification_level: str
    certification: str | None = Field(None, description="DocMDP permission if this is a certification signature.")
    docmdp_ok: bool | None
    ok: bool = Field(description="Intact, valid, trusted, not revoked, and no disallowed change after it.")
    verdict_vi: str
    verdict_en: str


class ValidationReport(BaseModel):
    """All signatures of one document."""

    signatures: list[SignatureReport]
    document_timestamps: int = 0
    archive: list[ArchiveStamp] = Field(default_factory=list, description="Document time stamps (B-LTA), oldest first.")
    all_valid: bool
    summary_vi: str
    summary_en: str
    validated_at: datetime


# One place for the report's wording, each entry (Vietnamese, English).
_WORDING: dict[str, tuple[str, str]] = {
    "not_intact": (
        "Chữ ký không còn nguyên vẹn: nội dung đã bị sửa sau khi ký.",
        "Not intact: the signed content was altered.",
    ),
    "invalid": ("Chữ ký không hợp lệ về mặt mật mã.", "Cryptographically invalid signature."),
    "revoked": ("Chứng thư số của người ký đã bị thu hồi.", "The signer's certificate has been revoked."),
    "untrusted": (
        "Chữ ký nguyên vẹn nhưng chứng thư số không thuộc tổ chức chứng thực được tin cậy.",
        "Intact, but the certificate does not chain to a trusted root.",
    ),
    "uncovered": (
        "Tệp có thêm dữ liệu sau chữ ký cuối cùng mà chữ ký không bảo vệ (bị nối thêm sau khi ký).",
        "The file carries data after its last signature that no signature covers (appended after signing).",
    ),
    "modified": (
        "Văn bản bị thay đổi sau khi ký theo cách không được phép (ví dụ thêm hoặc sửa trang).",
        "The document was changed after signing in a way that is not allowed (e.g. pages added or altered).",
    ),
    "NONE": ("Chữ ký hợp lệ, đáng tin cậy; văn bản không thay đổi sau khi ký.", "Valid and trusted; no change after signing."),
    "LTA_UPDATES": (
        "Chữ ký hợp lệ, đáng tin cậy; sau khi ký chỉ bổ sung dữ liệu kiểm tra dài hạn.",
        "Valid and trusted; only long-term validation data added after signing.",
    ),
    "FORM_FILLING": (
        "Chữ ký hợp lệ, đáng tin cậy; sau khi ký chỉ điền biểu mẫu.",
        "Valid and trusted; only form filling after signing.",
    ),
    "ANNOTATIONS": (
        "Chữ ký hợp lệ, đáng tin cậy; sau khi ký chỉ thêm ghi chú.",
        "Valid and trusted; only annotations added after signing.",
    ),
}


def _verdict(key: str, *, revocation_unknown: bool = False) -> tuple[str, str]:
    vi, en = _WORDING[key]
    if revocation_unknown:
        vi += " Chưa xác định được tình trạng thu hồi chứng thư."
        en += " Revocation status could not be established."
    return vi, en


def _identity(cert: asn1_x509.Certificate) -> SignerIdentity:
    subject = cert.subject.native
    return SignerIdentity(
        name=nfc(str(subject.get("common_name", cert.subject.human_friendly))),
        organisation=nfc(str(subject["organization_name"])) if subject.get("organization_name") else None,
        title=nfc(str(subject["title"])) if subject.get("title") else None,
        subject=nfc(cert.subject.human_friendly),
        serial_hex=format(cert.serial_number, "x"),
        issuer=nfc(cert.issuer.human_friendly),
        fingerprint=cert.sha256.hex(),
    )


def _dss_has_revocation_data(reader: PdfFileReader) -> bool:
    try:
        dss = reader.root["/DSS"]
    except KeyError:
        return False
    return bool(dss.get("/OCSPs")) or bool(dss.get("/CRLs"))


def lta_validation_spec(trust: TrustConfig) -> PdfSignatureValidationSpec:
    """The AdES long-term validation spec for `trust` (revocation information required)."""
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=list(trust.trust_roots)),
                revinfo_policy=CertRevTrustPolicy(revocation_checking_policy=REQUIRE_REVINFO),
                time_tolerance=trust.time_tolerance,
            )
        )
    )


async def _passes_lta(sig: EmbeddedPdfSignature, trust: TrustConfig) -> bool:
    """ETSI EN 319 102-1 long-term validation over the document time-stamp chain."""
    try:
        result = await ades_lta_validation(sig, lta_validation_spec(trust))
    except (SignatureValidationError, ValueError, KeyError):
        return False
    return result.ades_subindic == AdESPassed.OK


async def _report_one(
    sig: EmbeddedPdfSignature, *, reader: PdfFileReader, trust: TrustConfig, doc_ts_revisions: list[int]
) -> SignatureReport:
    async with contextlib.aclosing(trust.validation_context(for_signing=False)) as context:
        status: PdfSignatureStatus = await async_validate_pdf_signature(
            sig, signer_validation_context=context, ts_validation_context=context
        )
        soft_failed = bool(context.soft_fail_exceptions)
    mod_level = status.modification_level
    mod_name = mod_level.name if mod_level is not None else ModificationLevel.OTHER.name
    if status.revoked:
        revocation: RevocationStatus = "revoked"
    elif status.trusted and not soft_failed:
        revocation = "good"
    else:
        revocation = "unknown"

    ts = status.timestamp_validity
    if ts is not None and ts.intact and ts.valid:
        signing_time, source = ts.timestamp, "timestamp"
    elif status.signer_reported_dt is not None:
        signing_time, source = status.signer_reported_dt, "claimed"
    else:
        signing_time, source = None, None

    level: PadesLevel | None = None
    if status.intact and status.valid and str(sig.sig_object.get("/SubFilter")) == "/ETSI.CAdES.detached":
        level = "B-B"
        if ts is not None and ts.intact and ts.valid and ts.trusted:
            level = "B-T"
            if _dss_has_revocation_data(reader):
                level = "B-LT"
                if any(rev > sig.signed_revision for rev in doc_ts_revisions) and await _passes_lta(sig, trust):
                    level = "B-LTA"

    modification_ok = mod_name != ModificationLevel.OTHER.name and status.docmdp_ok is not False
    # The signature must reach the end of the file, or of its revision when later revisions follow
    # (their changes are judged by the difference analysis above). Bytes appended after the last
    # revision belong to no revision: the difference analysis never sees them.
    last_revision = sig.signed_revision == reader.xrefs.total_revisions - 1
    covered = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION and not last_revision
    )
    ok = bool(status.intact and status.valid and status.trusted and revocation != "revoked" and modification_ok and covered)
    if not status.intact:
        vi, en = _verdict("not_intact")
    elif not status.valid:
        vi, en = _verdict("invalid")
    elif revocation == "revoked":
        vi, en = _verdict("revoked")
    elif not status.trusted:
        vi, en = _verdict("untrusted")
    elif not modification_ok:
        vi, en = _verdict("modified")
    elif not covered:
        vi, en = _verdict("uncovered")
    else:
        vi, en = _verdict(mod_name, revocation_unknown=revocation == "unknown")
    docmdp = sig.docmdp_level if sig.sig_object.get("/Reference") else None
    return SignatureReport(
        field_name=str(sig.field_name),
        signer=_identity(sig.signer_cert),
        signing_time=signing_time.astimezone(VN_TZ) if signing_time else None,
        signing_time_source=source,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        revocation=revocation,
        pades_level=level,
        coverage=status.coverage.name if status.coverage is not None else "UNKNOWN",
        modification_level=mod_name,
        certification=docmdp.name if docmdp is not None else None,
        docmdp_ok=status.docmdp_ok,
        ok=ok,
        verdict_vi=vi,
        verdict_en=en,
    )


async def async_validate_pdf(pdf: bytes, *, trust: TrustConfig) -> ValidationReport:
    """Async form of `validate_pdf`."""
    reader = open_pdf(pdf)
    embedded = list(reader.embedded_regular_signatures)
    doc_ts_revisions = [ts.signed_revision for ts in reader.embedded_timestamp_signatures]
    reports: list[SignatureReport] = []
    for sig in embedded:
        try:
            reports.append(await _report_one(sig, reader=reader, trust=trust, doc_ts_revisions=doc_ts_revisions))
        except (SignatureValidationError, ValueError, KeyError) as exc:
            # A signature too broken to analyse is reported, not raised: the clerk must see it.
            reports.append(_broken_report(sig, exc))
    archive = await archive_chain(pdf, trust=trust) if doc_ts_revisions else []
    # A broken archive stamp fails the document as a broken signature would.
    stamps_ok = all(s.intact and s.valid and s.trusted and s.covers_document for s in archive)
    all_valid = bool(reports) and all(r.ok for r in reports) and stamps_ok
    return ValidationReport(
        signatures=reports,
        document_timestamps=len(doc_ts_revisions),
        archive=archive,
        all_valid=all_valid,
        summary_vi=_summary_vi(reports),
        summary_en=_summary_en(reports),
        validated_at=datetime.now(tz=VN_TZ).replace(microsecond=0),
    )


def _broken_report(sig: EmbeddedPdfSignature, exc: Exception) -> SignatureReport:
    try:
        identity = _identity(sig.signer_cert)
    except (ValueError, KeyError, SignatureValidationError):
        identity = SignerIdentity(name="?", subject="?", serial_hex="", issuer="?")
    return SignatureReport(
        field_name=str(sig.field_name),
        signer=identity,
        signing_time=None,
        signing_time_source=None,
        intact=False,
        valid=False,
        trusted=False,
        revocation="unknown",
        pades_level=None,
        coverage="UNKNOWN",
        modification_level=ModificationLevel.OTHER.name,
        docmdp_ok=None,
        ok=False,
        verdict_vi="Không kiểm tra được chữ ký: dữ liệu chữ ký bị hỏng.",
        verdict_en=f"The signature could not be checked: {exc}",
    )


def _summary_vi(reports: list[SignatureReport]) -> str:
    if not reports:
        return "Văn bản không có chữ ký số."
    good = sum(r.ok for r in reports)
    if good == len(reports):
        return f"Tất cả {len(reports)} chữ ký số hợp lệ và đáng tin cậy."
    return f"{len(reports) - good}/{len(reports)} chữ ký số không đạt; không tiếp nhận văn bản."


def _summary_en(reports: list[SignatureReport]) -> str:
    if not reports:
        return "The document carries no digital signature."
    good = sum(r.ok for r in reports)
    if good == len(reports):
        return f"All {len(reports)} signature(s) valid and trusted."
    return f"{len(reports) - good} of {len(reports)} signature(s) failed; do not accept the document."


def validate_pdf(pdf: bytes, *, trust: TrustConfig) -> ValidationReport:
    """Validate every signature of `pdf` against `trust`.

    An unsigned PDF gives a report with no signatures (`all_valid` False); a file that is not
    a readable PDF raises `InvalidPdf` (`EncryptedPdf` when encrypted). Must not be called from
    a running event loop: use `async_validate_pdf` there.
    """
    return asyncio.run(async_validate_pdf(pdf, trust=trust))


def assert_signed_by(report: ValidationReport, accepted: Collection[str], *, expected: str) -> SignatureReport:
    """Return the valid signature made with one of the `accepted` certificates (SHA-256
    fingerprints of those registered and confirmed for the expected signer, named `expected`).

    Names are never compared: a namesake's certificate from a trusted CA is refused like any
    other. Raises `UnexpectedSigner` when no signature uses an accepted certificate or the one
    that does is not valid.
    """
    wanted = {f.lower() for f in accepted}
    found = [sig for sig in report.signatures if sig.signer.fingerprint and sig.signer.fingerprint in wanted]
    for sig in found:
        if sig.ok:
            return sig
    if found:
        bad = found[0]
        raise UnexpectedSigner(
            _l(
                "The signature of {name} is not valid: {verdict_en}",
                name=bad.signer.name,
                verdict_en=bad.verdict_en,
                verdict_vi=bad.verdict_vi,
            ),
        )
    if not report.signatures:
        raise UnexpectedSigner(_l("The document is not signed by {expected}.", expected=expected))
    other = report.signatures[-1].signer
    raise UnexpectedSigner(
        _l(
            "The signature ({name}, certificate serial {serial_hex} issued by {issuer}) was not made with a certificate registered and confirmed for {expected}; a matching name is not enough.",
            name=other.name,
            serial_hex=other.serial_hex.upper(),
            issuer=other.issuer,
            expected=expected,
        ),
    )
