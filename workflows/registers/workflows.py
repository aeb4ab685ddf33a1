"""One short workflow per register print (`register-print-<id>`), started through the outbox when
a clerk asks for the print: one activity prints the book (heartbeating, so a lost worker's print
starts over on another in seconds), and when every attempt failed a second one tells the page.
It ends with the print."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import retry
from workflows.heartbeat import HEARTBEAT

with workflow.unsafe.imports_passed_through():
    from workflows.registers.activities import RegisterPrintActivities

# A year of 19,000 rows takes about a minute and a half; this bounds a stuck office, not a book.
PRINT_TIMEOUT = timedelta(hours=1)
SHORT = timedelta(seconds=60)


class PrintInput(BaseModel):
    print_id: int


@workflow.defn
class RegisterPrintWorkflow:
    @workflow.run
    async def run(self, start: PrintInput) -> str:
        try:
            return await workflow.execute_activity_method(
                RegisterPrintActivities.run,
                start.print_id,
                start_to_close_timeout=PRINT_TIMEOUT,
                heartbeat_timeout=HEARTBEAT,
                retry_policy=retry.RENDER,
            )
        except ActivityError:
            await workflow.execute_activity_method(
                RegisterPrintActivities.give_up, start.print_id, start_to_close_timeout=SHORT, retry_policy=retry.DATABASE
            )
            return "failed"
