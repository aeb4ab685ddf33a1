"""Demo data of the document, meeting and report flows, seeded through their real workflows
on the first start of `lienthong dev` (the directory itself is seeded by demo.directory).

Each domain adds one call below; every seeder is idempotent.
"""

from __future__ import annotations

import logging

from temporalio.client import Client

from services.config import Settings
from services.db import Database

log = logging.getLogger(__name__)


async def seed_domains(*, settings: Settings, database: Database, client: Client) -> list[str]:
    """Seeds every domain; returns the names of those whose demo failed (logged with the cause)."""
    from demo.incoming import seed_demo as seed_incoming
    from demo.meetings import seed_demo as seed_meetings
    from demo.outgoing import seed_demo as seed_outgoing

    seeders: list = [
        ("meetings", seed_meetings),
        ("incoming", seed_incoming),
        ("outgoing", seed_outgoing),
    ]  # (name, async callable(settings=, database=, client=))
    from demo.reports import seed_demo as seed_reports

    seeders.append(("reports", seed_reports))
    from demo.minutes import seed_demo as seed_minutes

    seeders.append(("minutes", seed_minutes))
    failed = []
    for name, seeder in seeders:
        try:
            await seeder(settings=settings, database=database, client=client)
        except Exception:  # one domain's demo must not stop the others
            log.exception("demo data for %s failed", name)
            failed.append(name)
    return failed
