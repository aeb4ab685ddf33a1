"""The archived book of a closed register: printed through LibreOffice, then given a document
time stamp (PAdES B-LTA) so it stays verifiable however long it is kept. Runs with no
transaction open; `services.documents.register_archive.archive` records the result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.config import Settings
from services.documents.registers_print import RegisterKind, build_register_pdf
from signing.archive import add_archive_timestamp
from signing.convert import get_converter
from signing.trust import TrustConfig


async def archived_book(*, settings: Settings, kind: RegisterKind, org_name: str, year: int, rows: Sequence[Mapping[str, object]]) -> bytes:
    pdf = await build_register_pdf(kind=kind, org_name=org_name, year=year, rows=rows, converter=get_converter())
    return await add_archive_timestamp(pdf, trust=TrustConfig.from_settings(settings))
