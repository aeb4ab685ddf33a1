"""The migrations create exactly the tables the models declare, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.migrations.models import metadata
from services.migrations.naming import include_object


async def test_models_and_migrations_agree(database) -> None:
    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"include_object": include_object, "compare_type": False})
        return compare_metadata(context, metadata)

    async with database.engine.connect() as connection:
        changes = await connection.run_sync(diff)
    assert changes == [], f"write a migration for: {changes}"
