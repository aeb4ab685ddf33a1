"""The demo seeder creates documents in every state through the services and starts their workflows."""

from __future__ import annotations

from sqlalchemy import select

from demo.incoming import seed_demo
from services.incoming.models import IncomingDocument
from tests.incoming.conftest import pydantic_client, terminate_incoming, worker_for


async def test_demo_documents_cover_every_state_and_seeding_twice_is_harmless(temporal_env, demo_db_sqlite, settings) -> None:
    client = pydantic_client(temporal_env)
    await terminate_incoming(client)
    with temporal_env.with_time_skipping_disabled():
        async with worker_for(client, settings, demo_db_sqlite):
            await seed_demo(settings=settings, database=demo_db_sqlite, client=client)
            await seed_demo(settings=settings, database=demo_db_sqlite, client=client)
    async with demo_db_sqlite.session() as session:
        statuses = sorted((await session.scalars(select(IncomingDocument.status))).all())
    assert statuses == sorted(["awaiting_direction", "in_progress", "directed", "done", "arrived", "arrived", "directed"])
    await terminate_incoming(client)
