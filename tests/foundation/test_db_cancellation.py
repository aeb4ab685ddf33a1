"""A task cancelled in the middle of a transaction (worker shutdown, an activity's timeout, a
client that went away) must not leave SQLite's write lock held: before the fix about one
cancellation in ten left a "zombie" connection holding the lock until garbage collection, and
every later writer waited for it (the busy timeout is minutes long)."""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import text

from services.db import Database
from tests.helpers import sqlite_write_lock_is_free


async def test_cancelled_transactions_release_the_sqlite_write_lock(tmp_path) -> None:
    path = str(tmp_path / "cancel.db")
    database = Database(f"sqlite+aiosqlite:///{path}")
    async with database.session() as session:
        await session.execute(text("CREATE TABLE t (x INTEGER)"))
        for i in range(200):
            await session.execute(text("INSERT INTO t VALUES (:x)"), {"x": i})

    async def busy() -> None:
        async with database.session() as session:
            for i in range(50):
                (await session.execute(text("SELECT x FROM t WHERE x > :v"), {"v": i})).fetchall()
                await session.execute(text("INSERT INTO t VALUES (:x)"), {"x": i})

    chance = random.Random(20261129)
    try:
        for trial in range(150):
            task = asyncio.create_task(busy())
            await asyncio.sleep(chance.random() * 0.03)  # cancel at a different point each time
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert sqlite_write_lock_is_free(path, timeout=2), f"cancelled transaction {trial + 1} kept the write lock"
        async with database.session() as session:  # and the pool still works
            assert await session.scalar(text("SELECT count(*) FROM t")) >= 200
    finally:
        await database.dispose()
