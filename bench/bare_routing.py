"""The bare baseline of bench_routing: a workflow of the same shape as one incoming document's
route (register → direct → handle → close) with no web layer and no domain code.

Per document: one start activity (like signature validation), four updates (the user actions),
each running one activity that writes a row (the action's transaction), and per change the loop
runs a snapshot read and a notification write (like `snapshot` and `notify_step`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1), maximum_attempts=0)
STEPS = ("register", "direct", "handle", "close")


@dataclass
class Step:
    doc: int
    step: str


class BareActivities:
    def __init__(self, database) -> None:
        self.database = database

    async def _write(self, table: str, doc: int, step: str) -> None:
        from sqlalchemy import text

        async with self.database.session() as session:
            await session.execute(text(f"INSERT INTO {table} (doc, step) VALUES (:d, :s)"), {"d": doc, "s": step})

    @activity.defn(name="bare_validate")
    async def validate(self, doc: int) -> None:
        await self._write("bare_events", doc, "validated")

    @activity.defn(name="bare_action")
    async def action(self, data: Step) -> int:
        await self._write("bare_events", data.doc, data.step)
        return STEPS.index(data.step) + 1

    @activity.defn(name="bare_snapshot")
    async def snapshot(self, doc: int) -> int:
        from sqlalchemy import text

        async with self.database.read() as session:
            return int(
                await session.scalar(text("SELECT count(*) FROM bare_events WHERE doc = :d AND step != 'validated'"), {"d": doc}) or 0
            )

    @activity.defn(name="bare_notify")
    async def notify(self, data: Step) -> None:
        await self._write("bare_notes", data.doc, data.step)


async def create_tables(database) -> None:
    from sqlalchemy import text

    async with database.session() as session:
        for table in ("bare_events", "bare_notes"):
            await session.execute(text(f"DROP TABLE IF EXISTS {table}"))
            await session.execute(
                text(
                    f"CREATE TABLE {table} (id INTEGER PRIMARY KEY {'AUTOINCREMENT' if database.is_sqlite else 'GENERATED ALWAYS AS IDENTITY'},"
                    " doc INTEGER NOT NULL, step VARCHAR(16) NOT NULL)"
                )
            )


@workflow.defn(name="BareRouting")
class BareRouting:
    def __init__(self) -> None:
        self._changes = 0
        self._processed = 0

    @workflow.run
    async def run(self, doc: int) -> str:
        await workflow.execute_activity("bare_validate", doc, start_to_close_timeout=timedelta(seconds=60), retry_policy=RETRY)
        while True:
            seen = self._changes
            done = await workflow.execute_activity(
                "bare_snapshot", doc, result_type=int, start_to_close_timeout=timedelta(seconds=60), retry_policy=RETRY
            )
            if done > self._processed:
                await workflow.execute_activity(
                    "bare_notify", Step(doc=doc, step=STEPS[done - 1]), start_to_close_timeout=timedelta(seconds=60), retry_policy=RETRY
                )
                self._processed = done
            if done >= len(STEPS):
                await workflow.wait_condition(workflow.all_handlers_finished)
                return "done"
            await workflow.wait_condition(lambda: self._changes != seen)

    @workflow.update
    async def act(self, step: str) -> int:
        doc = int(workflow.info().workflow_id.rsplit("-", 1)[1])
        count = await workflow.execute_activity(
            "bare_action", Step(doc=doc, step=step), result_type=int, start_to_close_timeout=timedelta(seconds=60), retry_policy=RETRY
        )
        self._changes += 1
        return count
