"""Demo data of the document, meeting and report flows, seeded through their real workflows
on the first start of `lienthong dev` (the directory itself is seeded by services.demo).

Each domain adds one call below; every seeder is idempotent.
"""

from __future__ import annotations

import logging

from temporalio.client import Client

from services.config import Settings
from services.db import Database

log = logging.getLogger(__name__)


async def seed_domains(*, settings: Settings, database: Database, client: Client) -> None:
    seeders: list = []  # (name, async callable(settings=, database=, client=))
    for name, seeder in seeders:
        try:
            await seeder(settings=settings, database=database, client=client)
        except Exception:  # noqa: BLE001 - one domain's demo must not stop the others
            log.exception("demo data for %s failed", name)
