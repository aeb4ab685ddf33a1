"""PAdES signing of PDFs: the leader's signature, the organisation's seal, attachment stamps.

Owns `sign_pdf`: every signature is an incremental update (earlier signatures stay valid), at
level B-B, B-T (RFC 3161 time stamp from the configured TSA), B-LT (validation data in the
DSS) or B-LTA (plus a document time stamp). Inputs that cannot be signed safely are refused
before anything is produced: not a PDF, truncated, encrypted, a certification signature that
forbids changes, a revoked, expired, untrusted certificate or one without nonRepudiation.

Speed: fonts, generated images and their PDF encodings are cached per process
(`signing.fonts`, `signing.appearance`); keys are cached by the signer loader
(`signing.signers`); and the CMS space is reserved from a size table instead of pyHanko's
default estimate, which signs a throw-away CMS first and so doubles the private-key work.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields as sig_fields
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.validation import read_certification_data
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InvalidCertificateError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)

from services.i18n import _l
from services.metrics import SIGNING_SECONDS
from signing.appearance import VN_TZ, Appearance, resolve_placement, stamp_style
from signing.errors import (
    CertificateExpired,
    CertificateNotUsable,
    CertificateRevoked,
    ChangesForbidden,
    EncryptedPdf,
    InvalidPdf,
    SigningError,
    UntrustedCertificate,
)
from signing.fonts import nfc
from signing.levels import LEVELS, Level
from signing.trust import TrustConfig

# Hex characters reserved for the CMS blob. RSA-2048/ECDSA with a three-certificate chain
# is ≈ 5 kB DER (10 kB hex); a time-stamp token with its own chain adds ≈ 5 kB. Too small
# a reservation is detected by pyHanko and retried with its own estimate.
_RESERVED_HEX: dict[Level, int] = {"B-B": 16 * 1024, "B-T": 32 * 1024, "B-LT": 32 * 1024, "B-LTA": 32 * 1024}


def open_pdf(pdf: bytes) -> PdfFileReader:
    """Parse `pdf`, refusing what is not a readable, unencrypted PDF.

    Raises `InvalidPdf` (not a PDF, truncated, broken) or `EncryptedPdf`.
    """
    if not isinstance(pdf, bytes | bytearray) or b"%PDF-" not in bytes(pdf[:1024]):
        raise InvalidPdf(_l("The file is not a PDF."))
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        encrypted = reader.encrypted
        if not encrypted:
            # Touch the page tree: a truncated file often parses its trailer but not its pages.
            _ = reader.root["/Pages"]
            if reader.root["/Pages"].get("/Count", 0) < 1:
                raise InvalidPdf(_l("The PDF has no pages."))
    except (PdfError, KeyError, ValueError, TypeError, IndexError, AttributeError, OSError) as exc:
        raise InvalidPdf(_l("The PDF is damaged or truncated: {exc}", exc=exc)) from exc
    if encrypted:
        raise EncryptedPdf(
            _l("The PDF is encrypted; send an unencrypted copy."),
        )
    return reader


def subject_common_name(cert: asn1_x509.Certificate) -> str:
    """The certificate holder's common name (a person's full name or the organisation's)."""
    native = cert.subject.native
    return nfc(str(native.get("common_name") or cert.subject.human_friendly))


async def check_signer_certificate(*, signer: Signer, context: ValidationContext) -> None:
    """Refuse certificates that must not sign: expired, without nonRepudiation, untrusted, revoked.

    Expiry and key usage are checked locally first so their errors are specific; then the
    chain is validated against the context's trust roots with revocation checking (OCSP/CRL), reusing `context`
    so that B-LT embeds exactly the data fetched here.
    """
    cert = signer.signing_cert
    if cert is None:
        raise CertificateNotUsable(_l("The signing key has no certificate."))
    now = datetime.now(tz=VN_TZ)
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if not (not_before <= now <= not_after):
        raise CertificateExpired(
            _l(
                "The certificate is expired or not yet valid ({not_before:%Y-%m-%d} to {not_after:%Y-%m-%d}).",
                not_before=not_before,
                not_after=not_after,
            ),
        )
    key_usage = cert.key_usage_value.native if cert.key_usage_value is not None else set()
    if "non_repudiation" not in key_usage:
        raise CertificateNotUsable(
            _l("The certificate lacks the nonRepudiation key usage required for document signatures."),
        )
    intermediates = [c for c in signer.cert_registry if c.dump() != cert.dump()] if signer.cert_registry else []
    validator = CertificateValidator(cert, intermediate_certs=intermediates, validation_context=context)
    try:
        await validator.async_validate_usage({"non_repudiation"})
    except RevokedError as exc:
        raise CertificateRevoked(_l("The signer's certificate has been revoked.")) from exc
    except ExpiredError as exc:
        raise CertificateExpired(_l("A certificate in the chain has expired.")) from exc
    except (PathBuildingError, PathValidationError, InvalidCertificateError, ValidationError) as exc:
        raise UntrustedCertificate(
            _l("The certificate is not valid or not trusted: {exc}", exc=exc),
        ) from exc


def _check_modification_allowed(reader: PdfFileReader, *, certify: MDPPerm | None) -> None:
    cert_data = read_certification_data(reader)
    if cert_data is not None and cert_data.permission == MDPPerm.NO_CHANGES:
        raise ChangesForbidden(
            _l("The document carries a certification signature that forbids any change."),
        )
    if certify is not None and reader.embedded_signatures:
        raise ChangesForbidden(
            _l("A certification signature must be the document's first signature."),
        )


def _existing_signature_field(reader: PdfFileReader, field_name: str) -> tuple[bool, bool]:
    """(field exists, field already signed) for `field_name`."""
    for name, value, _ref in sig_fields.enumerate_sig_fields(reader, filled_status=None):
        if name == field_name:
            return True, value is not None
    return False, False


async def async_sign_pdf(
    pdf: bytes,
    *,
    signer: Signer,
    level: Level,
    trust: TrustConfig,
    appearance: Appearance | None,
    field_name: str,
    reason: str | None = None,
    location: str | None = None,
    certify: MDPPerm | None = None,
) -> bytes:
    """Async form of `sign_pdf` (use it inside an event loop, e.g. a FastAPI route)."""
    if level not in LEVELS:
        raise ValueError(f"unknown PAdES level {level!r}")
    reader = open_pdf(pdf)
    _check_modification_allowed(reader, certify=certify)
    exists, filled = _existing_signature_field(reader, field_name)
    if filled:
        raise ChangesForbidden(_l("Signature field {field_name!r} is already signed.", field_name=field_name))
    # Fresh per signature (cached OCSP answers must not outlive a revocation); closed on exit
    # so its HTTP session does not leak.
    with SIGNING_SECONDS.time():
        async with contextlib.aclosing(trust.validation_context(for_signing=True)) as context:
            return await _sign_checked(
                pdf,
                reader=reader,
                exists=exists,
                signer=signer,
                level=level,
                trust=trust,
                context=context,
                appearance=appearance,
                field_name=field_name,
                reason=reason,
                location=location,
                certify=certify,
            )


async def _sign_checked(
    pdf: bytes,
    *,
    reader: PdfFileReader,
    exists: bool,
    signer: Signer,
    level: Level,
    trust: TrustConfig,
    context: ValidationContext,
    appearance: Appearance | None,
    field_name: str,
    reason: str | None,
    location: str | None,
    certify: MDPPerm | None,
) -> bytes:
    await check_signer_certificate(signer=signer, context=context)

    if level != "B-B" and not trust.tsa_url:
        raise SigningError(
            _l("Level {level} needs a time-stamping authority, but none is configured.", level=level),
        )

    signer_name = subject_common_name(signer.signing_cert)
    signed_at = datetime.now(tz=VN_TZ)
    style = None
    field_spec = None
    if appearance is not None:
        style = stamp_style(appearance=appearance, signer_name=signer_name, signed_at=signed_at)
        if not exists:
            page_size = _page_size(reader, appearance.page or 0)
            placement = resolve_placement(appearance=appearance, pdf=pdf, page_size=page_size)
            field_spec = SigFieldSpec(
                sig_field_name=field_name,
                on_page=placement.page,
                box=tuple(round(v, 2) for v in placement.box.as_tuple()),  # type: ignore[arg-type]  # pyHanko says int, takes any number
            )
    elif not exists:
        field_spec = SigFieldSpec(sig_field_name=field_name)

    meta = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        name=signer_name,
        subfilter=SigSeedSubFilter.PADES,
        certify=certify is not None,
        docmdp_permissions=certify or MDPPerm.FILL_FORMS,
        embed_validation_info=level in ("B-LT", "B-LTA"),
        use_pades_lta=level == "B-LTA",
        validation_context=context if level in ("B-LT", "B-LTA") else None,
    )
    try:
        async with trust.timestamping() as timestamper:
            pdf_signer = PdfSigner(
                meta, signer, timestamper=timestamper if level != "B-B" else None, stamp_style=style, new_field_spec=field_spec
            )
            try:
                return await _sign_once(pdf, pdf_signer, bytes_reserved=_RESERVED_HEX[level])
            except PyHankoSigningError as exc:
                if "allocated" not in str(exc):
                    raise
                # Unusually long chain or TSA token: let pyHanko measure the real size.
                return await _sign_once(pdf, pdf_signer, bytes_reserved=None)
    except PyHankoSigningError as exc:
        message = str(exc)
        if "forbids" in message or "Certification" in message:
            raise ChangesForbidden(
                _l("An earlier signature does not allow this change: {message}", message=message),
            ) from exc
        raise SigningError(_l("Signing failed: {message}", message=message)) from exc
    except (TimeoutError, OSError) as exc:
        raise SigningError(
            _l("Could not reach the time-stamping or revocation service: {exc}", exc=exc),
        ) from exc


async def _sign_once(pdf: bytes, pdf_signer: PdfSigner, *, bytes_reserved: int | None) -> bytes:
    # A fresh writer per attempt: a failed attempt leaves objects behind in its writer.
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = io.BytesIO()
    await pdf_signer.async_sign_pdf(writer, bytes_reserved=bytes_reserved, output=out)
    return out.getvalue()


def _page_size(reader: PdfFileReader, page: int) -> tuple[float, float]:
    try:
        page_obj = reader.find_page_for_modification(page)[0].get_object()
    except (IndexError, KeyError, PdfError) as exc:
        raise InvalidPdf(_l("The document has no page {value}.", value=page + 1)) from exc
    box = page_obj.get("/CropBox") or page_obj.get("/MediaBox") or _inherited_mediabox(page_obj)
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x2 - x1, y2 - y1)


def _inherited_mediabox(page_obj: object) -> list[float]:
    node = page_obj
    while node is not None:
        box = node.get("/MediaBox")  # type: ignore[attr-defined]  # a pyHanko DictionaryObject
        if box is not None:
            return list(box)
        parent = node.get("/Parent")  # type: ignore[attr-defined]  # a pyHanko DictionaryObject
        node = parent.get_object() if parent is not None else None
    return [0, 0, 595.28, 841.89]


def sign_pdf(
    pdf: bytes,
    *,
    signer: Signer,
    level: Level,
    trust: TrustConfig,
    appearance: Appearance | None,
    field_name: str,
    reason: str | None = None,
    location: str | None = None,
    certify: MDPPerm | None = None,
) -> bytes:
    """Sign `pdf` and return the signed file (the input plus one incremental update).

    `level`: B-B, B-T (TSA time stamp), B-LT (+ validation data), B-LTA (+ document time stamp).
    `appearance`: the visible mark (None: invisible signature). If `field_name` names an empty
    signature field reserved earlier (`signing.forms.add_text_fields`), the signature goes
    there; otherwise a field is created at the appearance's placement.
    `certify`: make this the document's certification signature allowing only the given
    changes afterwards (the leader signs with `MDPPerm.FILL_FORMS` so that the clerk can still
    fill the number and date and apply the seal).

    Raises InvalidPdf, EncryptedPdf, ChangesForbidden, CertificateRevoked, CertificateExpired,
    CertificateNotUsable, UntrustedCertificate or SigningError; nothing is returned then.
    Must not be called from a running event loop: use `async_sign_pdf` there.
    """
    return asyncio.run(
        async_sign_pdf(
            pdf,
            signer=signer,
            level=level,
            trust=trust,
            appearance=appearance,
            field_name=field_name,
            reason=reason,
            location=location,
            certify=certify,
        )
    )
