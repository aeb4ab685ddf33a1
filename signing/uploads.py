"""Signature reports of uploaded PDFs, shown to the clerk who registers an incoming document
and stored with its files (by the upload route and the incoming workflow's activity)."""

from __future__ import annotations

from typing import Any

from services.config import Settings


def _has_signature(pdf: bytes) -> bool:
    return b"/ByteRange" in pdf


def validate_upload(settings: Settings, pdf: bytes) -> tuple[dict[str, Any] | None, bool | None]:
    """The signature report of a PDF as JSON-ready data, or (None, None) when it carries no signature.

    Blocking (runs its own event loop): call it through `asyncio.to_thread`."""
    if not _has_signature(pdf):
        return None, None
    from signing.trust import TrustConfig
    from signing.validation import validate_pdf

    try:
        trust = TrustConfig.from_settings(settings)
    except (FileNotFoundError, RuntimeError) as exc:
        return {
            "signatures": [],
            "all_valid": False,
            "error": str(exc),
            "summary_vi": "Chưa kiểm tra được chữ ký số: hệ thống chưa cấu hình chứng thư gốc tin cậy.",
            "summary_en": "Signatures could not be checked: no trusted roots are configured.",
        }, None
    try:
        report = validate_pdf(pdf, trust=trust)
    except Exception as exc:  # noqa: BLE001 - an unreadable signature is a finding, shown to the clerk
        return {
            "signatures": [],
            "all_valid": False,
            "error": str(exc),
            "summary_vi": "Không kiểm tra được chữ ký số của tệp (tệp hoặc chữ ký bị hỏng).",
            "summary_en": f"The signatures could not be checked: {exc}",
        }, False
    return report.model_dump(mode="json"), report.all_valid
