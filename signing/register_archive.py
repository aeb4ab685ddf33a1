"""The archived book of a closed register: printed through LibreOffice (a part at a time, as
`signing.register_print` prints any long book), then given a document time stamp (PAdES B-LTA)
so it stays verifiable however long it is kept. Runs with no transaction open;
`services.documents.register_archive.archive` records the result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.config import Settings
from services.documents.registers_print import PART_ROWS, RegisterKind
from signing.archive import add_archive_timestamp
from signing.convert import get_converter
from signing.register_print import PartStore, Progress, print_book
from signing.trust import TrustConfig


async def archived_book(
    *,
    settings: Settings,
    kind: RegisterKind,
    org_name: str,
    year: int,
    rows: Sequence[Mapping[str, object]],
    part_rows: int = PART_ROWS,
    progress: Progress | None = None,
    store: PartStore | None = None,
) -> bytes:
    pdf = await print_book(
        kind=kind, org_name=org_name, year=year, rows=rows, converter=get_converter(), part_rows=part_rows, progress=progress, store=store
    )
    return await add_archive_timestamp(pdf, trust=TrustConfig.from_settings(settings))
