"""Administrative documents: their layout per Decree 30/2020/NĐ-CP, numbers and notations,
and the registers that must print.

``layout`` builds a document's DOCX (and owns the token contract with ``signing``),
``notation`` formats numbers, notations and date lines, ``registers_print`` builds the
printable incoming and outgoing registers. PDF conversion is injected (``PdfConverter``):
``signing.convert`` provides it, and ``services`` never imports ``signing``.
"""

from services.documents.layout import (
    DATE_FIELD,
    DATE_FIELD_MM,
    NUMBER_FIELD,
    NUMBER_FIELD_MM,
    BodyBlock,
    DocumentSpec,
    PdfConverter,
    SigningBlock,
    build_document_docx,
    build_document_pdf,
    sig_token,
)
from services.documents.notation import (
    TYPE_CODES,
    canonical_type_code,
    format_number,
    notation,
    notation_suffix,
    vn_date_line,
)
from services.documents.registers_print import (
    REGISTER_COLUMNS,
    build_register_docx,
)

__all__ = [
    "DATE_FIELD",
    "DATE_FIELD_MM",
    "NUMBER_FIELD",
    "NUMBER_FIELD_MM",
    "REGISTER_COLUMNS",
    "TYPE_CODES",
    "BodyBlock",
    "DocumentSpec",
    "PdfConverter",
    "SigningBlock",
    "build_document_docx",
    "build_document_pdf",
    "build_register_docx",
    "canonical_type_code",
    "format_number",
    "notation",
    "notation_suffix",
    "sig_token",
    "vn_date_line",
]
