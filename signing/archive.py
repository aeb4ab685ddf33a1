"""Archive time stamps (PAdES B-LTA): what keeps a signed document verifiable for decades.

A signature made at B-LT carries the certificates and revocation answers it needed, but those
are themselves signed with keys whose certificates expire. A document time stamp over the whole
file (and its validation data) proves they existed and were valid at that time; before the time
stamping authority's own certificate expires, a new stamp over the file and the old one's
validation data extends the proof again. That chain is what `archive_chain` reads and
`add_archive_timestamp` extends (pyHanko's `update_archival_timestamp_chain`, which validates the
last stamp and stores its validation data before adding the next).

`refresh_due` is the rule the archive process applies: a final document with no stamp gets its
first; one whose newest stamp's authority certificate expires within the margin gets the next
(but not more often than `retry`, in case the authority has not renewed its certificate yet).
"""

from __future__ import annotations

import contextlib
import io
from datetime import datetime, timedelta

from pydantic import BaseModel
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.validation import async_validate_pdf_timestamp
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import DocumentTimestampStatus, SignatureCoverageLevel

from services.i18n import _l
from signing.appearance import VN_TZ
from signing.errors import SigningError
from signing.pades import open_pdf, subject_common_name
from signing.trust import TrustConfig

__all__ = ["ArchiveStamp", "add_archive_timestamp", "archive_chain", "newest_stamp_facts", "refresh_due"]


class ArchiveStamp(BaseModel):
    """One document time stamp of the archive chain, oldest first."""

    time: datetime
    authority: str
    authority_expires: datetime
    intact: bool
    valid: bool
    trusted: bool
    covers_document: bool


def _covers(status: DocumentTimestampStatus) -> bool:
    """The stamp covers the file, or its revision with only validation data and later stamps
    after it (pyHanko stores a stamp's own validation data in the next revision)."""
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return True
    diff = status.diff_result
    level = getattr(diff, "modification_level", None)
    return status.coverage == SignatureCoverageLevel.ENTIRE_REVISION and level is not None and level <= ModificationLevel.LTA_UPDATES


def _stamped_at(stamp: EmbeddedPdfSignature) -> datetime:
    """The time the authority put in the stamp (its TSTInfo genTime), read without validating."""
    return stamp.signed_data["encap_content_info"]["content"].parsed["gen_time"].native


def newest_stamp_facts(pdf: bytes) -> tuple[datetime, datetime] | None:
    """(time of the newest document time stamp, its authority certificate's expiry), read
    without validating: enough to decide whether a refresh is due. None without a stamp."""
    stamps = open_pdf(pdf).embedded_timestamp_signatures
    if not stamps:
        return None
    return _stamped_at(stamps[-1]), stamps[-1].signer_cert.not_valid_after


def refresh_due(facts: tuple[datetime, datetime] | None, *, now: datetime, margin: timedelta, retry: timedelta) -> bool:
    """Whether the document needs its first or its next archive stamp at `now`."""
    if facts is None:
        return True
    stamped_at, authority_expires = facts
    return authority_expires - margin <= now and stamped_at <= now - retry


async def archive_chain(pdf: bytes, *, trust: TrustConfig) -> list[ArchiveStamp]:
    """Every document time stamp of `pdf`, each validated against `trust`."""
    reader = open_pdf(pdf)
    chain: list[ArchiveStamp] = []
    for stamp in reader.embedded_timestamp_signatures:
        async with contextlib.aclosing(trust.validation_context(for_signing=False)) as context:
            try:
                status = await async_validate_pdf_timestamp(stamp, validation_context=context)
                intact, valid, trusted = bool(status.intact), bool(status.valid), bool(status.trusted)
                whole = _covers(status)
                time = status.timestamp
            except (SignatureValidationError, ValueError, KeyError):
                intact = valid = trusted = whole = False
                time = _stamped_at(stamp)
        chain.append(
            ArchiveStamp(
                time=time.astimezone(VN_TZ),
                authority=subject_common_name(stamp.signer_cert),
                authority_expires=stamp.signer_cert.not_valid_after.astimezone(VN_TZ),
                intact=intact,
                valid=valid,
                trusted=trusted,
                covers_document=whole,
            )
        )
    return chain


async def add_archive_timestamp(pdf: bytes, *, trust: TrustConfig) -> bytes:
    """`pdf` with its archive chain extended by one document time stamp (incremental update:
    every earlier byte, signatures included, stays as it was)."""
    if not trust.tsa_url:
        raise SigningError(_l("Archive time stamps need a time-stamping authority, but none is configured."))
    reader = open_pdf(pdf)
    async with trust.timestamping() as timestamper, contextlib.aclosing(trust.validation_context(for_signing=True)) as context:
        assert timestamper is not None
        stamper = PdfTimeStamper(timestamper)
        if reader.embedded_timestamp_signatures:
            output = await stamper.async_update_archival_timestamp_chain(reader, context, in_place=False)
        else:  # the first stamp: nothing to validate before it
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
            output = await stamper.async_timestamp_pdf(writer, "sha256", validation_context=context)
    return output.getvalue()
